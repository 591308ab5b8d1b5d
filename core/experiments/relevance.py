"""Exact-search task quality of a workspace: MRR@10 and nDCG@10 against the dataset's qrels.

The reference point every compressed index is compared with on the Compression page: how well
*exact* search over these embeddings answers the dataset's queries. Reuses the workspace's cached
ground truth (the exact top-10 of the eval queries), so it costs nothing after a sweep.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.builtin import relevance_task
from core.index.metrics import mrr_at_k, ndcg_at_k
from core.progress import ProgressFn
from core.workspace import relevant_positions

K = 10
#: Fewer queries than this and the page says the sample is small.
SMALL_SAMPLE = 30


@dataclass(frozen=True)
class RelevanceResult:
    """Exact-search MRR@10 / nDCG@10 of one workspace, and how many queries they average."""

    mrr_at_10: float
    ndcg_at_10: float
    success_at_10: float  # share of judged queries with a relevant item in the exact top 10
    n_queries: int
    task: str  # one sentence: what the task measures

    @property
    def small_sample(self) -> bool:
        return self.n_queries < SMALL_SAMPLE

    def sentence(self) -> str:
        note = ""
        if self.small_sample:
            note = f" (only {self.n_queries} queries: a small sample, read the numbers loosely)"
        return (f"Exact search over these embeddings: MRR@10 {self.mrr_at_10:.3f}, nDCG@10 {self.ndcg_at_10:.3f}; "
                f"{self.success_at_10:.1%} of {self.n_queries:,} queries find a relevant item in their top 10{note}.")


def exact_relevance(ws, progress: ProgressFn | None = None) -> RelevanceResult | None:
    """MRR@10 / nDCG@10 of exact search on the workspace's embeddings; ``None`` without qrels."""
    if not ws.dataset.has_qrels:
        return None
    ev = ws.eval_set(progress=progress)
    if ev.qrels is None:
        return None
    _, I = ws.ground_truth(ev, min(K, ev.xb.shape[0]), progress=progress)
    judged = [i for i, rel in enumerate(ev.qrels) if len(rel)]
    if not judged:
        return None
    I, qrels = I[judged], [ev.qrels[i] for i in judged]
    hits = [bool(np.isin(row, relevant_positions(rel)).any()) for row, rel in zip(I, qrels, strict=True)]
    return RelevanceResult(
        mrr_at_10=mrr_at_k(I, qrels, K),
        ndcg_at_10=ndcg_at_k(I, qrels, K),
        success_at_10=float(np.mean(hits)),
        n_queries=len(judged),
        task=relevance_task(ws.dataset),
    )
