"""Two small measurements the *What the papers found* page needs and no other page saves.

* **cut-off** (Relevance Filtering for Embedding-based Retrieval): how well one global raw-score cut-off,
  the Query page's threshold, separates the relevant results of the dataset's judged queries from the rest.
  Each judged query's exact top-k is split into relevant and non-relevant results; `cutoff_rows` gives,
  for a grid of thresholds, how many of each pass. Saved as a run of kind ``"cutoff"``.
* **geometry** (anisotropy, as DefSent+ and All-but-the-top describe it): the mean pairwise cosine of the
  workspace's space, the variance share of its top principal component and Mu & Viswanath's isotropy
  score (`core.analysis.spaces`). Saved as a run of kind ``"geometry"`` (one row per space).

Both are computed from the workspace's cached embeddings and exact ground truth; a second call finds
the saved run (`latest_evidence_run`).
"""

from __future__ import annotations

import numpy as np

from core.progress import ProgressFn, report
from core.workspace import relevant_positions

CUTOFF_KIND = "cutoff"
GEOMETRY_KIND = "geometry"
#: Thresholds in a cut-off run: quantiles of the relevant results' scores (and the extremes).
CUTOFF_GRID = 41
#: Items the geometry is measured on at most (a seeded sample past it; the sample size is saved).
GEOMETRY_SAMPLE = 20_000
#: Saved in each run's parameters; a run of another version is measured again, not read.
EVIDENCE_VERSION = 1


def judged_top_k(ws, k: int = 10, progress: ProgressFn | None = None):
    """``(D, relevant, query_ids)`` over the judged queries: exact top-``k`` scores ``(nq, k)``, whether
    each result is judged relevant ``(nq, k)`` bool, and the queries' ids; ``None`` without judgments."""
    if not ws.dataset.has_qrels:
        return None
    ev = ws.eval_set(progress=progress)
    if ev.qrels is None:
        return None
    judged = [q for q, rel in enumerate(ev.qrels) if len(rel)]
    if not judged:
        return None
    D, I = ws.ground_truth(ev, min(k, ev.xb.shape[0]), progress=progress)
    relevant = np.stack([np.isin(I[q], relevant_positions(ev.qrels[q])) for q in judged])
    return np.asarray(D[judged], dtype=np.float64), relevant, [ev.query_ids[q] for q in judged]


def cutoff_table(D: np.ndarray, relevant: np.ndarray, grid: int = CUTOFF_GRID) -> list[dict]:
    """For thresholds at the relevant results' score quantiles (data values): results passing ``score >= t``.

    ``D`` (nq, k) scores (higher is closer), ``relevant`` (nq, k) bool. Each row: ``threshold``,
    ``relevant_kept``, ``other_kept``, ``relevant_total``, ``other_total``, ``queries``.
    """
    D, relevant = np.asarray(D, dtype=np.float64), np.asarray(relevant, dtype=bool)
    rel, other = D[relevant], D[~relevant]
    if rel.size == 0:
        return []
    thresholds = np.unique(np.quantile(rel, np.linspace(0.0, 1.0, grid), method="lower"))
    return [{"threshold": float(t), "relevant_kept": int((rel >= t).sum()), "other_kept": int((other >= t).sum()),
             "relevant_total": int(rel.size), "other_total": int(other.size), "queries": int(D.shape[0]),
             "k": int(D.shape[1])} for t in thresholds]


def cutoff_rows(ws, k: int = 10, progress: ProgressFn | None = None, recorder=None) -> list[dict]:
    """`cutoff_table` of the workspace's judged queries (exact search, the workspace's metric); ``[]``
    without judgments. Rows go to ``recorder``; the first judged query with a relevant result in its
    top ``k`` is kept in each row as ``example_query`` (the Query page's link opens it)."""
    found = judged_top_k(ws, k, progress)
    if found is None:
        return []
    D, relevant, query_ids = found
    if ws.metric == "l2":  # the Query page's cut-off is on its scores: L2 distances, smaller is closer
        D = -D
    hit = np.flatnonzero(relevant.any(axis=1))
    example = query_ids[int(hit[0])] if hit.size else query_ids[0]
    rows = [{**row, "metric": ws.metric, "example_query": example} for row in cutoff_table(D, relevant)]
    if ws.metric == "l2":
        rows = [{**row, "threshold": -row["threshold"]} for row in rows]
    if recorder is not None:
        recorder.add(*rows)
    return rows


def geometry_row(x: np.ndarray, space: str, seed: int = 0) -> dict:
    """Mean pairwise cosine, top-1 / top-10 principal variance shares and the isotropy score of ``x``."""
    from core.analysis.spaces import isotropy_score, mean_pairwise_cosine

    x = np.asarray(x, dtype=np.float32)
    n = x.shape[0]
    if n < 3:
        raise ValueError(f"the geometry of a space needs at least 3 items; this one has {n}")
    rows = np.sort(np.random.default_rng(seed).choice(n, GEOMETRY_SAMPLE, replace=False)) \
        if n > GEOMETRY_SAMPLE else np.arange(n)
    xs = np.asarray(x[rows], dtype=np.float64)
    var = np.linalg.svd(xs - xs.mean(axis=0), compute_uv=False) ** 2
    share = var / var.sum() if var.sum() > 0 else np.zeros_like(var)
    return {"space": space, "n": int(n), "sample": int(rows.size), "dim": int(x.shape[1]),
            "mean_cosine": mean_pairwise_cosine(xs), "top1_variance": float(share[:1].sum()),
            "top10_variance": float(share[:10].sum()), "isotropy": isotropy_score(xs)}


def geometry_rows(ws, progress: ProgressFn | None = None, recorder=None) -> list[dict]:
    """`geometry_row` of the workspace's embeddings (its encoder's space)."""
    report(progress, 0, 1, "geometry")
    rows = [geometry_row(ws.embeddings(progress), ws.encoder_name)]
    report(progress, 1, 1, "geometry")
    if recorder is not None:
        recorder.add(*rows)
    return rows


def evidence_params(ws) -> dict:
    return {"embeddings_key": ws.embeddings_key, "metric": ws.metric, "version": EVIDENCE_VERSION}


def latest_evidence_run(ws, kind: str, store=None):
    """The newest finished run of ``kind`` (``"cutoff"`` / ``"geometry"``) on the workspace's embeddings."""
    from core.store.runs import RunStore

    store = store or RunStore()
    for run in store.list_runs(kind=kind, dataset=ws.dataset.name):
        if run.params.get("embeddings_key") == ws.embeddings_key and run.params.get("version") == EVIDENCE_VERSION \
                and run.status == "done":
            return run
    return None
