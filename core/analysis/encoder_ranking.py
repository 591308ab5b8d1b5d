"""Does approximate search change which encoder wins? (Elliott & Clark 2024: evaluating embedding models
with HNSW instead of exact search moved a model up to three places in a benchmark ranking.)

Array-level pieces, faiss contrib style:

* `evaluate_space` -- one space's task quality (nDCG@10, MRR@10 on graded qrels, `core.index.metrics`) with
  exact search and with HNSW (built single-threaded in the items' order, so it is deterministic) at each
  efSearch, plus each HNSW setting's recall@k against exact search on the same vectors.
* `competition_ranks` -- 1 = best score; equal scores share a rank ("1224"), NaN ranks last.
* `kendall_tau_b` -- Kendall's τ-b between two score lists (ties counted as in scipy's default).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from core.analysis.insertion_order import BACKENDS, build_hnsw, recall_at_k
from core.index.exact import exact_search
from core.index.metrics import mrr_at_k, ndcg_at_k

#: The vector-database defaults Elliott & Clark used (medians of popular databases' settings).
PAPER_M, PAPER_EF_CONSTRUCTION, PAPER_EF_SEARCH = 16, 128, (10, 40)
EXACT = "exact"


def setting_label(backend: str, ef_search: int | None) -> str:
    """``"exact"`` or ``"faiss ef=10"``: how one search setting is named in rows and charts."""
    return EXACT if ef_search is None else f"{backend} ef={int(ef_search)}"


def _quality(I: np.ndarray, qrels: Sequence[dict]) -> dict:
    return {"ndcg_at_10": ndcg_at_k(I, qrels, 10), "mrr_at_10": mrr_at_k(I, qrels, 10)}


def evaluate_space(
    xb: np.ndarray,
    xq: np.ndarray,
    qrels: Sequence[dict],
    *,
    metric: str = "cosine",
    backends: Sequence[str] = ("faiss",),
    M: int = PAPER_M,
    ef_construction: int = PAPER_EF_CONSTRUCTION,
    ef_search: Sequence[int] = PAPER_EF_SEARCH,
    k: int = 10,
) -> Iterator[dict]:
    """Rows for one space: exact search first, then each backend at each efSearch.

    ``xb`` ``(n, d)`` and ``xq`` ``(nq, d)`` float32; ``qrels`` one ``{base position: grade}`` per query.
    Row keys: ``search``, ``backend``, ``ef_search`` (None for exact), ``ndcg_at_10``, ``mrr_at_10``,
    ``recall_at_k`` (against exact search), ``build_s``.
    """
    if len(qrels) != xq.shape[0]:
        raise ValueError(f"{len(qrels)} query judgments for {xq.shape[0]} queries")
    k = min(int(k), xb.shape[0])
    _, gt_I = exact_search(xb, xq, k, metric)
    yield {"search": EXACT, "backend": EXACT, "ef_search": None, **_quality(gt_I, qrels), "recall_at_k": 1.0,
           "build_s": 0.0}
    for backend in backends:
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
        build = build_hnsw(xb, np.arange(xb.shape[0]), backend, metric=metric, M=M, ef_construction=ef_construction)
        for ef in ef_search:
            _, I = build.search(xq, k, int(ef))
            yield {"search": setting_label(backend, ef), "backend": backend, "ef_search": int(ef),
                   **_quality(I, qrels), "recall_at_k": float(recall_at_k(I, gt_I, k).mean()),
                   "build_s": build.build_s}


def competition_ranks(scores: Sequence[float]) -> np.ndarray:
    """Rank of each score, 1 = highest; equal scores share the best rank of their group; NaN ranks last."""
    s = np.asarray(scores, dtype=np.float64)
    key = np.where(np.isnan(s), -np.inf, s)
    return np.array([1 + int((key > v).sum()) for v in key], dtype=np.int64)


def kendall_tau_b(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's τ-b of two paired score lists: (concordant − discordant) / sqrt((n0 − t_a)(n0 − t_b)),
    with n0 the number of pairs and t_a, t_b the pairs tied in a, in b. NaN when either is all ties."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"Kendall's tau needs two lists of the same length, got {a.shape} and {b.shape}")
    i, j = np.triu_indices(a.size, k=1)
    da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
    concordant_minus_discordant = float((da * db).sum())
    untied_a, untied_b = float((da != 0).sum()), float((db != 0).sum())
    if untied_a == 0 or untied_b == 0:
        return float("nan")
    return concordant_minus_discordant / float(np.sqrt(untied_a * untied_b))
