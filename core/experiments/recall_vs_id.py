"""Recall against intrinsic dimension (Elliott & Clark 2024): HNSW recall on synthetic points of a known
intrinsic dimension, swept over that dimension. Not tied to a workspace, so it is its own experiment (the
insertion-order study of a workspace is `core.experiments.insertion_order`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass

import pandas as pd

from core.analysis.insertion_order import BACKENDS
from core.progress import ProgressFn

#: Run kind of the recall-against-intrinsic-dimension study (synthetic data; no workspace).
VS_ID_KIND = "order-vs-id"


@dataclass
class RecallVsIDParams:
    """Elliott & Clark's construction: HNSW recall on points of a known intrinsic dimension, swept."""

    ks: tuple[int, ...] = (2, 4, 8, 16, 32, 64, 128, 256)
    n: int = 2000
    dim: int = 1024
    n_queries: int = 200
    backends: tuple[str, ...] = BACKENDS
    M: int = 16
    ef_construction: int = 128
    ef_search: tuple[int, ...] = (10, 40)
    k: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        self.ks = tuple(sorted({int(v) for v in self.ks}))
        self.backends = tuple(self.backends)
        self.ef_search = tuple(sorted({int(v) for v in self.ef_search}))
        if not self.ks or self.ks[0] < 1 or self.ks[-1] > self.dim:
            raise ValueError(f"intrinsic dimensions must be between 1 and the ambient dim {self.dim}, "
                             f"got {list(self.ks)}")
        if not 100 <= self.n <= 200_000 or not 2 <= self.dim <= 4096:
            raise ValueError(f"n must be in [100, 200000] and dim in [2, 4096], got n={self.n}, dim={self.dim}")
        if not 1 <= self.n_queries <= 10_000 or not 1 <= self.k < self.n:
            raise ValueError(f"queries must be in [1, 10000] and k in [1, n), got {self.n_queries} and {self.k}")
        if not self.ef_search or self.ef_search[0] < 1:
            raise ValueError(f"efSearch must be positive integers, got {list(self.ef_search)}")
        if self.M < 2 or self.ef_construction < 1:
            raise ValueError(f"M must be >= 2 and efConstruction >= 1, got M={self.M}, "
                             f"efConstruction={self.ef_construction}")

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> RecallVsIDParams:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in known})


def recall_vs_id_study(params: RecallVsIDParams, progress: ProgressFn | None = None, recorder=None,
                       should_stop=None) -> Iterator[dict]:
    """Run the study; each row (one per dimension, backend and efSearch) is yielded and recorded."""
    from core.analysis.insertion_order import recall_vs_intrinsic_dim

    for row in recall_vs_intrinsic_dim(
        params.ks, params.n, params.dim, params.M, params.ef_construction, params.ef_search, params.seed,
        n_queries=params.n_queries, k=params.k, backends=params.backends, progress=progress,
        should_stop=should_stop,
    ):
        if recorder is not None:
            recorder.add(row)
        yield row


def latest_vs_id_run(store=None):
    """The newest recall-against-ID run with rows (done or interrupted), or None."""
    from core.store.runs import RunStore

    store = store or RunStore()
    for run in store.list_runs(kind=VS_ID_KIND):
        if run.status != "running" and run.n_rows:
            return run
    return None


def vs_id_table(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per nominal dimension: measured IDs, then recall@k per (backend, efSearch)."""
    if rows.empty:
        return pd.DataFrame()
    ids = rows.drop_duplicates("true_dim").set_index("true_dim")[["pca_id", "twonn_id"]]
    recall = rows.pivot_table(index="true_dim", columns=["backend", "ef_search"], values="recall_at_k")
    recall.columns = [f"recall@{int(rows['k'].iloc[0])} {b} ef={e}" for b, e in recall.columns]
    out = ids.join(recall).reset_index().rename(columns={"true_dim": "nominal ID", "pca_id": "PCA-99% ID",
                                                         "twonn_id": "TwoNN ID"})
    return out


def vs_id_sentence(rows: pd.DataFrame) -> str:
    """What the study found, from its rows: recall at the lowest and highest dimension, per efSearch."""
    if rows.empty:
        return ""
    k = int(rows["k"].iloc[0])
    lo, hi = int(rows["true_dim"].min()), int(rows["true_dim"].max())
    parts = []
    for ef, part in rows.groupby("ef_search"):
        a = part[part["true_dim"] == lo]["recall_at_k"].mean()
        b = part[part["true_dim"] == hi]["recall_at_k"].mean()
        parts.append(f"at efSearch {int(ef)}, recall@{k} goes from {a:.2f} (ID {lo}) to {b:.2f} (ID {hi})")
    return "Averaged over the backends, " + "; ".join(parts) + "."
