"""Dimensionality reduction before indexing: PCA (LeanVec-ID), a query-aware projection (LeanVec-OOD),
truncation and Gaussian random projection, each with a flat/SQ8 index on the result.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

from core.index.exact import faiss_metric
from core.index.spec import BuildFn, Built, Params, train_add, training_sample

# ------------------------------------------------------- dimensionality reduction


def second_moment(x: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
    """``(x - mean)ᵀ (x - mean) / n`` as float64 ``(d, d)``."""
    xc = x if mean is None else x - mean
    return (xc.T @ xc).astype(np.float64) / x.shape[0]


def top_eigenvectors(K: np.ndarray, d_out: int) -> np.ndarray:
    """Eigenvectors of the largest ``d_out`` eigenvalues of symmetric ``K``: ``(d, d_out)``.

    On one BLAS thread: a d x d eigensolver gains little from threads, and on shared
    cores OpenBLAS's spinning threads made it 3-15x slower (0.2 s vs 0.6-3.8 s for
    11 solves at d=384).
    """
    with threadpool_limits(limits=1, user_api="blas"):
        _, V = np.linalg.eigh(K)
    return V[:, ::-1][:, :d_out]


def projection_mean(x: np.ndarray, metric: str) -> np.ndarray | None:
    """The base mean a projection is centered on: L2 only, since it is translation invariant.

    Inner products are not, so cosine and ip keep the uncentered second moment, as
    LeanVec does for inner-product search.
    """
    return x.mean(axis=0, dtype=np.float64).astype(np.float32) if metric == "l2" else None


def pca_projection(xb: np.ndarray, d_out: int, metric: str) -> tuple[np.ndarray, np.ndarray | None]:
    """LeanVec-ID: top ``d_out`` eigenvectors of the base second moment (centered for L2 only,
    see `projection_mean`). Returns ``P (d, d_out)`` and the mean (or ``None``)."""
    mean = projection_mean(xb, metric)
    return top_eigenvectors(second_moment(xb, mean), d_out), mean


def ood_loss(P: np.ndarray, Kq: np.ndarray, Kx: np.ndarray) -> float:
    """``E ||qᵀ (I - P Pᵀ) x||²`` over query/base pairs, from their second moments ``Kq``, ``Kx``."""
    M = np.eye(P.shape[0]) - P @ P.T
    return float(np.sum((M @ Kq @ M) * Kx))


def frobenius_unit(K: np.ndarray) -> np.ndarray:
    return K / np.linalg.norm(K)


def cross_validated_ood_loss(beta: float, Kx: np.ndarray, folds: list[np.ndarray], d_out: int) -> float:
    """OOD loss of the β-blend fitted on one half of the queries, measured on the other (both ways)."""
    total = 0.0
    for K_fit, K_held in zip(folds, folds[::-1], strict=True):
        P = top_eigenvectors((1 - beta) * Kx + beta * K_fit, d_out)
        total += ood_loss(P, K_held, Kx)
    return total


def leanvec_ood_projection(
    xb: np.ndarray,
    xq_train: np.ndarray,
    d_out: int,
    metric: str,
    betas: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Query-aware projection (LeanVec-OOD, eigenvector-search variant).

    ``P`` = top ``d_out`` eigenvectors of ``(1 - β) Kx/‖Kx‖ + β Kq/‖Kq‖`` where ``Kx``
    and ``Kq`` are the base and training-query second moments. ``β`` is picked on a
    grid by the closed-form out-of-distribution loss ``E ||qᵀ (I - P Pᵀ) x||²`` (the
    error in exactly the inner products the search computes), cross-validated on two
    halves of the query sample, so a small sample cannot pull the projection towards
    its own noise (without it, 50 in-distribution queries cost PCA 8 points of recall).

    We chose it over the Frank-Wolfe variant of the LeanVec paper (Tepper et al.,
    2024), which learns separate query and base matrices, because it has no step
    sizes or iteration counts to tune, is deterministic, stores one orthonormal
    matrix, and contains LeanVec-ID (β = 0) in its search. Its limit: a blend ranks
    directions by a weighted *sum* of query and base variance, while the loss
    rewards their *product*, so directions of moderate variance in both can be
    missed where Frank-Wolfe would find them.

    For L2 the moments are taken around the base mean (see `projection_mean`).
    Returns ``P (d, d_out)``, the centering mean (``None`` for inner products) and β.
    """
    mean = projection_mean(xb, metric)
    Kx, Kq = frobenius_unit(second_moment(xb, mean)), frobenius_unit(second_moment(xq_train, mean))
    if len(xq_train) >= 4:
        halves = np.array_split(np.random.default_rng(seed).permutation(len(xq_train)), 2)
        folds = [frobenius_unit(second_moment(xq_train[h], mean)) for h in halves]
    else:
        folds = [Kq, Kq]
    betas = np.linspace(0.0, 1.0, 11) if betas is None else betas
    with threadpool_limits(limits=1, user_api="blas"):  # d x d algebra: see top_eigenvectors
        beta = float(min(betas, key=lambda b: cross_validated_ood_loss(b, Kx, folds, d_out)))
        P = top_eigenvectors((1 - beta) * Kx + beta * Kq, d_out)
    return P, mean, beta


def gaussian_projection(d: int, d_out: int, seed: int) -> np.ndarray:
    """Seeded Gaussian random projection ``(d, d_out)`` scaled by ``1/sqrt(d_out)`` (Johnson-Lindenstrauss)."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((d, d_out)) / np.sqrt(d_out)).astype(np.float32)


def linear_transform(P: np.ndarray, mean: np.ndarray | None) -> faiss.LinearTransform:
    """faiss transform ``y = Pᵀ (x - mean)``; serialized with the index, so its bytes are counted."""
    d, d_out = P.shape
    lt = faiss.LinearTransform(d, d_out, True)
    A = np.ascontiguousarray(P.T, dtype=np.float32)
    b = np.zeros(d_out, dtype=np.float32) if mean is None else -(A @ mean).astype(np.float32)
    faiss.copy_array_to_vector(A.ravel(), lt.A)
    faiss.copy_array_to_vector(b, lt.b)
    lt.is_trained = True
    return lt


CODECS = {"flat": "Flat", "sq8": "SQ8"}


def reduced_index(transforms: list, d_out: int, metric: str, codec: str) -> faiss.IndexPreTransform:
    """``IndexPreTransform(transforms..., codec index on d_out dims)``.

    For cosine the reduced vectors are re-normalised and compared by cosine, as
    Matryoshka truncation is. Measured against inner product and L2 in the reduced
    space, centered or not, this was the best or within 0.02 of the best recall on
    stdlib-docs MiniLM (d' 24-192) and GloVe-50d (d' 6-25); plain inner product
    (LeanVec's choice) lost up to half its recall on GloVe at d'=12.
    """
    index = faiss.IndexPreTransform(faiss.index_factory(d_out, CODECS[codec], faiss_metric(metric)))
    if metric == "cosine":
        index.prepend_transform(faiss.NormalizationTransform(d_out, 2.0))
    for vt in reversed(transforms):
        index.prepend_transform(vt)
    return index


def reduction_build(fit: Callable[..., tuple[list, str]]) -> BuildFn:
    """Build function: ``fit(xb, metric, params, seed=, xq_train=) -> (transforms, note)``,
    then index the reduced vectors with the chosen codec."""

    def build(xb: np.ndarray, metric: str, params: Params, *, seed: int = 0, xq_train=None) -> Built:
        t0 = time.perf_counter()
        sample, sample_note = training_sample(xb, seed)
        transforms, note = fit(sample, metric, params, seed=seed, xq_train=xq_train)
        index = reduced_index(transforms, int(params["d_out"]), metric, str(params["codec"]))
        fit_s = time.perf_counter() - t0
        train_s, build_s = train_add(index, xb, sample)
        note = "; ".join(s for s in (note, sample_note) if s)
        return Built(index=index, xb=xb, train_s=fit_s + train_s, build_s=build_s, note=note)

    return build


def fit_pca(xb, metric, params, **_):
    P, mean = pca_projection(xb, int(params["d_out"]), metric)
    return [linear_transform(P, mean)], ""


def fit_leanvec_ood(xb, metric, params, *, xq_train=None, seed=0, **_):
    if xq_train is None or len(xq_train) == 0:
        raise ValueError("leanvec_ood needs a sample of training queries (xq_train) to fit its projection")
    P, mean, beta = leanvec_ood_projection(xb, xq_train, int(params["d_out"]), metric, seed=seed)
    return [linear_transform(P, mean)], f"β={beta:.1f} fitted on {len(xq_train)} training queries"


def fit_truncate(xb, metric, params, **_):
    keep_first = faiss.RemapDimensionsTransform(xb.shape[1], int(params["d_out"]), False)
    return [keep_first], ""


def fit_random(xb, metric, params, *, seed=0, **_):
    P = gaussian_projection(xb.shape[1], int(params["d_out"]), seed)
    return [linear_transform(P, projection_mean(xb, metric))], f"seed={seed}"
