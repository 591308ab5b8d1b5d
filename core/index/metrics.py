"""Quality metrics of search results, the metric registry, and the Pareto frontier.

Result ids ``I`` are int64 ``(nq, k)`` (``-1`` where a method returned fewer than
``k`` results); ground truth ``gt_I`` is ``(nq, >= k)``, best first.

Relevance judgments (qrels) are given per query position, either as a list with
one entry per query or as a dict ``{query_position: entry}``; an entry is an
iterable of relevant base rows (relevance 1) or a dict ``{base_row: relevance}``.
Queries without any positive judgment are left out of nDCG and MRR averages
(as BEIR / trec_eval do).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

Qrels = Sequence[Iterable[int] | Mapping[int, float]] | Mapping[int, Iterable[int] | Mapping[int, float]]


def recall_per_query(I: np.ndarray, gt_I: np.ndarray, k: int) -> np.ndarray:
    """``|I[:, :k] ∩ gt_I[:, :k]| / k`` per query: float64 ``(nq,)``.

    Each true neighbour counts once, so duplicate ids in ``I`` cannot inflate it.
    """

    if I.shape[0] != gt_I.shape[0]:
        raise ValueError(f"results have {I.shape[0]} queries but the ground truth has {gt_I.shape[0]}")
    if I.shape[1] < k or gt_I.shape[1] < k:
        raise ValueError(f"k={k} but results have {I.shape[1]} and ground truth {gt_I.shape[1]} columns")
    found = (gt_I[:, :k, None] == I[:, None, :k]).any(axis=2)
    return found.sum(axis=1) / k


def recall_at_k(I: np.ndarray, gt_I: np.ndarray, k: int | None = None) -> float:
    """Mean over queries of ``|approximate top-k ∩ exact top-k| / k`` (``k`` defaults to ``I``'s width)."""
    return float(recall_per_query(I, gt_I, I.shape[1] if k is None else k).mean())


#: ann-benchmarks' slack on the k-th true distance (``knn_threshold``: ``data[count - 1] + epsilon``).
ANN_BENCHMARKS_EPSILON = 1e-3


def ann_benchmarks_distance(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """Distances in ann-benchmarks' own units, float64, row by row of ``a`` ``(..., d)`` and ``b``.

    ``cosine`` is its "angular" distance ``1 - a.b / (|a| |b|)``; ``l2`` its "euclidean" ``|a - b|`` (not
    squared). ann-benchmarks has no inner-product metric: ``ip`` uses ``-a.b`` (larger products closer).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if metric == "l2":
        return np.sqrt(np.maximum(((a - b) ** 2).sum(axis=-1), 0.0))
    dot = (a * b).sum(axis=-1)
    if metric == "ip":
        return -dot
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return 1.0 - dot / np.where(norms > 0, norms, 1.0)


def recall_by_distance_per_query(
    I: np.ndarray, xb: np.ndarray, xq: np.ndarray, gt_I: np.ndarray, k: int, metric: str,
    epsilon: float = ANN_BENCHMARKS_EPSILON,
) -> np.ndarray:
    """ann-benchmarks' k-nn recall per query ``(nq,)``: a returned item counts when its distance to the
    query is at most the k-th true neighbour's distance plus ``epsilon`` (1e-3), both recomputed from the
    vectors in ann-benchmarks' units (`ann_benchmarks_distance`: angular ``1 - cos``, euclidean ``|a - b|``).

    This is ``get_recall_values(..., knn_threshold, epsilon=1e-3)`` of ann-benchmarks'
    ``plotting/metrics.py``; it differs from `recall_per_query` (by id) where items lie within 1e-3 of the
    k-th distance (duplicates, near-ties). One difference, stated: an id an index returns twice counts once
    (ann-benchmarks would count both; no faiss index returns repeats). Missing results (``-1``) never count.
    """
    I = np.asarray(I)[:, :k]
    gt = np.asarray(gt_I)[:, :k]
    if I.shape[0] != gt.shape[0] or gt.shape[1] < k:
        raise ValueError(f"results {I.shape} and ground truth {gt.shape} must have the same queries and k={k}")
    valid = I >= 0
    rows = np.where(valid, I, 0)
    dist = ann_benchmarks_distance(xb[rows], xq[:, None, :], metric)  # (nq, k)
    kth = ann_benchmarks_distance(xb[gt[:, -1]], xq, metric)  # (nq,)
    ok = dist <= kth[:, None] + epsilon
    # an id an index repeats in one row is counted once: mark every repeat after its first place
    order = np.argsort(I, axis=1, kind="stable")
    sorted_ids = np.take_along_axis(I, order, axis=1)
    repeat = np.zeros_like(valid)
    np.put_along_axis(repeat, order[:, 1:], sorted_ids[:, 1:] == sorted_ids[:, :-1], axis=1)
    hits = np.minimum((valid & ok & ~repeat).sum(axis=1), k)
    return hits / k


def as_relevance(qrels: Qrels, nq: int) -> list[dict[int, float]]:
    """Normalise qrels to one ``{base_row: relevance}`` dict per query (``nq`` of them)."""
    if isinstance(qrels, Mapping):
        bad = [q for q in qrels if not 0 <= int(q) < nq]
        if bad:
            raise ValueError(f"qrels name query positions {bad[:5]} outside [0, {nq - 1}]")
        entries = [qrels.get(q, ()) for q in range(nq)]
    else:
        entries = list(qrels)
        if len(entries) != nq:
            raise ValueError(f"qrels have {len(entries)} entries but there are {nq} queries")
    return [
        {int(r): float(v) for r, v in e.items()} if isinstance(e, Mapping) else {int(r): 1.0 for r in e}
        for e in entries
    ]


def ndcg_at_k(I: np.ndarray, qrels: Qrels, k: int = 10) -> float:
    """Mean nDCG@k with linear gains ``rel / log2(rank + 1)`` (trec_eval's definition).

    Returns NaN when no query has a positive judgment.
    """
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    scores = []
    for ids, rel in zip(I[:, :k], as_relevance(qrels, I.shape[0]), strict=True):
        ideal = np.sort([g for g in rel.values() if g > 0])[::-1][:k]
        if len(ideal) == 0:
            continue
        gains = np.array([rel.get(int(i), 0.0) for i in ids])
        scores.append(float(gains @ discounts[: len(gains)]) / float(ideal @ discounts[: len(ideal)]))
    return float(np.mean(scores)) if scores else float("nan")


def mrr_at_k(I: np.ndarray, qrels: Qrels, k: int = 10) -> float:
    """Mean reciprocal rank of the first relevant result within the top ``k`` (NaN without judgments)."""
    scores = []
    for ids, rel in zip(I[:, :k], as_relevance(qrels, I.shape[0]), strict=True):
        if not any(g > 0 for g in rel.values()):
            continue
        hits = [rank for rank, i in enumerate(ids, start=1) if rel.get(int(i), 0.0) > 0]
        scores.append(1.0 / hits[0] if hits else 0.0)
    return float(np.mean(scores)) if scores else float("nan")


def ndcg_at_10(I: np.ndarray, qrels: Qrels) -> float:
    return ndcg_at_k(I, qrels, 10)


def mrr_at_10(I: np.ndarray, qrels: Qrels) -> float:
    return mrr_at_k(I, qrels, 10)


# ---------------------------------------------------------------- registry


@dataclass(frozen=True)
class Metric:
    """A column of the sweep's result rows: which direction is better, and how to label it."""

    name: str
    direction: str  # "max" or "min"
    label: str
    log_scale: bool = False

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "max"


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("recall_at_k", "max", "recall@k"),
        Metric("recall_at_k_ties", "max", "recall@k (ties by distance)"),
        Metric("ndcg_at_10", "max", "nDCG@10"),
        Metric("mrr_at_10", "max", "MRR@10"),
        Metric("bytes_per_vector", "min", "bytes per vector (index)", log_scale=True),
        Metric("rerank_bytes_per_vector", "min", "bytes per vector kept for re-ranking", log_scale=True),
        Metric("total_bytes_per_vector", "min", "bytes per vector (index + re-rank vectors)", log_scale=True),
        Metric("compression_ratio", "max", "compression vs float32", log_scale=True),
        Metric("qps", "max", "queries per second (batch)", log_scale=True),
        Metric("p50_ms", "min", "median single-query latency (ms)", log_scale=True),
        Metric("p99_ms", "min", "99th percentile single-query latency (ms)", log_scale=True),
        Metric("train_s", "min", "training time (s)"),
        Metric("build_s", "min", "build time (s)"),
    ]
}


def get_metric(name: str) -> Metric:
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; choose one of: {', '.join(METRICS)}")
    return METRICS[name]


# ---------------------------------------------------------------- frontier


def pareto_frontier(rows: pd.DataFrame, x: str = "bytes_per_vector", y: str = "recall_at_k") -> np.ndarray:
    """Boolean mask (aligned with ``rows``) of the configurations no other one beats on both ``x`` and ``y``.

    Directions come from `METRICS`. A row is dominated when another is at least as
    good on both and strictly better on one; identical points are all kept. Rows
    with a missing value, or whose ``status`` is not ``"ok"``, are never on it.
    """
    mx, my = get_metric(x), get_metric(y)
    mask = np.zeros(len(rows), dtype=bool)
    if len(rows) == 0:
        return mask
    a = pd.to_numeric(rows[x], errors="coerce").to_numpy(dtype=float)
    b = pd.to_numeric(rows[y], errors="coerce").to_numpy(dtype=float)
    valid = np.isfinite(a) & np.isfinite(b)
    if "status" in rows:
        valid &= rows["status"].to_numpy() == "ok"
    if not valid.any():
        return mask
    # both to "smaller is better", then sweep the distinct points in lexicographic order
    pts = np.column_stack([a if not mx.higher_is_better else -a, b if not my.higher_is_better else -b])[valid]
    uniq, inverse = np.unique(pts, axis=0, return_inverse=True)
    best_before = np.minimum.accumulate(np.concatenate([[np.inf], uniq[:-1, 1]]))
    on_front = uniq[:, 1] < best_before
    mask[np.flatnonzero(valid)] = on_front[inverse.ravel()]
    return mask


@dataclass
class BudgetAnswer:
    """Configurations that fit a memory budget and reach a recall, fastest first, with a sentence."""

    rows: pd.DataFrame
    explanation: str


def best_under_budget(
    rows: pd.DataFrame,
    max_bytes: float,
    min_recall: float,
    *,
    bytes_col: str = "bytes_per_vector",
    recall_col: str = "recall_at_k",
    speed_col: str = "qps",
) -> BudgetAnswer:
    """Answer "which method under ``max_bytes`` per vector reaches ``min_recall``?".

    Returns the matching ``status == "ok"`` rows sorted by ``speed_col`` (fastest
    first, then smallest), or no rows and an explanation of the nearest misses.
    """
    if not max_bytes > 0:
        raise ValueError(f"max_bytes must be > 0, got {max_bytes}")
    if not 0 <= min_recall <= 1:
        raise ValueError(f"min_recall must be in [0, 1], got {min_recall}")
    ok = rows[rows["status"] == "ok"] if "status" in rows else rows
    ok = ok.dropna(subset=[bytes_col, recall_col])
    k = int(ok["k"].iloc[0]) if "k" in ok and len(ok) else None
    recall_name = f"recall@{k}" if k else recall_col
    if ok.empty:
        return BudgetAnswer(ok, "no finished configurations to choose from yet")
    fits = ok[(ok[bytes_col] <= max_bytes) & (ok[recall_col] >= min_recall)]
    fits = fits.sort_values([speed_col, bytes_col], ascending=[False, True])
    if not fits.empty:
        top = fits.iloc[0]
        text = (
            f"{len(fits)} configuration(s) fit; fastest: {describe(top)} at {top[speed_col]:,.0f} QPS, "
            f"{top[bytes_col]:,.1f} B/vector, {recall_name} {top[recall_col]:.3f}"
        )
        if top.get("rerank_bytes_per_vector", 0) > 0 and bytes_col == "bytes_per_vector":
            text += f" (plus {top['rerank_bytes_per_vector']:,.0f} B/vector of float vectors kept for re-ranking)"
        return BudgetAnswer(fits, text)
    parts = [f"no configuration reaches {recall_name} >= {min_recall:g} within {max_bytes:g} B/vector"]
    under = ok[ok[bytes_col] <= max_bytes]
    if not under.empty:
        best = under.sort_values(recall_col, ascending=False).iloc[0]
        parts.append(f"the best within budget is {describe(best)} with {recall_name} {best[recall_col]:.3f}")
    reaching = ok[ok[recall_col] >= min_recall]
    if not reaching.empty:
        cheapest = reaching.sort_values(bytes_col).iloc[0]
        parts.append(f"the smallest reaching it is {describe(cheapest)} at {cheapest[bytes_col]:,.1f} B/vector")
    return BudgetAnswer(fits, "; ".join(parts))


def reference_row(rows: pd.DataFrame) -> pd.Series | None:
    """The exact-search (``flat``) row of a sweep, the reference every other row is measured against."""
    if "method" not in rows:
        return None
    flat = rows[rows["method"] == "flat"]
    if "status" in flat:
        flat = flat[flat["status"] == "ok"]
    return None if flat.empty else flat.iloc[0]


def quality_cost(row: pd.Series, reference: pd.Series, *, col: str = "ndcg_at_10",
                 bytes_col: str = "bytes_per_vector") -> str:
    """What a configuration costs in task quality for what it saves in memory, against exact search.

    ``"sq int8: −0.3 points of nDCG@10 for 4.0× less memory"``; points are hundredths of the metric.
    """
    delta = (float(row[col]) - float(reference[col])) * 100
    ratio = float(reference[bytes_col]) / float(row[bytes_col]) if float(row[bytes_col]) > 0 else float("inf")
    change = f"{delta:+.1f}".replace("-", "−") if abs(delta) >= 0.05 else "±0.0"
    memory = f"{ratio:.1f}× less memory" if ratio >= 1 else f"{1 / ratio:.1f}× more memory"
    rerank = float(row.get("rerank_bytes_per_vector", 0) or 0) if hasattr(row, "get") else 0.0
    if bytes_col == "bytes_per_vector" and rerank > 0 and "total_bytes_per_vector" in row:
        total = float(row["total_bytes_per_vector"])
        whole = float(reference.get("total_bytes_per_vector", reference[bytes_col])) / total if total > 0 else 0.0
        memory += (f" for the index ({whole:.1f}× counting the {rerank:,.0f} B/vector of float vectors it keeps to "
                   "re-rank)")
    return f"{describe(row)}: {change} points of {get_metric(col).label} for {memory}"


def describe(row: pd.Series) -> str:
    """Short name of a configuration row in plain words (`core.index.registry.config_name`:
    ``"Scalar quantization · int8 numbers"``) when the row carries its method's parameters; else its
    label, else method and factory."""
    from core.index.registry import METHODS, config_name

    spec = METHODS.get(row.get("method")) if isinstance(row.get("method"), str) else None
    if spec is not None and all(p.name in row and pd.notna(row[p.name]) for p in spec.params):
        return config_name(spec.name, dict(row))
    if "label" in row and isinstance(row["label"], str):
        return row["label"]
    return f"{row.get('method', '?')} ({row.get('factory', '')})"
