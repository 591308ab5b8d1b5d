"""Per-query drill-down shared by the Compression and Order pages: a mean hides its queries.

`Drilldown` is one configuration's recall query by query, with its worst queries described (text,
local intrinsic dimension, what was missed); `query_texts` and `eval_query_lid` describe the queries
of a workspace's evaluation split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.store.artifacts import artifact_key

#: Queries listed in a drill-down's worst-queries table.
WORST_SHOWN = 10


@dataclass
class Drilldown:
    """One configuration of a saved sweep, query by query.

    Attributes:
        recall: ``(nq,)`` recall@k of each query (by id, the row's definition); its mean is the row's.
        recall_ties: ``(nq,)`` tie-aware recall (by distance), or ``None`` where not measured.
        worst: the lowest-recall queries: ``query``, ``text``, ``lid``, ``recall``, ``missed`` (exact
            neighbours the method did not return), ``returned_instead``.
        k, label, query_ids: the row's k and label, and every query's id in order.
    """

    recall: np.ndarray
    recall_ties: np.ndarray | None
    worst: pd.DataFrame
    k: int
    label: str
    query_ids: list[str]

    @property
    def mean(self) -> float:
        return float(self.recall.mean())

    @property
    def share_below_half(self) -> float:
        return float((self.recall < 0.5).mean())

    def sentence(self) -> str:
        small = (f" Only {self.recall.size} queries: a small sample, read the shape loosely."
                 if self.recall.size < 30 else "")
        return (f"{self.label}: mean recall@{self.k} {self.mean:.3f} over {self.recall.size:,} queries; "
                f"{self.share_below_half:.1%} of them find fewer than half of their exact top-{self.k}, "
                f"{(self.recall == 1).mean():.1%} find all.{small}")


def eval_query_lid(ws, ev) -> np.ndarray:
    """LID of each eval query against the eval base (MLE, 20 neighbours), cached."""
    from core.analysis.insertion_order import query_lid

    key = artifact_key("eval-query-lid", ws.embeddings_key, ev.key, 20)
    hit = ws.cache.load("query-lid", key)
    if hit is not None:
        return hit[0]
    lid = query_lid(ev.xb, ev.xq, metric=ws.metric, k=min(20, ev.xb.shape[0] - 1))
    ws.cache.save("query-lid", key, lid)
    return lid


def query_texts(ws, ev) -> list[str]:
    ds = ws.dataset
    if ev.query_rows is not None:  # held-out items
        return [ds.display_text(int(r))[:200] for r in ev.query_rows]
    q = ds.queries
    if q is not None and q.texts is not None:
        text_of = dict(zip(q.ids, q.texts, strict=True))
        return [text_of.get(i, "")[:200] for i in ev.query_ids]
    return ["" for _ in ev.query_ids]
