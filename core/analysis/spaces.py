"""Two embedding spaces of the same items held against each other (Convergent Learning; DefSent+).

Pure functions over arrays, faiss contrib style: ``X`` float32 ``(n, d_a)`` and ``Y`` float32
``(n, d_b)`` hold the *same items in the same order*; kNN graphs are ``I`` ``(n, k)`` with the point
itself excluded and ``-1`` for a missing neighbour.

* `neighbour_agreement` -- per item, the overlap ``|A ∩ B| / k`` of its k nearest neighbours in the
  two spaces; ``k / (n - 1)`` is what two unrelated spaces agree by chance.
* `linear_cka` -- linear centred kernel alignment (Kornblith et al. 2019), computed in feature space
  (``d_a x d_b`` cross-covariance) so no ``n x n`` matrix is formed.
* `similarity_spearman` -- Spearman correlation of the pairwise similarities on sampled pairs.
* `space_geometry` -- anisotropy (mean pairwise cosine, variance share of the top principal
  components), the isotropy score of Mu & Viswanath (2018): ``min_c Z(c) / max_c Z(c)`` with
  ``Z(c) = Σ_i exp(c · x_i)`` over the principal directions ``±c`` (1 = isotropic), hubness skewness
  of the k-occurrence, and global ID (TwoNN, PCA at 99 % of the variance).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from core.analysis.intrinsic import PCAID, TwoNN
from core.analysis.neighbourhoods import k_occurrence, skewness


def _check_pair(X: np.ndarray, Y: np.ndarray) -> None:
    if X.ndim != 2 or Y.ndim != 2:
        raise ValueError(f"both spaces must be 2-D arrays (items x dims), got {X.shape} and {Y.shape}")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"the two spaces must hold the same items: {X.shape[0]} rows against {Y.shape[0]}")
    if X.shape[0] < 3:
        raise ValueError(f"comparing two spaces needs at least 3 items, got {X.shape[0]}")


def neighbour_agreement(I_a: np.ndarray, I_b: np.ndarray, k: int | None = None) -> np.ndarray:
    """``(n,)`` share of each item's k nearest neighbours in space A that are also among them in B."""
    I_a, I_b = np.asarray(I_a), np.asarray(I_b)
    if I_a.shape[0] != I_b.shape[0]:
        raise ValueError(f"the two graphs must cover the same items, got {I_a.shape[0]} and {I_b.shape[0]} rows")
    k = min(I_a.shape[1], I_b.shape[1]) if k is None else k
    if not 1 <= k <= min(I_a.shape[1], I_b.shape[1]):
        raise ValueError(f"k must be between 1 and the graphs' width {min(I_a.shape[1], I_b.shape[1])}, got {k}")
    a, b = I_a[:, :k], I_b[:, :k]
    # (n, k, k) comparisons: each of A's neighbours found among B's; -1 (missing) never counts
    hit = ((a[:, :, None] == b[:, None, :]) & (a[:, :, None] >= 0)).any(axis=2)
    return hit.sum(axis=1) / k


def chance_agreement(n: int, k: int) -> float:
    """Expected `neighbour_agreement` of two unrelated spaces: k of the other ``n - 1`` items at random."""
    return k / (n - 1)


def linear_cka(X: np.ndarray, Y: np.ndarray) -> float:
    """Linear CKA of two representations of the same items (1 = the same up to rotation and scale).

    ``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` with column-centred ``Xc``, ``Yc``: only
    ``d x d`` products, computed in float64.
    """
    _check_pair(X, Y)
    Xc = np.asarray(X, dtype=np.float64)
    Yc = np.asarray(Y, dtype=np.float64)
    Xc = Xc - Xc.mean(axis=0)
    Yc = Yc - Yc.mean(axis=0)
    cross = np.linalg.norm(Yc.T @ Xc, "fro") ** 2
    denom = np.linalg.norm(Xc.T @ Xc, "fro") * np.linalg.norm(Yc.T @ Yc, "fro")
    return float(cross / denom) if denom > 0 else float("nan")


def pairwise_similarity(X: np.ndarray, i: np.ndarray, j: np.ndarray, metric: str) -> np.ndarray:
    """Similarity of the item pairs ``(i[t], j[t])``: inner product (cosine/ip) or minus squared L2."""
    a, b = X[i], X[j]
    if metric == "l2":
        return -((a - b) ** 2).sum(axis=1)
    return (a * b).sum(axis=1)


def similarity_spearman(X: np.ndarray, Y: np.ndarray, *, metric: str = "cosine", n_pairs: int = 20_000,
                        seed: int = 0) -> tuple[float, int]:
    """Spearman correlation of pairwise similarities in the two spaces on a seeded sample of pairs.

    Returns ``(rho, pairs)``; pairs of an item with itself are not drawn.
    """
    from scipy.stats import spearmanr

    _check_pair(X, Y)
    n = X.shape[0]
    rng = np.random.default_rng(seed)
    i = rng.integers(0, n, size=n_pairs)
    j = (i + rng.integers(1, n, size=n_pairs)) % n  # never i itself
    rho = spearmanr(pairwise_similarity(X, i, j, metric), pairwise_similarity(Y, i, j, metric)).statistic
    return float(rho), int(n_pairs)


@dataclass(frozen=True)
class Geometry:
    """How one space fills its dimensions (see the module docstring)."""

    dim: int
    mean_cosine: float
    top1_variance: float
    top10_variance: float
    isotropy: float
    hubness_skew: float
    twonn_id: float
    pca99_id: int

    def as_dict(self) -> dict:
        return asdict(self)


def mean_pairwise_cosine(X: np.ndarray) -> float:
    """Mean cosine over all pairs ``i != j``, exactly, from the sum of the unit vectors (no n x n)."""
    U = np.asarray(X, dtype=np.float64)
    norms = np.linalg.norm(U, axis=1, keepdims=True)
    U = U / np.where(norms > 0, norms, 1.0)
    n = U.shape[0]
    s = U.sum(axis=0)
    return float((s @ s - (U * U).sum()) / (n * (n - 1)))


def isotropy_score(X: np.ndarray) -> float:
    """Mu & Viswanath's partition-function ratio ``min_c Z(c) / max_c Z(c)`` over the principal
    directions ``c`` of the (uncentred) space; 1 means the vectors spread evenly in every direction.

    An eigenvector's sign is arbitrary and ``Z(c) != Z(-c)``, so both signs are taken: the score is
    then a property of the space, the same after any rotation.
    """
    Xd = np.asarray(X, dtype=np.float64)
    _, vecs = np.linalg.eigh(Xd.T @ Xd)
    proj = Xd @ vecs  # (n, d): c · x for each direction c
    proj = np.concatenate([proj, -proj], axis=1)
    top = proj.max(axis=0)
    log_z = np.log(np.exp(proj - top).sum(axis=0)) + top  # log Z(c), stable
    return float(math.exp(log_z.min() - log_z.max()))


def space_geometry(X: np.ndarray, I: np.ndarray, *, k: int = 10) -> Geometry:
    """The geometry of one space, with its kNN graph ``I`` (self excluded) for hubness."""
    Xd = np.asarray(X, dtype=np.float64)
    centred = Xd - Xd.mean(axis=0)
    var = np.linalg.svd(centred, compute_uv=False) ** 2
    share = var / var.sum() if var.sum() > 0 else np.zeros_like(var)
    n = X.shape[0]
    occ = k_occurrence(np.asarray(I)[:, :k], n=n, k=k)
    twonn = TwoNN().fit(np.asarray(X, dtype=np.float32)).dimension_ if n >= 10 else float("nan")
    return Geometry(
        dim=int(X.shape[1]),
        mean_cosine=mean_pairwise_cosine(X),
        top1_variance=float(share[:1].sum()),
        top10_variance=float(share[:10].sum()),
        isotropy=isotropy_score(X),
        hubness_skew=float(skewness(occ)),
        twonn_id=float(twonn),
        pca99_id=int(PCAID(threshold=0.99).fit(np.asarray(X, dtype=np.float32)).dimension_),
    )


def random_rotation(d: int, seed: int = 0) -> np.ndarray:
    """A seeded random orthogonal ``(d, d)`` matrix (QR of a Gaussian matrix, signs fixed)."""
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return (q * np.sign(np.diag(r))).astype(np.float32)
