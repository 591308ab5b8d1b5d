"""The `synthetic` dataset: points on a random linear subspace of known intrinsic dimension, in clusters."""

from __future__ import annotations

import math

import numpy as np

from core.data.dataset import Dataset
from core.data.params import check_int, check_seed

# --------------------------------------------------------------------------- #
# synthetic
# --------------------------------------------------------------------------- #

#: Largest synthetic matrix built, in float32 values (1 GiB).
_SYNTHETIC_MAX_VALUES = 2**28
#: Distance of cluster centres from the origin, in units of the within-cluster std.
_CLUSTER_SPREAD = 5.0


def _check_synthetic(n: int, dim: int, intrinsic_dim: int, noise: float, n_clusters: int, seed: int) -> None:
    """ValueError naming the first bad synthetic parameter."""
    check_int("n", n, 2)
    check_int("dim", dim, 1)
    check_int("intrinsic_dim", intrinsic_dim, 1, dim)
    check_int("n_clusters", n_clusters, 0, n)
    check_seed(seed)
    if (
        isinstance(noise, bool)
        or not isinstance(noise, (int, float, np.floating))
        or not (math.isfinite(noise) and noise >= 0)
    ):
        raise ValueError(f"noise must be a finite number >= 0 (the std of added Gaussian noise), got {noise!r}")
    if n * dim > _SYNTHETIC_MAX_VALUES:
        raise ValueError(
            f"n * dim = {n * dim:,} values ({n * dim * 4 / 2**30:.1f} GiB) is over the "
            f"{_SYNTHETIC_MAX_VALUES * 4 / 2**30:.0f} GiB limit; lower n or dim"
        )


def subspace_points(
    n: int,
    dim: int,
    intrinsic_dim: int,
    *,
    noise: float = 0.0,
    n_clusters: int = 0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Points on a random ``intrinsic_dim``-dimensional linear subspace of R^dim.

    Coefficients are standard normal (or, with ``n_clusters > 0``, a Gaussian
    mixture: unit-variance clusters around centres at distance ~5 from the
    origin, clusters assigned round-robin then shuffled), multiplied by an
    orthonormal basis (QR of a Gaussian ``(dim, intrinsic_dim)`` matrix), plus
    isotropic Gaussian noise of std ``noise`` in all ``dim`` directions.

    Returns:
        ``X`` float32 ``(n, dim)`` and cluster ids int ``(n,)`` (``None`` without clusters).
        With ``noise=0`` the centred ``X`` has rank exactly ``intrinsic_dim``
        (when ``n > intrinsic_dim``).
    """
    _check_synthetic(n, dim, intrinsic_dim, noise, n_clusters, seed)
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((dim, intrinsic_dim)))
    coefficients = rng.standard_normal((n, intrinsic_dim))
    clusters = None
    if n_clusters > 0:
        centres = rng.standard_normal((n_clusters, intrinsic_dim))
        centres *= _CLUSTER_SPREAD / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
        clusters = rng.permutation(np.arange(n) % n_clusters)
        coefficients += centres[clusters]
    x = coefficients.astype(np.float32) @ basis.T.astype(np.float32)  # float32 throughout: n * dim can be large
    if noise > 0:
        x += np.float32(noise) * rng.standard_normal((n, dim), dtype=np.float32)
    return x, clusters


def build_synthetic(*, n: int, dim: int, intrinsic_dim: int, noise: float, n_clusters: int, seed: int) -> Dataset:
    x, clusters = subspace_points(n, dim, intrinsic_dim, noise=noise, n_clusters=n_clusters, seed=seed)
    width = len(str(n - 1))
    params = dict(n=n, dim=dim, intrinsic_dim=intrinsic_dim, noise=noise, n_clusters=n_clusters, seed=seed)
    shape = f"points in {n_clusters} Gaussian clusters on" if n_clusters else "Gaussian points on"
    return Dataset(
        name="synthetic",
        ids=[f"p{i:0{width}d}" for i in range(n)],
        vectors=x,
        labels=None if clusters is None else [f"cluster-{c}" for c in clusters],
        metric="l2",
        params=params,
        description=(
            f"{n:,} {shape} a random {intrinsic_dim}-dimensional subspace of R^{dim}"
            + (f" plus Gaussian noise (std {noise:g})" if noise else "")
            + f": intrinsic dimension {intrinsic_dim}"
        ),
    )
