"""Per-query recall of a saved HNSW insertion-order run, as colours on the Embedding map.

The order study (`core.experiments.insertion_order`) saves one per-query recall array per configuration
(artifact kind ``"per-query-recall"``). Its queries are either held-out dataset rows (then each
query *is* a map point) or the dataset's own queries (then each query colours the passages judged
relevant to it, the mean when several queries share a passage). `recall_colour` is the pure
mapping; `recall_map_colour` reads a run back and returns a `core.analysis.projection.MapColour`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.analysis.projection import MapColour, Projection
from core.experiments.insertion_order import OrderRun, latest_order_run, load_order_run, per_query_recall
from core.progress import ProgressFn
from core.workspace import relevant_positions

RECALL_COLOUR = "per-query recall"
NO_RUN_MESSAGE = "run the HNSW insertion order study first"


def recall_colour(n_items: int, query_rows_or_relevant_rows, recall) -> np.ndarray:
    """Per-item colour value (float, NaN = no value) from per-query recall.

    ``query_rows_or_relevant_rows`` is either a 1-D integer array with the dataset row of each
    query (held-out queries: the row gets its query's recall), or a sequence with, per query, an
    array of relevant dataset rows (each relevant row gets the mean recall of the queries that
    judge it relevant). ``recall`` has one value per query.
    """

    recall = np.asarray(recall, dtype=np.float64).ravel()
    out = np.full(int(n_items), np.nan)
    if isinstance(query_rows_or_relevant_rows, np.ndarray) and query_rows_or_relevant_rows.ndim == 1 \
            and query_rows_or_relevant_rows.dtype != object:
        rows = query_rows_or_relevant_rows.astype(np.int64)
        if rows.shape[0] != recall.shape[0]:
            raise ValueError(f"{rows.shape[0]} query rows but {recall.shape[0]} recall values")
        _check_rows(rows, n_items)
        total = np.zeros(int(n_items))
        count = np.zeros(int(n_items))
        np.add.at(total, rows, recall)
        np.add.at(count, rows, 1)
    else:
        relevant: Sequence = list(query_rows_or_relevant_rows)
        if len(relevant) != recall.shape[0]:
            raise ValueError(f"{len(relevant)} queries with relevant rows but {recall.shape[0]} recall values")
        total = np.zeros(int(n_items))
        count = np.zeros(int(n_items))
        for rel, r in zip(relevant, recall, strict=True):
            rel = np.unique(np.asarray(rel, dtype=np.int64).ravel())
            if rel.size == 0 or not np.isfinite(r):
                continue
            _check_rows(rel, n_items)
            total[rel] += r
            count[rel] += 1
    has = count > 0
    out[has] = total[has] / count[has]
    return out


def _check_rows(rows: np.ndarray, n_items: int) -> None:
    if rows.size and (rows.min() < 0 or rows.max() >= n_items):
        raise ValueError(f"query rows must lie in 0..{n_items - 1}")


# ------------------------------------------------------------------ workspace level


def latest_recall_run(ws, store=None) -> OrderRun | None:
    """The newest finished order run of this workspace's embeddings, read back; None if there is none."""
    run = latest_order_run(ws, store)
    return None if run is None else load_order_run(run.id, store)


def recall_configurations(order_run: OrderRun) -> list[tuple[str, str, int]]:
    """``(backend, order, ef_search)`` of every configuration in the run (seeds are averaged)."""
    rows = order_run.rows
    if rows.empty:
        return []
    keys = rows[["backend", "order", "ef_search"]].drop_duplicates()
    return [(str(b), str(o), int(e)) for b, o, e in keys.itertuples(index=False)]


def configuration_label(config: tuple[str, str, int]) -> str:
    backend, order, ef = config
    return f"{backend} · order {order} · efSearch {ef}"


@dataclass
class ItemRecall:
    """Per-item recall of one configuration of an order run."""

    values: np.ndarray  # (n_items,) float, NaN = no value
    n_queries: int
    n_seeds: int
    k: int
    mapping: str  # "held-out" or "relevant"


def item_recall(ws, order_run: OrderRun, backend: str, order: str, ef_search: int,
                progress: ProgressFn | None = None) -> ItemRecall:
    """Per-query recall of one configuration (mean over seeds) mapped onto the dataset's rows."""
    rows: pd.DataFrame = order_run.rows
    sel = rows[(rows["backend"] == backend) & (rows["order"] == order) & (rows["ef_search"] == int(ef_search))]
    if sel.empty:
        raise ValueError(f"run #{order_run.run.id} has no rows for {backend}, order {order}, efSearch {ef_search}")
    arrays = [a for a in (per_query_recall(ws, r) for _, r in sel.iterrows()) if a is not None]
    if not arrays:
        raise ValueError(f"the per-query recall of run #{order_run.run.id} is no longer cached; "
                         "rerun the HNSW insertion order study")
    recall = np.mean(np.stack([np.asarray(a, dtype=np.float64) for a in arrays]), axis=0)
    params = order_run.run.params
    ev = ws.eval_set(params.get("n_queries"), int(params.get("query_seed", 0)), progress=progress)
    n_items = ws.dataset.n
    if ev.query_rows is not None:
        mapping, target = "held-out", np.asarray(ev.query_rows, dtype=np.int64)
        n_q = len(target)
    elif ev.qrels is not None:
        base_rows = np.asarray(ev.base_rows, dtype=np.int64)
        mapping, target = "relevant", [base_rows[relevant_positions(q)] for q in ev.qrels]
        n_q = len(target)
    else:
        raise ValueError(f"{ws.dataset.name}'s queries have no relevance judgements, so their recall "
                         "cannot be placed on the map's items")
    if n_q != recall.shape[0]:
        raise ValueError(f"run #{order_run.run.id} has recall for {recall.shape[0]} queries but the "
                         f"workspace's evaluation split has {n_q}; rerun the study")
    values = recall_colour(n_items, target, recall)
    return ItemRecall(values, n_q, len(arrays), int(params.get("k", 10)), mapping)


def recall_map_colour(ws, proj: Projection, order_run: OrderRun, config: tuple[str, str, int],
                      progress: ProgressFn | None = None) -> MapColour:
    """Colour of the drawn points of ``proj``: the per-query recall of ``config`` in ``order_run``."""
    backend, order, ef = config
    rec = item_recall(ws, order_run, backend, order, ef, progress)
    values = rec.values[proj.rows]
    n_val = int(np.isfinite(values).sum())
    seeds = f", mean over {rec.n_seeds} seeds" if rec.n_seeds > 1 else ""
    what = ("held-out query items coloured by their own recall" if rec.mapping == "held-out"
            else "relevant passages coloured by the recall of their query (mean if several)")
    where = "drawn " if proj.sampled else ""
    summary = (f"recall@{rec.k} from order run #{order_run.run.id}: {backend}, order {order}, "
               f"efSearch {ef}{seeds}; {what}; {n_val:,} of {len(values):,} {where}points carry a value "
               f"({rec.n_queries:,} queries), the rest in grey")
    if n_val:
        summary += f"; mean {np.nanmean(values):.3f}"
    title = f"recall@{rec.k} (run #{order_run.run.id}, {backend}, {order}, ef {ef})"
    return MapColour(RECALL_COLOUR, "continuous", values, title, summary)
