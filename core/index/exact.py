"""Exact k-nearest-neighbour search with faiss, in blocks so memory stays bounded.

Conventions (faiss contrib style): inputs are float32 ``(n, d)``; results are
``D, I`` of shape ``(nq, k)``. For ``cosine`` and ``ip`` the score is the inner
product (larger is closer; cosine expects unit vectors); for ``l2`` it is the
*squared* Euclidean distance (smaller is closer), as faiss returns it.
"""

from __future__ import annotations

import contextlib

import faiss
import numpy as np

from core.progress import ProgressFn, report


@contextlib.contextmanager
def faiss_threads(n: int):
    """Run a block with faiss limited to ``n`` OpenMP threads, restoring the old count."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def faiss_metric(metric: str) -> int:
    return faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT


def higher_is_closer(metric: str) -> bool:
    return metric != "l2"


def flat_index(xb: np.ndarray, metric: str) -> faiss.Index:
    index = faiss.IndexFlatL2(xb.shape[1]) if metric == "l2" else faiss.IndexFlatIP(xb.shape[1])
    index.add(np.ascontiguousarray(xb, dtype=np.float32))
    return index


def check_k(k: int, n: int, what: str = "k") -> None:
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{what} must be a positive integer, got {k!r}")
    if k > n:
        raise ValueError(f"{what}={k} is larger than the number of base vectors ({n}); choose {what} <= {n}")


def exact_search(
    xb: np.ndarray,
    xq: np.ndarray,
    k: int,
    metric: str = "cosine",
    *,
    block: int = 4096,
    progress: ProgressFn | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k of each query row in ``xq`` among the rows of ``xb``.

    Returns ``D`` float32 ``(nq, k)`` and ``I`` int64 ``(nq, k)``, best first.
    """

    xb = np.ascontiguousarray(xb, dtype=np.float32)
    xq = np.ascontiguousarray(xq, dtype=np.float32)
    if xq.ndim != 2 or xb.ndim != 2:
        raise ValueError("base and queries must be 2-D arrays")
    if xq.shape[1] != xb.shape[1]:
        raise ValueError(f"queries have {xq.shape[1]} dims but the base has {xb.shape[1]}")
    check_k(k, xb.shape[0])
    index = flat_index(xb, metric)
    nq = xq.shape[0]
    D = np.empty((nq, k), dtype=np.float32)
    I = np.empty((nq, k), dtype=np.int64)
    for start in range(0, nq, block):
        stop = min(nq, start + block)
        D[start:stop], I[start:stop] = index.search(xq[start:stop], k)
        report(progress, stop, nq, "exact search")
    return D, I


def knn_graph(
    xb: np.ndarray,
    k: int,
    metric: str = "cosine",
    *,
    block: int = 4096,
    progress: ProgressFn | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact kNN graph of the base excluding each point itself.

    Returns ``D, I`` of shape ``(n, k)``. A point's own row is removed by id,
    not by position, so exact duplicates (distance 0 to another point) are kept
    as neighbours, which is what ID estimators must see.
    """
    n = xb.shape[0]
    check_k(k, n - 1, "k (neighbours per point, excluding the point itself)")
    D, I = exact_search(xb, xb, k + 1, metric, block=block, progress=progress)
    own = I == np.arange(n)[:, None]
    # rows where the point itself was not returned (ties among duplicates): drop the last column
    missing = ~own.any(axis=1)
    own[missing, -1] = True
    keep = ~own
    return D[keep].reshape(n, k), I[keep].reshape(n, k)


def to_distances(D: np.ndarray, metric: str) -> np.ndarray:
    """Convert faiss scores to non-negative Euclidean distances.

    For ``l2`` faiss returns squared distances; for unit vectors under
    ``cosine``, ``||a-b||^2 = 2 - 2 a.b``. For raw ``ip`` there is no distance;
    scores are converted as for cosine, which is exact when vectors are unit norm.
    """
    if metric == "l2":
        return np.sqrt(np.maximum(D, 0.0))
    return np.sqrt(np.maximum(2.0 - 2.0 * D, 0.0))
