"""Neighbourhood statistics over a kNN graph, and one point's neighbours, exact vs approximate.

Conventions (faiss contrib style): a kNN graph is ``D, I`` of shape ``(n, k)``,
best first, the point itself excluded, ``-1`` in ``I`` for a missing neighbour.
Scores in ``D`` are as `core.index.exact` returns them: inner products for ``cosine`` /
``ip`` (larger is closer), squared Euclidean distances for ``l2``.

* `k_occurrence`: hubness, how often each point is among the others' k nearest.
* `local_dimension`: LID per point from the same graph (`core.analysis.intrinsic.LocalMLE`).
* `neighbour_misses`: which exact neighbours an approximate search did not return.
* `approx_neighbours`: one point's neighbours from an index of the compression sweep's
  method registry (`core.index.registry`: HNSW, IVF, PQ, binary ...), for the map page's
  "what does a real index miss" panel.
"""

from __future__ import annotations

import numpy as np

from core.index.exact import higher_is_closer, to_distances

# ------------------------------------------------------------------ hubness


def k_occurrence(I: np.ndarray, n: int | None = None, k: int | None = None) -> np.ndarray:
    """How many times each point appears in the other points' k-NN lists (``N_k``).

    Args:
        I: int ``(n_rows, >= k)`` neighbour ids of a kNN graph (self excluded, ``-1`` = none).
        n: number of points (default ``I.shape[0]``): ids are in ``range(n)``.
        k: use the first ``k`` columns (default all).

    Returns int64 ``(n,)``; the counts sum to the number of valid entries. A "hub"
    has a count far above ``k`` (the mean); an "anti-hub" (orphan) has 0.
    """

    I = np.asarray(I)
    if I.ndim != 2:
        raise ValueError(f"I must be a 2-D array of neighbour ids (n, k), got shape {I.shape}")
    if k is not None:
        if k < 1 or k > I.shape[1]:
            raise ValueError(f"k={k} but the graph has {I.shape[1]} neighbours per point")
        I = I[:, :k]
    n = I.shape[0] if n is None else n
    ids = I[I >= 0].astype(np.int64, copy=False)
    if ids.size and ids.max() >= n:
        raise ValueError(f"neighbour id {int(ids.max())} is out of range for {n} points")
    return np.bincount(ids, minlength=n).astype(np.int64)


def skewness(values: np.ndarray) -> float:
    """Sample skewness (third standardised moment); 0 when the values are constant.

    For k-occurrence counts this is the usual hubness score: above ~1 the space has hubs.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return 0.0
    sd = v.std()
    if sd == 0:
        return 0.0
    return float(np.mean(((v - v.mean()) / sd) ** 3))


# ------------------------------------------------------------------ local dimension


def local_dimension(D: np.ndarray, metric: str, k: int = 20) -> np.ndarray:
    """Pointwise LID (MLE, ``-((1/k) Σ ln(r_i/r_k))^-1``) from a kNN graph's scores ``D``.

    Returns float64 ``(n,)``, NaN where a point has no estimate (all neighbours
    duplicates). Uses `core.analysis.intrinsic.LocalMLE` on the first ``k`` neighbours.
    """
    from core.analysis.intrinsic import LocalMLE

    k = min(k, D.shape[1])
    R = to_distances(np.asarray(D[:, :k], dtype=np.float32), metric)
    return LocalMLE(k=k).fit(knn_distances=R).dimension_pw_


# ------------------------------------------------------------------ exact vs approximate


def neighbour_misses(exact_ids, approx_ids) -> list:
    """The exact neighbours an approximate search missed, in exact rank order.

    ``exact_ids`` and ``approx_ids`` are sequences of ids (any hashable type);
    ``-1`` entries (faiss's "no result") in ``approx_ids`` never match anything.
    """
    found = {_plain(a) for a in approx_ids} - {-1}
    return [_plain(e) for e in exact_ids if _plain(e) not in found]


def _plain(value):
    """numpy scalars as Python values, so ids compare and print plainly."""
    return value.item() if isinstance(value, np.generic) else value



def closeness_label(metric: str) -> str:
    """What the scores mean, for column headers."""
    return "inner product (higher is closer)" if higher_is_closer(metric) else "squared L2 (lower is closer)"


# ------------------------------------------------------------------ finding items


#: Where a word starts inside an id (``os.path.join``, ``read_file``, ``two words``).
WORD_STARTS = (" ", ".", "_", "-", "/", ":")


def example_id(ids: list[str], width: int = 30) -> str:
    """An id to show as a search example: the first of the first thousand with three letters or more (GloVe's
    first words are punctuation: "e.g. ," reads as a mistake), else the first id; cut to ``width``."""
    if not ids:
        return "an id"
    word = next((i for i in ids[:1000] if sum(c.isalpha() for c in i) >= 3), ids[0])
    return word[:width]


def find_items(ids: list[str], texts: list[str] | None, labels: list[str] | None, query: str,
               limit: int = 50) -> np.ndarray:
    """Rows whose id, label or text contains ``query`` (case-insensitive), best matches first: the id
    itself, then ids where it starts a word (``king`` → king, kingdom, Burger_King), ids that merely
    contain it (making), labels, then texts.

    Returns int64 row numbers, at most ``limit``; empty for an empty query.
    """
    q = query.strip().lower()
    if not q:
        return np.zeros(0, dtype=np.int64)
    exact: list[int] = []
    tiers: list[list[int]] = [[], [], [], []]  # word start in the id, inside the id, label, text
    for i, item_id in enumerate(ids):
        low = item_id.lower()
        if low == q:
            exact.append(i)
        elif low.startswith(q) or any(sep + q in low for sep in WORD_STARTS):
            tiers[0].append(i)
        elif q in low:
            if len(tiers[1]) < limit:
                tiers[1].append(i)
        elif labels is not None and q in str(labels[i]).lower():
            if len(tiers[2]) < limit:
                tiers[2].append(i)
        elif texts is not None and len(tiers[3]) < limit and q in texts[i].lower():
            tiers[3].append(i)
        if exact and len(tiers[0]) >= limit:
            break  # ids are unique: nothing can rank higher now
    ranked = exact + [i for tier in tiers for i in tier]
    return np.asarray(ranked[:limit], dtype=np.int64)


def neighbour_table(dataset, scores: np.ndarray, ids: np.ndarray, missed: list | None = None,
                    method: str | None = None, width: int = 120):
    """One row per exact neighbour: rank, id, label, score, (found by ``method``?), text snippet."""
    import pandas as pd

    missed_set = set(missed or [])
    rows = []
    for rank, (score, i) in enumerate(zip(scores, ids, strict=True), start=1):
        i = int(i)
        row = {"rank": rank, "id": dataset.ids[i]}
        if dataset.labels is not None:
            row["label"] = dataset.labels[i]
        row["score"] = float(score)
        if missed is not None:
            row[f"found by {method}"] = "missed" if i in missed_set else "yes"
        if dataset.texts is not None or dataset.titles is not None:
            text = dataset.display_text(int(i))
            row["text"] = text if len(text) <= width else text[: width - 1] + "…"
        rows.append(row)
    return pd.DataFrame(rows)
