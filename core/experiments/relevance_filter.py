"""Relevance filtering of a workspace's search results: raw cut-off, top-k and the query-adaptive mapping.

What the Query page's filtering section and ``densescope filter`` call. The judged queries of the dataset
(those with at least one document of grade > 0 in its qrels) are split, seeded, into a **training** half,
on which `core.analysis.relevance_filter.QueryAdaptiveMapper` is fitted, and a **held-out** half, on which
every curve is measured -- the mapping never sees an evaluation query. Each query's candidates are its exact
top-``depth`` over the whole base (`Workspace.ground_truth`, cached), so the curves measure filtering, not
index error. Three ways to cut the candidates, each a precision/recall/F1 curve of the pooled retrieved set
(see the analysis module): one global **raw** score cut-off, each query's **top-k** (k = 1..``max_k``), and
one global threshold on the **mapped** score (Rossi et al. 2024's method, in the form explained there).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.analysis.relevance_filter import (
    FEATURES,
    Curve,
    QueryAdaptiveMapper,
    at_threshold,
    closeness,
    pr_curve,
    precision_at_recall,
    top_k_curve,
)
from core.progress import ProgressFn, report
from core.workspace import EvalSet, relevant_positions

DEPTH = 100
MAX_K = 20
TEST_SIZE = 0.5
#: Fewer judged queries than this and there is nothing to split into training and evaluation.
MIN_JUDGED = 4
#: Points per curve in the rows (the summary is computed on every point).
CURVE_POINTS = 200
RECALL_LEVELS = tuple(round(0.05 * i, 2) for i in range(1, 20))
METHOD = "Relevance Filtering for Embedding-based Retrieval (Rossi et al., Walmart, CIKM 2024)"
MAPPED, RAW, TOP_K = "mapped threshold", "raw cut-off", "top-k"


def unavailable_reason(ws) -> str | None:
    """Why relevance filtering cannot be fitted on this workspace (``None`` when it can)."""
    ds = ws.dataset
    if getattr(ds, "qrels_are_neighbors", False):
        return ("its file lists each query's true nearest neighbours, not relevance judgments: there is nothing "
                "to learn relevance from")
    if not ds.has_qrels or ds.queries is None or len(ds.queries) == 0:
        return ("it needs queries with relevance judgments (qrels), and this dataset has none; attach a queries "
                "file and a qrels file on the Data page, or pick a dataset that has them (e.g. stdlib-docs)")
    judged = sum(1 for q in ds.queries.ids if any(r > 0 for r in (ds.qrels.get(q) or {}).values()))
    if judged < MIN_JUDGED:
        return (f"it needs at least {MIN_JUDGED} queries with a document judged relevant to split into training "
                f"and evaluation queries; this dataset has {judged}")
    return None


def split_queries(n: int, test_size: float = TEST_SIZE, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of ``range(n)`` into sorted, disjoint (train, test) index arrays, both non-empty."""
    if n < 2:
        raise ValueError(f"need at least 2 judged queries to split, got {n}")
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be between 0 and 1, got {test_size}")
    n_test = min(n - 1, max(1, round(n * test_size)))
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def _check_settings(depth: int, max_k: int, n_base: int) -> tuple[int, int]:
    if depth < 2 or max_k < 1:
        raise ValueError(f"depth must be >= 2 and max_k >= 1, got depth={depth}, max_k={max_k}")
    if n_base < 2:
        raise ValueError("the base needs at least 2 items to filter a ranking")
    depth = min(depth, n_base)
    return depth, min(max_k, depth)


@dataclass(frozen=True)
class Candidates:
    """The judged queries' exact top-``depth`` (``scores`` closeness ``(nq, depth)``, ``relevant`` bool,
    ``n_relevant`` judged-relevant documents per query, ``query_ids``)."""

    scores: np.ndarray
    relevant: np.ndarray
    n_relevant: np.ndarray
    query_ids: list[str]


def judged_candidates(ws, depth: int, progress: ProgressFn | None = None) -> tuple[Candidates, EvalSet]:
    """The exact top-``depth`` of every judged query of the workspace, with their relevance."""
    ev = ws.eval_set(progress=progress)
    if ev.qrels is None:
        raise ValueError("relevance filtering " + (unavailable_reason(ws) or "needs relevance judgments"))
    judged = [i for i, rel in enumerate(ev.qrels) if len(rel)]
    if len(judged) < MIN_JUDGED:
        raise ValueError("relevance filtering " + (unavailable_reason(ws) or f"needs {MIN_JUDGED} judged queries"))
    D, I = ws.ground_truth(ev, depth, progress=progress)
    D, I = D[judged], I[judged]
    relevant = np.stack([np.isin(I[j], relevant_positions(ev.qrels[i])) for j, i in enumerate(judged)])
    n_relevant = np.array([len(ev.qrels[i]) for i in judged], dtype=np.int64)
    return Candidates(closeness(D, ws.metric), relevant, n_relevant, [ev.query_ids[i] for i in judged]), ev


@dataclass(frozen=True)
class RelevanceFilterResult:
    """The fitted mapping, the split, and the three curves on the held-out queries."""

    mapper: QueryAdaptiveMapper
    train_ids: tuple[str, ...]
    test_ids: tuple[str, ...]
    mapped: Curve
    raw: Curve
    top_k: Curve
    train_threshold: float  # the mapped threshold of best F1 on the training queries
    train_raw_cut_off: float  # the raw cut-off of best F1 on the training queries (closeness)
    fit_seconds: float
    depth: int
    max_k: int
    seed: int
    test_size: float
    metric: str
    n_relevant_test: int

    def best_f1(self) -> pd.DataFrame:
        """Per method: the best F1 on the held-out queries and the precision, recall, threshold there."""
        rows = []
        for name, curve in ((MAPPED, self.mapped), (RAW, self.raw), (TOP_K, self.top_k)):
            i = curve.best_f1()
            rows.append({"method": name, "best_f1": curve.f1[i], "precision": curve.precision[i],
                         "recall": curve.recall[i], "threshold": self.shown_threshold(name, curve.threshold[i])})
        return pd.DataFrame(rows)

    def shown_threshold(self, method: str, value: float) -> float:
        """A curve's threshold as the user reads it: raw cut-offs back in the metric's own scores."""
        return -value if method == RAW and self.metric == "l2" else float(value)

    def at_training_thresholds(self) -> pd.DataFrame:
        """Held-out precision/recall/F1 at the thresholds chosen for best F1 on the *training* queries."""
        rows = []
        for name, curve, t in ((MAPPED, self.mapped, self.train_threshold),
                               (RAW, self.raw, self.train_raw_cut_off)):
            i = at_threshold(curve, t)
            p, r, f = (curve.precision[i], curve.recall[i], curve.f1[i]) if i >= 0 else (0.0, 0.0, 0.0)
            rows.append({"method": name, "threshold": self.shown_threshold(name, t), "precision": p, "recall": r,
                         "f1": f})
        return pd.DataFrame(rows)

    def precision_gain(self, levels=RECALL_LEVELS) -> pd.DataFrame:
        """Interpolated precision of each method at equal recall, and the mapped threshold's gain over the
        raw cut-off; recall levels the raw cut-off reaches only."""
        levels = np.asarray([lv for lv in levels if lv <= self.raw.recall.max() + 1e-12], dtype=np.float64)
        raw, mapped = precision_at_recall(self.raw, levels), precision_at_recall(self.mapped, levels)
        top_k = precision_at_recall(self.top_k, levels)
        return pd.DataFrame({"recall": levels, "raw_precision": raw, "mapped_precision": mapped,
                             "top_k_precision": top_k, "gain": mapped - raw,
                             "ratio": np.divide(mapped, raw, out=np.full_like(raw, np.nan), where=raw > 0)})

    def operating_points(self, threshold: float, cutoff: float | None = None) -> pd.DataFrame:
        """Held-out precision, recall and F1 at a mapped ``threshold`` and a raw ``cutoff`` (the metric's own
        score), each where it keeps any candidate: rows ``method, label, precision, recall, f1``."""
        points = [(MAPPED, self.mapped, float(threshold), f"mapped threshold {threshold:.3f}")]
        if cutoff is not None:
            points.append((RAW, self.raw, float(closeness(np.array([cutoff]), self.metric)[0]),
                           f"the page's cut-off {cutoff:.4f}"))
        rows = []
        for method, curve, value, label in points:
            i = at_threshold(curve, value)
            if i >= 0:
                rows.append({"method": method, "label": label, "precision": curve.precision[i],
                             "recall": curve.recall[i], "f1": curve.f1[i]})
        return pd.DataFrame(rows, columns=["method", "label", "precision", "recall", "f1"])

    def gain_at_raw_best(self) -> tuple[float, float, float]:
        """``(recall, raw precision, mapped precision)`` at the recall of the raw cut-off's best F1 (the mapped
        precision interpolated: its best at that recall or more)."""
        i = self.raw.best_f1()
        recall = float(self.raw.recall[i])
        return recall, float(self.raw.precision[i]), float(precision_at_recall(self.mapped, np.array([recall]))[0])

    def rows(self, points: int = CURVE_POINTS) -> pd.DataFrame:
        """Tidy curve rows ``method, threshold, kept, precision, recall, f1`` (each curve thinned to about
        ``points``, see `thinned`); top-k rows have ``k``."""
        frames = []
        for name, curve in ((MAPPED, self.mapped), (RAW, self.raw), (TOP_K, self.top_k)):
            m = curve.threshold.size
            keep = thinned(m, points, curve.best_f1())
            frames.append(pd.DataFrame({
                "method": name,
                "threshold": [self.shown_threshold(name, v) for v in curve.threshold[keep]],
                "k": curve.threshold[keep].astype(int) if name == TOP_K else np.nan,
                "kept": curve.kept[keep].astype(np.int64), "precision": curve.precision[keep],
                "recall": curve.recall[keep], "f1": curve.f1[keep]}))
        return pd.concat(frames, ignore_index=True)

    def summary(self) -> dict:
        """Everything the CLI's JSON and a run record hold besides the curves."""
        gain = self.precision_gain()
        return {
            "method": METHOD, "depth": self.depth, "max_k": self.max_k, "seed": self.seed,
            "test_size": self.test_size, "metric": self.metric, "n_train_queries": len(self.train_ids),
            "n_test_queries": len(self.test_ids), "n_relevant_test": self.n_relevant_test,
            "fit_seconds": self.fit_seconds, "train_threshold": self.train_threshold,
            "coef": dict(zip(FEATURES, self.mapper.coef_.tolist(), strict=True)),
            "intercept": self.mapper.intercept_, "converged": self.mapper.converged_,
            "best_f1": self.best_f1().to_dict(orient="records"),
            "at_training_thresholds": self.at_training_thresholds().to_dict(orient="records"),
            "precision_at_equal_recall": gain.to_dict(orient="records"),
            "mean_gain": float(np.nanmean(gain["gain"])) if len(gain) else float("nan"),
        }


def thinned(m: int, points: int, best: int) -> np.ndarray:
    """About ``points`` of ``m`` curve indices: half spaced geometrically (dense where few candidates are kept,
    where precision moves fastest), half evenly, and the best-F1 point; sorted, unique."""
    half = max(1, points // 2)
    geometric = np.geomspace(1, m, min(half, m)).round().astype(int) - 1
    even = np.linspace(0, m - 1, min(half, m)).round().astype(int)
    return np.unique(np.r_[geometric, even, best])


def evaluate_split(cand: Candidates, train: np.ndarray, test: np.ndarray, *, max_k: int, alpha: float = 1e-3,
                   ) -> tuple[QueryAdaptiveMapper, float, Curve, Curve, Curve, float, float]:
    """Fit on ``train`` queries, measure on ``test`` queries: (mapper, fit s, mapped, raw, top-k, train mapped
    threshold, train raw cut-off)."""
    if np.intersect1d(train, test).size:
        raise ValueError("training and evaluation queries overlap")
    t0 = time.perf_counter()
    mapper = QueryAdaptiveMapper(alpha=alpha).fit(cand.scores[train], cand.relevant[train])
    fit_s = time.perf_counter() - t0
    train_total, test_total = int(cand.n_relevant[train].sum()), int(cand.n_relevant[test].sum())
    train_mapped = pr_curve(mapper.transform(cand.scores[train]), cand.relevant[train], train_total)
    train_raw = pr_curve(cand.scores[train], cand.relevant[train], train_total)
    mapped = pr_curve(mapper.transform(cand.scores[test]), cand.relevant[test], test_total)
    raw = pr_curve(cand.scores[test], cand.relevant[test], test_total)
    top_k = top_k_curve(cand.relevant[test], test_total, max_k)
    return mapper, fit_s, mapped, raw, top_k, chosen_threshold(train_mapped), chosen_threshold(train_raw)


def chosen_threshold(curve: Curve) -> float:
    """The threshold of a (training) curve's best F1, moved halfway to the next looser score: it keeps the
    same training candidates and leaves a margin below the last of them."""
    i = curve.best_f1()
    t = curve.threshold
    return float((t[i] + t[i + 1]) / 2) if i + 1 < t.size else float(t[i])


def relevance_filter(ws, *, depth: int = DEPTH, max_k: int = MAX_K, test_size: float = TEST_SIZE, seed: int = 0,
                     alpha: float = 1e-3, progress: ProgressFn | None = None, recorder=None,
                     ) -> RelevanceFilterResult:
    """Fit the query-adaptive mapping on a seeded training split of the judged queries; curves on the rest.

    ``recorder`` (a `core.store.runs.RunRecorder`) receives the curve rows and the workspace's provenance.
    """
    reason = unavailable_reason(ws)
    if reason is not None:
        raise ValueError(f"relevance filtering is not available on {ws.dataset.name}: {reason}")
    depth, max_k = _check_settings(depth, max_k, ws.dataset.n)
    report(progress, 0, 3, f"exact top-{depth} of the judged queries")
    cand, _ = judged_candidates(ws, depth, progress=progress)
    train, test = split_queries(len(cand.query_ids), test_size, seed)
    report(progress, 1, 3, f"fitting the mapping on {len(train):,} training queries")
    mapper, fit_s, mapped, raw, top_k, t_mapped, t_raw = evaluate_split(cand, train, test, max_k=max_k, alpha=alpha)
    report(progress, 3, 3, f"curves on {len(test):,} held-out queries")
    result = RelevanceFilterResult(
        mapper=mapper, train_ids=tuple(cand.query_ids[i] for i in train),
        test_ids=tuple(cand.query_ids[i] for i in test), mapped=mapped, raw=raw, top_k=top_k,
        train_threshold=t_mapped, train_raw_cut_off=t_raw, fit_seconds=fit_s, depth=depth, max_k=max_k, seed=seed,
        test_size=test_size, metric=ws.metric, n_relevant_test=int(cand.n_relevant[test].sum()))
    if recorder is not None:
        recorder.describe({**ws.provenance(), "seed": seed, "test_size": test_size})
        recorder.add(*result.rows().to_dict(orient="records"))
    return result


# ------------------------------------------------------------------ one query (the Query page)


@dataclass(frozen=True)
class QueryMapping:
    """One query's mapping: ``mapped = sigmoid(slope * closeness + intercept)``; ``raw_cut_off`` is the raw
    score (the metric's own) the global ``threshold`` amounts to for this query."""

    slope: float
    intercept: float
    threshold: float
    raw_cut_off: float
    metric: str

    def mapped(self, scores: np.ndarray) -> np.ndarray:
        """Mapped values of this query's exact scores (the metric's own), float64."""
        z = self.slope * closeness(scores, self.metric) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def keeps(self, scores: np.ndarray) -> np.ndarray:
        return self.mapped(scores) >= self.threshold


def query_mapping(result: RelevanceFilterResult, scores: np.ndarray, threshold: float,
                  excluded: int | None = None) -> QueryMapping:
    """The mapping of one query from its exact scores over the whole base ``(n,)`` (``excluded``: a row left
    out, the query item itself)."""
    s = closeness(scores, result.metric).copy()
    if excluded is not None:
        s[excluded] = -np.inf
    depth = result.mapper.depth_
    if np.isfinite(s).sum() < depth:
        raise ValueError(f"the mapping needs the query's top-{depth} scores, but only {np.isfinite(s).sum()} items "
                         "can be returned")
    n = s.size
    top = np.sort(np.partition(s, n - depth)[n - depth:])[::-1][None, :]  # the query's top-depth, best first
    slope, intercept = result.mapper.mapping(top)
    cut = float(result.mapper.raw_cut_off(top, threshold)[0])
    shown = -cut if result.metric == "l2" else cut
    return QueryMapping(float(slope[0]), float(intercept[0]), float(threshold), shown, result.metric)
