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


@dataclass(frozen=True)
class GivenNeighbors:
    """A benchmark file's ground-truth neighbours checked against exact search on the same vectors.

    ``agreement`` is the mean over queries of ``|file's top-k ∩ exact top-k| / k`` (1.0: they agree).
    """

    agreement: float
    k: int
    n_queries: int
    n_differ: int  # queries whose top-k sets differ

    def sentence(self) -> str:
        head = (f"The file lists each query's true nearest neighbours: ground truth for recall, not relevance "
                f"judgments, so nDCG@10 and MRR@10 are not computed (every neighbour would count as relevant). "
                f"Recall is measured against exact search on these vectors; the file's top-{self.k} ")
        if self.n_differ == 0:
            return head + f"agree with it for all {self.n_queries:,} queries."
        return head + (f"differ from it for {self.n_differ:,} of {self.n_queries:,} queries (mean overlap "
                       f"{self.agreement:.3f}): the file was made with another metric, other vectors, or "
                       "an approximate search.")


def given_neighbors_check(ws, k: int = K, progress: ProgressFn | None = None) -> GivenNeighbors | None:
    """`GivenNeighbors` of a workspace whose file brought its own neighbours, else ``None``."""
    if not ws.dataset.qrels_are_neighbors:
        return None
    ev = ws.eval_set(progress=progress)
    if not ev.given_neighbors:
        return None
    k = int(min(k, ev.xb.shape[0], min((len(g) for g in ev.given_neighbors), default=0)))
    if k < 1:
        return None
    _, I = ws.ground_truth(ev, k, progress=progress)
    overlap = np.array([len(set(g[:k].tolist()) & set(row[:k].tolist())) / k
                        for g, row in zip(ev.given_neighbors, I, strict=True)])
    return GivenNeighbors(float(overlap.mean()), k, len(overlap), int((overlap < 1.0).sum()))
