"""One query, several indexes: what each method returns, marked against exact search.

The engine of the Query comparison page. Given the base vectors ``x`` float32
``(n, d)`` and one query ``xq`` ``(1, d)``, each chosen method of the registry
(`core.index.registry`) is built (or reused from an `IndexCache`) and searched, and its
top-k is compared with the exact ranking of the whole base:

* each returned row's **exact score** (its true similarity to the query) and its
  **exact rank** (1 = the exact nearest neighbour; ties share the best rank);
* whether it is **in the exact top-k** (tie-aware: a result whose exact score equals the
  k-th best within a relative 1e-6 counts -- exact ties such as duplicates; without ties this is
  recall by id, the Compression drill-down's number);
* **recall@k for this query**, the **overlap** ``|A ∩ B| / k`` with every other
  method, the measured single-query **latency**;
* how many results **survive a score threshold** (relevance filtering: ANN always
  returns k results; a cut-off trades recall for precision). The cut-off is applied
  to exact scores, so methods whose own scores are estimates (PQ) or Hamming
  distances (binary codes) are compared fairly.

Scores follow `core.index.exact`: inner products for ``cosine``/``ip`` (higher is closer),
squared L2 distances for ``l2`` (lower is closer).

This module stays whole: the exact reference, the index cache and the per-method results form
one comparison whose tie and cut-off rules must agree.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import faiss
import numpy as np
import pandas as pd

from core.index.exact import higher_is_closer
from core.progress import ProgressFn, report

#: Methods the page starts with: exact, graph, product quantization, binary codes + re-rank.
DEFAULT_METHODS: tuple[str, ...] = ("flat", "hnsw_flat", "pq", "binary")
#: Query-page defaults over `core.index.defaults.approx_defaults` (binary: re-rank a shortlist).
QUERY_DEFAULTS: dict[str, dict] = {"binary": {"rerank": 100}}
#: At most this many methods side by side.
MAX_METHODS = 4
#: Relative tolerance under which two exact scores count as a tie.
TIE_RTOL = 1e-6

MethodChoice = tuple[str, Mapping[str, object], Mapping[str, object]]  # (method, build params, search params)


# ------------------------------------------------------------------ small pure functions


def overlap(a: Sequence[int], b: Sequence[int], k: int) -> float:
    """``|A ∩ B| / k`` of two result lists (``-1`` entries never count)."""

    if k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    common = {int(i) for i in a} & {int(i) for i in b}
    common.discard(-1)
    return len(common) / k


def passes(scores: np.ndarray, threshold: float, metric: str) -> np.ndarray:
    """Which scores survive the cut-off: ``>= threshold`` (similarities) or ``<= threshold`` (L2)."""
    scores = np.asarray(scores, dtype=np.float64)
    return scores >= threshold if higher_is_closer(metric) else scores <= threshold


def survivor_count(scores: np.ndarray, threshold: float, metric: str) -> int:
    """How many of ``scores`` survive the cut-off (see `passes`)."""
    return int(passes(scores, threshold, metric).sum())


def closeness_key(scores: np.ndarray, metric: str) -> np.ndarray:
    """Scores turned into "smaller is closer" float64 keys (negated for similarities)."""
    s = np.asarray(scores, dtype=np.float64)
    return -s if higher_is_closer(metric) else s


def exact_scores(x: np.ndarray, q: np.ndarray, metric: str) -> np.ndarray:
    """Exact score of the query ``q`` ``(d,)`` or ``(1, d)`` against every row of ``x``: float32 ``(n,)``.

    Uses faiss's own distance kernels, so the values equal what a flat index and the
    registry's exact re-rank compute.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    q = np.ascontiguousarray(np.asarray(q, dtype=np.float32).reshape(1, -1))
    if q.shape[1] != x.shape[1]:
        raise ValueError(f"the query has {q.shape[1]} dims but the base has {x.shape[1]}")
    n = x.shape[0]
    ids = np.arange(n, dtype=np.int64)[None, :]
    out = np.empty((1, n), dtype=np.float32)
    by_idx = faiss.fvec_L2sqr_by_idx if metric == "l2" else faiss.fvec_inner_products_by_idx
    by_idx(faiss.swig_ptr(out), faiss.swig_ptr(q), faiss.swig_ptr(x), faiss.swig_ptr(ids), x.shape[1], 1, n)
    return out[0]


@dataclass
class ExactReference:
    """The exact ranking of the whole base for one query.

    ``scores`` float32 ``(n,)`` exact scores; ``excluded`` a row left out (the query
    item itself) or ``None``; ``top_rows`` int64 ``(k,)`` the exact top-k, best first;
    ``kth`` the k-th best exact score.
    """

    scores: np.ndarray
    metric: str
    k: int
    excluded: int | None = None
    top_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    kth: float = float("nan")
    _sorted_keys: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    @property
    def n(self) -> int:
        """Rows that can be returned (the excluded one not counted)."""
        return int(self.scores.shape[0]) - (self.excluded is not None)

    def keys(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        return closeness_key(self.scores[rows], self.metric)

    def ranks(self, rows: np.ndarray) -> np.ndarray:
        """Exact rank of each row (1 = nearest; tied rows share the best rank; int64)."""
        keys = self.keys(rows)
        tol = TIE_RTOL * np.maximum(1.0, np.abs(keys))
        return np.searchsorted(self._sorted_keys, keys - tol, side="left").astype(np.int64) + 1

    def in_top_k(self, rows: np.ndarray) -> np.ndarray:
        """Whether each row is in the exact top-k (ties with the k-th score count)."""
        rows = np.asarray(rows, dtype=np.int64)
        key_k = closeness_key(np.float64(self.kth), self.metric)
        ok = self.keys(rows) <= key_k + TIE_RTOL * max(1.0, abs(float(key_k)))
        if self.excluded is not None:
            ok &= rows != self.excluded
        return ok

    def count_passing(self, threshold: float) -> int:
        """How many items of the whole base (the excluded one not counted) pass the cut-off."""
        mask = passes(self.scores, threshold, self.metric)
        if self.excluded is not None:
            mask[self.excluded] = False
        return int(mask.sum())

    def top_k_passing(self, threshold: float) -> int:
        """How many of the exact top-k pass the cut-off."""
        return survivor_count(self.scores[self.top_rows], threshold, self.metric)


def exact_reference(
    x: np.ndarray, q: np.ndarray, k: int, metric: str, exclude_row: int | None = None
) -> ExactReference:
    """Exact scores and ranking of every row of ``x`` for query ``q``; ``exclude_row`` is left out."""
    n = x.shape[0]
    if exclude_row is not None and not 0 <= exclude_row < n:
        raise ValueError(f"row {exclude_row} is out of range for {n} items")
    available = n - (exclude_row is not None)
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if k > available:
        left_out = " (the query item itself is left out)" if exclude_row is not None else ""
        raise ValueError(f"k={k} but only {available} items can be returned{left_out}; choose k <= {available}")
    scores = exact_scores(x, q, metric)
    keys = closeness_key(scores, metric)
    if exclude_row is not None:
        keys[exclude_row] = np.inf
    order = np.argsort(keys, kind="stable")
    top = order[:k].astype(np.int64)
    sorted_keys = keys[order][:available]
    return ExactReference(scores, metric, int(k), exclude_row, top, float(scores[top[-1]]), sorted_keys)


def recall_for_query(in_exact: np.ndarray, k: int) -> float:
    """Recall@k of one result list from its "in exact top-k" flags (capped at 1)."""
    return min(int(np.asarray(in_exact, dtype=bool).sum()), k) / k


def relevant_rows(dataset, query_id: str | None) -> dict[int, int]:
    """``{row: relevance}`` of the documents the dataset's qrels judge relevant (> 0) to ``query_id``."""
    if (query_id is None or not dataset.qrels or getattr(dataset, "qrels_are_neighbors", False)
            or query_id not in dataset.qrels):  # a file's ground-truth neighbours are not judgments
        return {}
    pos = {doc: i for i, doc in enumerate(dataset.ids)}
    return {pos[d]: int(r) for d, r in dataset.qrels[query_id].items() if r > 0 and d in pos}


def method_defaults(method: str, n: int, d: int) -> dict:
    """Parameters a registry method starts with on the query page, fitted to ``n`` vectors of ``d`` dims."""
    from core.index.defaults import approx_defaults

    params = approx_defaults(method, n, d)
    if "nprobe" in params:  # the map shows misses with nprobe 1; one query here should open answered:
        params["nprobe"] = max(1, min(int(params["nlist"]), round(int(params["nlist"]) / 8)))  # 1/8 of the lists
    for name, value in QUERY_DEFAULTS.get(method, {}).items():
        if name == "rerank":
            value = min(int(value), n)
        params[name] = value
    return params


def method_label(method: str, build: Mapping, search: Mapping) -> str:
    """The method's factory string plus its search settings, e.g. ``HNSW16,Flat, ef_search=16``."""
    from core.index.registry import factory_string

    text = factory_string(method, {**build, **search})
    extra = [f"{name}={value}" for name, value in search.items() if name != "rerank"]
    return text + "".join(f", {e}" for e in extra)


# ------------------------------------------------------------------ index cache


@dataclass
class ExternalIndex:
    """An index built outside the method registry (an insertion-order study's HNSW build), as
    `compare_query` searches it: ``search(xq, k, search_params) -> D, I`` over the same base."""

    n: int
    search: Callable[[np.ndarray, int, Mapping], tuple[np.ndarray, np.ndarray]]
    note: str = ""


@dataclass(frozen=True)
class ExternalMethod:
    """A non-registry method for `compare_query`: its label and how to build it (once, then cached)."""

    label: str
    build: Callable[[], ExternalIndex]


@dataclass
class CachedIndex:
    built: object  # core.index.spec.Built
    seconds: float
    reused: bool


class IndexCache:
    """Built indexes per process, keyed by (embeddings key, metric, method, build params).

    Bounded (least recently used entries are dropped) and thread-safe: the app keeps
    one in ``st.cache_resource`` and every session shares it. Indexes are never mutated
    after building (searches pass faiss ``SearchParameters``).
    """

    def __init__(self, max_entries: int = 8) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, got {max_entries}")
        self.max_entries = max_entries
        self._items: OrderedDict[tuple, tuple[object, float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(embeddings_key: str, metric: str, method: str, build: Mapping) -> tuple:
        return embeddings_key, metric, method, json.dumps(dict(build), sort_keys=True, default=str)

    def __len__(self) -> int:
        return len(self._items)

    def has(self, embeddings_key: str, metric: str, method: str, build: Mapping) -> bool:
        return self.key(embeddings_key, metric, method, build) in self._items

    def get_or_build(
        self,
        embeddings_key: str,
        x: np.ndarray,
        metric: str,
        method: str,
        build: Mapping,
        *,
        xq_train: np.ndarray | None = None,
        seed: int = 0,
        builder: Callable[[], object] | None = None,
    ) -> CachedIndex:
        """The index built over ``x``: from the cache, or built now (ValueError for bad parameters).

        ``builder`` builds a non-registry index instead (see `ExternalMethod`)."""
        from core.index.registry import build as build_index

        key = self.key(embeddings_key, metric, method, build)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                built, seconds = self._items[key]
                return CachedIndex(built, seconds, True)
        # built outside the lock: a long build (minutes on a large base, in a background job) must not make
        # every other session wait for indexes that are already cached
        t0 = time.perf_counter()
        built = builder() if builder is not None else build_index(method, x, metric, dict(build), seed=seed,
                                                                   xq_train=xq_train)
        seconds = time.perf_counter() - t0
        with self._lock:
            if key in self._items:  # another session built it meanwhile: keep the first
                built, seconds = self._items[key]
                return CachedIndex(built, seconds, True)
            self._items[key] = (built, seconds)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return CachedIndex(built, seconds, False)


# ------------------------------------------------------------------ comparing methods


@dataclass
class MethodResult:
    """One method's answer to the query, marked against exact search.

    Arrays have one entry per returned result (at most ``k``), best first: ``rows``
    dataset rows; ``scores`` the method's own scores (Hamming distances for raw binary
    codes); ``exact_scores``, ``exact_ranks``, ``in_exact`` from the exact ranking;
    ``relevance`` the qrels grade (0 = not judged relevant). ``error`` is set (and the
    arrays are empty) when the method could not run.
    """

    method: str
    label: str
    k: int
    build_params: dict = field(default_factory=dict)
    search_params: dict = field(default_factory=dict)
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    exact_scores: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    exact_ranks: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    in_exact: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    relevance: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    recall: float = float("nan")
    latency_ms: float = float("nan")
    build_s: float = 0.0
    reused: bool = False
    overlap: dict[str, float] = field(default_factory=dict)
    survivors: int | None = None
    note: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def found(self) -> int:
        """How many of the exact top-k it returned."""
        return min(int(self.in_exact.sum()), self.k)

    @property
    def relevant_found(self) -> int:
        return int((self.relevance > 0).sum())


def median_latency_ms(search_fn, xq: np.ndarray, repeats: int = 5) -> float:
    """Median milliseconds of ``repeats`` single-query searches, after one warm-up call."""
    from core.analysis.sweep import latency_ms

    search_fn(xq)
    return float(np.median(latency_ms(search_fn, np.repeat(xq, max(1, repeats), axis=0), budget_s=1.0,
                                      min_queries=1)))


def _search_one(built, xq: np.ndarray, k: int, search: Mapping, exclude_row: int | None, repeats: int):
    """Top-k rows and scores of one built index (the excluded row dropped); latency in ms."""
    from core.index.registry import searcher

    depth = min(k + (exclude_row is not None), built.n)
    if isinstance(built, ExternalIndex):
        def fn(q):
            return built.search(q, depth, dict(search))
    else:
        fn = searcher(built, depth, dict(search))
    ms = median_latency_ms(fn, xq, repeats)
    D, I = fn(xq)
    keep = I[0] >= 0
    if exclude_row is not None:
        keep &= I[0] != exclude_row
    return I[0][keep][:k].astype(np.int64), np.asarray(D[0][keep][:k], dtype=np.float32), ms


#: The free-text query the Query page opens with, per dataset (a known-good example).
EXAMPLE_QUERIES = {"stdlib-docs": "read a file line by line", "pydocs": "read a file line by line"}


def example_query(dataset) -> str:
    """The query the Query page opens with: a known-good example, else the start of the first item's text."""
    if dataset.name in EXAMPLE_QUERIES:
        return EXAMPLE_QUERIES[dataset.name]
    if dataset.texts:
        return " ".join(dataset.texts[0].split()[:8])
    return ""


def compare_query(
    x: np.ndarray,
    xq: np.ndarray,
    choices: Sequence[MethodChoice],
    k: int,
    metric: str,
    *,
    exact: ExactReference | None = None,
    exclude_row: int | None = None,
    relevant: Mapping[int, int] | None = None,
    threshold: float | None = None,
    cache: IndexCache | None = None,
    embeddings_key: str = "",
    xq_train: np.ndarray | None = None,
    repeats: int = 5,
    progress: ProgressFn | None = None,
    external: Mapping[str, ExternalMethod] | None = None,
) -> list[MethodResult]:
    """Search one query with each chosen method and mark the results against exact search.

    Args:
        x: float32 ``(n, d)`` base vectors (the workspace's embeddings).
        xq: float32 ``(1, d)`` the query.
        choices: ``(method, build params, search params)`` per method (registry names).
        k: results per method.
        metric: ``"cosine"``, ``"ip"`` or ``"l2"``.
        exact: the exact ranking (`exact_reference`), computed here when ``None``.
        exclude_row: a base row left out of every result list (the query item itself).
        relevant: ``{row: grade}`` from the qrels when the query is one of the dataset's own.
        threshold: score cut-off; fills ``survivors`` (see `with_threshold`).
        cache: built indexes are taken from / put in it (keyed by ``embeddings_key``).
        xq_train: query sample for query-aware methods (leanvec_ood).
        repeats: single-query searches timed per method (median reported).
        progress: ``progress(done, total, message)`` before each index is built.
        external: methods outside the registry, by name (their build params key the cache).

    Returns one `MethodResult` per choice, in order; a method that cannot run (bad
    parameters, too few vectors to train) carries ``error`` instead of results.
    """
    xq = np.ascontiguousarray(np.asarray(xq, dtype=np.float32).reshape(1, -1))
    if xq.shape[1] != x.shape[1]:
        raise ValueError(f"the query has {xq.shape[1]} dims but the base has {x.shape[1]}")
    if not choices:
        raise ValueError("choose at least one method to compare")
    if exact is None:
        exact = exact_reference(x, xq, k, metric, exclude_row)
    elif exact.k != k or exact.excluded != exclude_row:
        raise ValueError(f"the exact reference was computed for k={exact.k}, not k={k}")
    cache = cache if cache is not None else IndexCache(max_entries=max(len(choices), 1))
    relevant = dict(relevant or {})
    to_build = [c for c in choices if not cache.has(embeddings_key, metric, c[0], c[1])]
    built_so_far = 0
    results = []
    for method, build, search in choices:
        build, search = dict(build), dict(search)
        extra = (external or {}).get(method)
        try:
            label = extra.label if extra is not None else method_label(method, build, search)
        except (ValueError, KeyError) as exc:
            results.append(MethodResult(method, method, k, build, search, error=_message(exc)))
            continue
        result = MethodResult(method, label, k, build, search)
        try:
            if not cache.has(embeddings_key, metric, method, build):
                message = f"building {method} ({label}) over {x.shape[0]:,} vectors"
                report(progress, built_so_far, len(to_build), message)
                built_so_far += 1
            entry = cache.get_or_build(embeddings_key, x, metric, method, build, xq_train=xq_train,
                                       builder=None if extra is None else extra.build)
            rows, scores, ms = _search_one(entry.built, xq, k, search, exclude_row, repeats)
        except (ValueError, RuntimeError) as exc:
            result.error = _message(exc)
            results.append(result)
            continue
        result.rows, result.scores, result.latency_ms = rows, scores, ms
        result.build_s, result.reused, result.note = entry.seconds, entry.reused, entry.built.note
        result.exact_scores = exact.scores[rows]
        result.exact_ranks = exact.ranks(rows)
        result.in_exact = exact.in_top_k(rows)
        result.relevance = np.array([relevant.get(int(r), 0) for r in rows], dtype=np.int64)
        result.recall = recall_for_query(result.in_exact, k)
        results.append(result)
    if to_build:
        report(progress, len(to_build), len(to_build), "indexes ready")
    for a in results:
        a.overlap = {b.method: overlap(a.rows, b.rows, k) for b in results if b is not a and a.ok and b.ok}
    return with_threshold(results, threshold, metric) if threshold is not None else results


def _message(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.removeprefix("Error in ").split("\n")[0] if isinstance(exc, RuntimeError) else text


def with_threshold(results: Sequence[MethodResult], threshold: float, metric: str) -> list[MethodResult]:
    """Copies of ``results`` with ``survivors``: how many exact scores pass the cut-off."""
    return [
        dataclasses.replace(r, survivors=survivor_count(r.exact_scores, threshold, metric) if r.ok else None)
        for r in results
    ]


def threshold_range(exact: ExactReference, results: Sequence[MethodResult]) -> tuple[float, float, float]:
    """``(low, high, default)`` for a cut-off slider: the span of the exact scores shown.

    Covers the exact top-k and every method's results; the default is the exact score
    of rank ``ceil(k / 2)``, so about half of the exact top-k survives.
    """
    shown = [exact.scores[exact.top_rows]] + [r.exact_scores for r in results if r.ok and r.rows.size]
    values = np.concatenate(shown).astype(np.float64)
    lo, hi = float(values.min()), float(values.max())
    default = float(exact.scores[exact.top_rows[(exact.k - 1) // 2]])
    if hi <= lo:
        hi = lo + max(abs(lo), 1.0) * 1e-3
    return lo, hi, min(max(default, lo), hi)


# ------------------------------------------------------------------ tables for display


def snippet(text: str, width: int = 80) -> str:
    """Whitespace collapsed, cut to ``width`` characters with an ellipsis."""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def result_frame(result: MethodResult, dataset, threshold: float | None = None, metric: str = "cosine",
                 width: int = 80, judged: bool = False) -> pd.DataFrame:
    """One row per result: rank, id, score, exact score, in exact top-k, exact rank, (relevant), (passes), text.

    ``relevant`` (the qrels grade) is shown when ``judged`` (the query has relevance judgments);
    ``passes cut-off`` when a ``threshold`` is given; ``text`` is the label and a snippet of the
    passage (text datasets) or the label (vectors), absent when the dataset has neither.
    """
    rows = []
    kept = None if threshold is None else passes(result.exact_scores, threshold, metric)
    for i, row in enumerate(result.rows):
        row = int(row)
        item = {
            "rank": i + 1,
            "id": dataset.ids[row],
            "score": float(result.scores[i]),
            "exact score": float(result.exact_scores[i]),
            "in exact top-k": bool(result.in_exact[i]),
            "exact rank": int(result.exact_ranks[i]),
        }
        if judged:
            item["relevant"] = int(result.relevance[i])
        if kept is not None:
            item["passes cut-off"] = bool(kept[i])
        if dataset.labels is not None or dataset.texts is not None or dataset.titles is not None:
            label = str(dataset.labels[row]) if dataset.labels is not None else ""
            text = dataset.display_text(row) if dataset.texts is not None or dataset.titles is not None else ""
            item["text"] = snippet(f"[{label}] {text}" if label and text else (text or label), width)
        rows.append(item)
    columns = ["rank", "id", "score", "exact score", "in exact top-k", "exact rank", "relevant", "passes cut-off",
               "text"]
    frame = pd.DataFrame(rows)
    return frame[[c for c in columns if c in frame.columns]] if rows else pd.DataFrame(columns=columns)


def overlap_frame(results: Sequence[MethodResult]) -> pd.DataFrame:
    """Methods × methods matrix of ``|A ∩ B| / k`` (1 on the diagonal), methods that ran only."""
    ok = [r for r in results if r.ok]
    data = {b.method: [1.0 if a is b else a.overlap.get(b.method, float("nan")) for a in ok] for b in ok}
    return pd.DataFrame(data, index=[r.method for r in ok])


def score_rows(results: Sequence[MethodResult], exact: ExactReference) -> pd.DataFrame:
    """Tidy rows ``method, rank, exact_score`` for every method and for the exact top-k."""
    frames = [pd.DataFrame({"method": "exact top-k", "rank": np.arange(1, exact.k + 1),
                            "exact_score": exact.scores[exact.top_rows].astype(np.float64)})]
    for r in results:
        if r.ok and r.rows.size:
            frames.append(pd.DataFrame({"method": r.method, "rank": np.arange(1, r.rows.size + 1),
                                        "exact_score": r.exact_scores.astype(np.float64)}))
    return pd.concat(frames, ignore_index=True)


def summary_line(result: MethodResult, threshold_text: str = "") -> str:
    """``recall@10 = 0.90 · 0.42 ms · overlap hnsw_flat 0.9, pq 0.7 · 6 of 10 pass the cut-off``."""
    if not result.ok:
        return f"could not run: {result.error}"
    parts = [f"recall@{result.k} = {result.recall:.2f}", f"{result.latency_ms:.2f} ms"]
    if result.overlap:
        parts.append("overlap " + ", ".join(f"{m} {v:.2f}" for m, v in result.overlap.items()))
    if result.survivors is not None:
        parts.append(f"{result.survivors} of {result.rows.size} pass the cut-off{threshold_text}")
    return " · ".join(parts)


# ------------------------------------------------------------------ an insertion-order study's build

#: The Query page's name for "one build of a saved insertion-order study" (see `order_study_method`).
ORDER_STUDY = "order_study"


def order_study_method(ws, run, params: Mapping) -> tuple[ExternalMethod, dict, dict]:
    """One build of a saved insertion-order ``run`` as a `compare_query` method: ``(method, build, search)``.

    ``params``: ``backend``, ``order``, ``seed`` (seeded orders) and ``ef_search``. The graph is rebuilt
    exactly as the study built it (`core.experiments.insertion_order.study_index`), over the study's base.
    """
    from core.experiments.insertion_order import study_index

    backend, order = str(params.get("backend", "faiss")), str(params.get("order", "original"))
    seed = params.get("seed")
    ef = int(params.get("ef_search", 16))
    M, efc = run.params.get("M"), run.params.get("ef_construction")
    seeded = f", seed {int(seed)}" if seed is not None and order in ("random", "category") else ""
    label = (f"HNSW{M} ({backend}, {order} order{seeded}, efConstruction={efc}, study run #{run.id}), "
             f"ef_search={ef}")

    def build() -> ExternalIndex:
        built, inputs = study_index(ws, run.params, backend, order, None if seed is None else int(seed))

        def search(xq: np.ndarray, k: int, sp: Mapping) -> tuple[np.ndarray, np.ndarray]:
            return built.search(xq, k, int(sp.get("ef_search", ef)))

        return ExternalIndex(inputs.n_base, search, note=f"inserted one at a time in {order} order, one thread")

    build_params = {"run": int(run.id), "backend": backend, "order": order, "seed": seed}
    return ExternalMethod(label, build), build_params, {"ef_search": ef}
