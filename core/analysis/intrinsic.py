"""Intrinsic dimension (ID) estimators in scikit-learn / scikit-dimension style.

Each estimator's ``__init__`` only stores its arguments; ``fit`` validates the
input and returns ``self``; results end in ``_``: ``dimension_`` (one number for
the data set) and, for the pointwise estimators, ``dimension_pw_`` (one number
per point).

The kNN-based estimators (`LocalMLE`, `LevinaBickelMLE`, `TwoNN`) accept either
the vectors ``X`` (float ``(n, d)``; Euclidean neighbours are computed with
`core.index.exact.knn_graph`) or precomputed ``knn_distances``: Euclidean (not squared)
distances ``(n, >= k)``, sorted ascending, the point itself excluded, e.g.
``D, _ = knn_graph(X, 100, metric); R = to_distances(D, metric)``. Extra columns
are ignored, so one cached 100-NN graph serves every estimator.

Duplicates. Real corpora repeat items (the same docstring in two modules), so a
point's neighbour list can start with distances of zero, and ``ln(r_i / r_k)``
is then minus infinity. Float32 arithmetic does not even return exact zeros: two
identical unit vectors in 384-d come back up to ~1e-3 apart. The rule used here:
a neighbour at distance ``<= duplicate_tol * r_max`` (``r_max`` = the farthest
distance in the point's list) is a duplicate and is dropped; the estimate uses
the remaining neighbours (``r_k`` stays the k-th distance). A point left with
fewer than two distinct distances (all its neighbours are duplicates, or all
are tied) has no estimate: its ``dimension_pw_`` is NaN, it is skipped by the
aggregate, and it is counted in ``n_degenerate_``. With the default
``duplicate_tol=1e-2`` a genuine neighbour is dropped only if it is 100 times
closer than the k-th one, which for true ID ``m`` happens to a fraction
``1e-2**m`` of neighbours (1e-4 for m = 2): negligible except on curves (m = 1).
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from core.index.exact import check_k, knn_graph, to_distances

# ------------------------------------------------------------------ helpers


def _check_X(X, min_rows: int = 2) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (n points, d dims), got shape {X.shape}")
    if X.shape[0] < min_rows:
        raise ValueError(f"X has {X.shape[0]} points; at least {min_rows} are needed")
    if not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"X must hold numbers, got dtype {X.dtype}")
    X = np.ascontiguousarray(X, dtype=np.float32)
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinite values")
    return X


def _check_k_for_n(k: int, n: int) -> None:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if k >= n:
        raise ValueError(
            f"k={k} neighbours needs at least {k + 1} points (each point's neighbours exclude "
            f"itself), but there are {n}; choose k <= {n - 1}"
        )


def _check_tol(duplicate_tol: float) -> None:
    if not 0.0 <= duplicate_tol < 1.0:
        raise ValueError(f"duplicate_tol must be in [0, 1), got {duplicate_tol!r}")


def _neighbour_distances(X, knn_distances, k: int, min_k: int = 1) -> np.ndarray:
    """Validated Euclidean distances ``(n, k)`` from ``knn_distances`` or, if absent, from ``X``."""

    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < min_k:
        raise ValueError(f"k must be an integer >= {min_k}, got {k!r}")
    if knn_distances is None:
        if X is None:
            raise ValueError("give X (the vectors) or knn_distances (precomputed neighbour distances)")
        X = _check_X(X)
        _check_k_for_n(k, X.shape[0])
        D, _ = knn_graph(X, k, "l2")
        return to_distances(D, "l2").astype(np.float64)
    R = np.asarray(knn_distances, dtype=np.float64)
    if R.ndim != 2:
        raise ValueError(f"knn_distances must be 2-D (n points, k neighbours), got shape {R.shape}")
    if X is not None and np.asarray(X).shape[0] != R.shape[0]:
        raise ValueError(f"X has {np.asarray(X).shape[0]} points but knn_distances has {R.shape[0]} rows")
    if R.shape[1] < k:
        raise ValueError(
            f"knn_distances has {R.shape[1]} neighbours per point but k={k}; compute at least {k} neighbours or lower k"
        )
    R = R[:, :k]
    if not np.isfinite(R).all():
        raise ValueError("knn_distances contains NaN or infinite values")
    if (R < 0).any():
        raise ValueError("knn_distances must be distances (>= 0); convert similarity scores with to_distances")
    if (np.diff(R, axis=1) < -1e-6 * np.maximum(R[:, 1:], 1e-30)).any():
        raise ValueError("each row of knn_distances must be sorted ascending (nearest neighbour first)")
    return np.maximum.accumulate(R, axis=1)  # remove float jitter in the sort order


def _drop_duplicates(R: np.ndarray, duplicate_tol: float) -> np.ndarray:
    """Boolean mask ``(n, k)`` of the neighbours kept (not duplicates of the point)."""
    return R > duplicate_tol * R[:, -1:]


def mle_pointwise(
    knn_distances: np.ndarray, *, correction: int = 0, duplicate_tol: float = 1e-2
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise maximum-likelihood ID from each row's sorted neighbour distances.

    For a row ``r_1 <= ... <= r_k`` (duplicates dropped as in the module doc, leaving
    ``m`` distances, ``r_k`` the largest) returns ``(m - correction) / Σ_i ln(r_k / r_i)``.
    ``correction=0`` is the Amsaleg et al. (2015) form
    ``LID = -((1/m) Σ ln(r_i / r_k))^-1``; ``correction=1`` is Levina & Bickel's
    ``(m - 1)`` normalisation, which is what ``skdim.id.MLE`` computes.

    Returns ``lid`` float64 ``(n,)`` (NaN for degenerate rows) and ``m`` int ``(n,)``,
    the number of neighbours used per row.
    """
    R = np.asarray(knn_distances, dtype=np.float64)
    keep = _drop_duplicates(R, duplicate_tol)
    m = keep.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(keep, np.log(R[:, -1:] / np.where(keep, R, 1.0)), 0.0)
        total = logs.sum(axis=1)
        lid = (m - correction) / total
    degenerate = (m < 2) | ~(total > 0)
    lid[degenerate] = np.nan
    return lid, m


def _harmonic_mean(values: np.ndarray) -> float:
    ok = np.isfinite(values)
    return float(1.0 / np.mean(1.0 / values[ok])) if ok.any() else float("nan")


def _mean(values: np.ndarray) -> float:
    ok = np.isfinite(values)
    return float(np.mean(values[ok])) if ok.any() else float("nan")


# --------------------------------------------------------------- estimators


class LocalMLE:
    """Pointwise local intrinsic dimension (LID) by maximum likelihood.

    Amsaleg et al. (2015) form, as used by Elliott & Clark (2024) for insertion
    orders: with a point's ``k`` nearest-neighbour distances ``r_1 <= ... <= r_k``,
    ``LID = -((1/k) Σ_i ln(r_i / r_k))^-1`` (duplicates: see the module doc).
    This equals ``k / (k - 1)`` times ``skdim.id.MLE``'s pointwise value, which
    uses Levina & Bickel's ``k - 1`` normalisation.

    Parameters:
        k: neighbours per point (100 in Elliott & Clark).
        duplicate_tol: neighbours closer than ``duplicate_tol * r_k`` are duplicates.

    Attributes:
        dimension_pw_: float64 ``(n,)`` LID of each point, NaN where degenerate.
        dimension_: arithmetic mean of the finite ``dimension_pw_`` (the "average LID"
            reported in LID studies; `LevinaBickelMLE` gives the harmonic-mean global ID).
        n_neighbors_used_: int ``(n,)`` neighbours left after dropping duplicates.
        n_degenerate_: points without an estimate (all neighbours duplicates or tied).
    """

    def __init__(self, k: int = 100, duplicate_tol: float = 1e-2):
        self.k = k
        self.duplicate_tol = duplicate_tol

    _correction = 0

    def fit(self, X=None, y=None, *, knn_distances=None):
        """Fit on vectors ``X`` ``(n, d)`` or on ``knn_distances`` ``(n, >= k)``; returns self."""
        _check_tol(self.duplicate_tol)
        R = _neighbour_distances(X, knn_distances, self.k, min_k=2)
        self.dimension_pw_, self.n_neighbors_used_ = mle_pointwise(
            R, correction=self._correction, duplicate_tol=self.duplicate_tol
        )
        self.n_degenerate_ = int(np.isnan(self.dimension_pw_).sum())
        self.dimension_ = self._aggregate(self.dimension_pw_)
        return self

    @staticmethod
    def _aggregate(values: np.ndarray) -> float:
        return _mean(values)


class LevinaBickelMLE(LocalMLE):
    """Global ID by Levina & Bickel (2005) with the MacKay & Ghahramani correction.

    Each point gets ``m_k(x) = (k - 1) / Σ_{i<k} ln(r_k / r_i)`` (Levina & Bickel's
    normalisation, identical to ``skdim.id.MLE``'s pointwise value); the global
    estimate is the harmonic mean ``(mean_x 1 / m_k(x))^-1`` as MacKay & Ghahramani
    (2005) proposed, i.e. the maximum-likelihood estimate from all points' log
    distance ratios pooled (skdim's ``comb="mle"``). Duplicates: see the module doc.

    Parameters:
        k: neighbours per point (Levina & Bickel suggest 10–20).
        duplicate_tol: neighbours closer than ``duplicate_tol * r_k`` are duplicates.

    Attributes: ``dimension_``, ``dimension_pw_``, ``n_neighbors_used_``, ``n_degenerate_``.
    """

    def __init__(self, k: int = 20, duplicate_tol: float = 1e-2):
        super().__init__(k=k, duplicate_tol=duplicate_tol)

    _correction = 1

    @staticmethod
    def _aggregate(values: np.ndarray) -> float:
        return _harmonic_mean(values)


class TwoNN:
    """Global ID from the ratio of second to first neighbour distances (Facco et al. 2017).

    ``mu = r_2 / r_1`` follows a Pareto law ``F(mu) = 1 - mu^-d``; ``d`` is the slope of
    ``-ln(1 - F_emp(mu))`` against ``ln(mu)`` fitted through the origin, after
    discarding the largest ``discard_fraction`` of the ``mu`` (the paper's heuristic
    against noise and curvature). Same convention as ``skdim.id.TwoNN``
    (``F_emp(mu_(i)) = i / N``).

    Duplicates: distances ``<= duplicate_tol * r_max`` are dropped and the first two
    remaining distances of each row are used; rows with fewer than two are
    degenerate (counted in ``n_degenerate_``). When fitting on ``X``, enough
    neighbours are computed to step over the largest group of identical rows.

    Attributes:
        dimension_: the estimate.
        n_degenerate_: points without two distinct non-duplicate neighbours.
        log_mu_, log_survival_: the x and y of the fit, for a diagnostic plot.
    """

    def __init__(self, discard_fraction: float = 0.1, duplicate_tol: float = 1e-2):
        self.discard_fraction = discard_fraction
        self.duplicate_tol = duplicate_tol

    def fit(self, X=None, y=None, *, knn_distances=None):
        """Fit on vectors ``X`` ``(n, d)`` or on ``knn_distances`` ``(n, >= 2)``; returns self."""
        if not 0.0 <= self.discard_fraction < 1.0:
            raise ValueError(f"discard_fraction must be in [0, 1), got {self.discard_fraction!r}")
        _check_tol(self.duplicate_tol)
        if knn_distances is None:
            if X is None:
                raise ValueError("give X (the vectors) or knn_distances (precomputed neighbour distances)")
            X = _check_X(X, min_rows=3)
            _, counts = np.unique(X, axis=0, return_counts=True)
            k = min(X.shape[0] - 1, int(counts.max()) + 1)
            R = _neighbour_distances(X, None, max(k, 2))
        else:
            R = np.asarray(knn_distances)
            R = _neighbour_distances(None, R, R.shape[1] if R.ndim == 2 else 2, min_k=2)
        keep = _drop_duplicates(R, self.duplicate_tol)
        # first two kept distances of each row
        first = np.argmax(keep, axis=1)
        after_first = keep & (np.arange(R.shape[1]) > first[:, None])
        second = np.argmax(after_first, axis=1)
        ok = keep.any(axis=1) & after_first.any(axis=1)
        rows = np.arange(R.shape[0])
        mu = R[rows, second] / R[rows, first]
        mu = mu[ok]
        self.n_degenerate_ = int((~ok).sum())
        n_all = mu.size
        n_keep = int(n_all * (1.0 - self.discard_fraction))
        if n_keep < 2:
            raise ValueError(
                f"TwoNN needs at least 2 points with two distinct neighbours after discarding; "
                f"{n_all} of {R.shape[0]} points qualify"
            )
        mu = np.sort(mu)[:n_keep]
        x = np.log(mu)
        y = -np.log(1.0 - np.arange(1, n_keep + 1) / n_all)
        self.log_mu_, self.log_survival_ = x, y
        self.dimension_ = float(np.dot(x, y) / np.dot(x, x)) if np.dot(x, x) > 0 else float("nan")
        return self


class PCAID:
    """Global ID as the number of principal components explaining ``threshold`` of the variance.

    The reading Elliott & Clark use for their synthetic data (99%). Linear: a
    curved manifold needs more components than its intrinsic dimension.

    Attributes:
        dimension_: smallest ``m`` with cumulative explained-variance ratio ``>= threshold``
            (0 when all points coincide).
        explained_variance_ratio_: float64, one entry per component, descending.
    """

    def __init__(self, threshold: float = 0.99):
        self.threshold = threshold

    def fit(self, X, y=None):
        """Fit on vectors ``X`` ``(n, d)``; returns self."""
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold!r}")
        X = _check_X(X).astype(np.float64)
        Xc = X - X.mean(axis=0)
        # eigenvalues of the smaller Gram matrix: (d, d) covariance or (n, n) inner products
        G = Xc.T @ Xc if Xc.shape[1] <= Xc.shape[0] else Xc @ Xc.T
        total = np.trace(G)
        if total <= 0:
            self.explained_variance_ratio_ = np.zeros(G.shape[0])
            self.dimension_ = 0
            return self
        # one BLAS thread: the eigensolver does not gain from more, and on a busy 2-core
        # machine two OpenBLAS threads took 0.3-6 s here against 0.1 s for one (1024-d)
        with threadpool_limits(limits=1, user_api="blas"):
            eig = np.clip(np.linalg.eigvalsh(G / total)[::-1], 0.0, None)
        ratio = eig / eig.sum()
        self.explained_variance_ratio_ = ratio
        # the 1e-12 slack lets an exactly k-dimensional cloud read k despite rounding
        first = int(np.searchsorted(np.cumsum(ratio), self.threshold - 1e-12)) + 1
        self.dimension_ = min(first, ratio.size)
        return self


# ----------------------------------------------------------- synthetic data


def subspace_data(
    n: int, intrinsic_dim: int, dim: int = 1024, *, noise: float = 0.0, random_state: int | None = 0
) -> np.ndarray:
    """Points of known intrinsic dimension: float32 ``(n, dim)``.

    Coefficients ``N(0, 1)`` in ``intrinsic_dim`` dimensions times a random orthonormal
    basis of an ``intrinsic_dim``-dimensional subspace of ``R^dim`` (Elliott & Clark's
    construction), plus optional isotropic Gaussian ``noise`` (standard deviation).
    """
    if not 1 <= intrinsic_dim <= dim:
        raise ValueError(f"intrinsic_dim must be between 1 and dim={dim}, got {intrinsic_dim}")
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    rng = np.random.default_rng(random_state)
    basis, _ = np.linalg.qr(rng.standard_normal((dim, intrinsic_dim)))  # (dim, k), orthonormal columns
    X = rng.standard_normal((n, intrinsic_dim)) @ basis.T
    if noise > 0:
        X += noise * rng.standard_normal((n, dim))
    return X.astype(np.float32)


def calibration_table(
    ks: tuple[int, ...] = (4, 8, 16, 32),
    n: int = 4000,
    dim: int = 1024,
    seed: int = 0,
    *,
    lid_k: int = 100,
    levina_bickel_k: int = 20,
    pca_threshold: float = 0.99,
) -> list[dict]:
    """Each estimator on synthetic data of known ID: one row per true ID.

    Rows: ``true_dim``, ``local_mle`` (mean LID), ``levina_bickel``, ``twonn``, ``pca``, ``n``,
    ``dim``. One exact kNN graph per data set serves the three kNN estimators.
    MLE-type estimates fall below the truth as it grows (finite ``n``: neighbourhoods
    are not small relative to the Gaussian's scale) -- the panel shows how much.
    """
    check_k(lid_k, n - 1, "lid_k")
    rows = []
    for true_dim in ks:
        X = subspace_data(n, true_dim, dim, random_state=seed + true_dim)
        D, _ = knn_graph(X, max(lid_k, levina_bickel_k), "l2")
        R = to_distances(D, "l2")
        rows.append(
            {
                "true_dim": int(true_dim),
                "local_mle": LocalMLE(k=lid_k).fit(knn_distances=R).dimension_,
                "levina_bickel": LevinaBickelMLE(k=levina_bickel_k).fit(knn_distances=R).dimension_,
                "twonn": TwoNN().fit(knn_distances=R).dimension_,
                "pca": PCAID(threshold=pca_threshold).fit(X).dimension_,
                "n": n,
                "dim": dim,
            }
        )
    return rows
