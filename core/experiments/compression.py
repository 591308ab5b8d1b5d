"""Workspace glue for the compression sweep (`core.analysis.sweep`).

`core.analysis.sweep.run_sweep` works on arrays; this module feeds it a workspace's cached
artifacts and keeps a person's mistakes from costing them minutes:

* `plan_sweep` -- cheap checks first (method and parameter names and ranges, k
  against the base size, the query count), then the embeddings, the grid expanded
  for this data, the time estimate and the memory check. Nothing is built.
* `sweep_for_workspace` -- the evaluation split (the dataset's queries, or a seeded
  held-out sample removed from the base), the cached exact ground truth, qrels for
  nDCG@10/MRR@10, then one row per configuration, each appended to the run
  recorder as it arrives (an interrupted run keeps its finished rows).
* `latest_sweep_run` / `load_sweep_run` -- saved sweep runs read back.

Memory: a configuration whose `core.analysis.sweep.estimate_memory_bytes` exceeds the memory
free when the sweep is planned (``MemAvailable`` of ``/proc/meminfo``, else psutil)
becomes a ``skipped`` row whose reason shows the estimate; when none fits, the sweep
is refused before anything runs (`MemoryRefusal`, a ValueError).

Why this module stays whole (about 600 lines): it is one experiment's life -- plan, run, drill into,
read back, summarise -- and every part works on the same `SweepPlan` and the same saved-row columns.
Each part is short (planning ~200 lines, running ~70, drill-down ~50, reading and summary sentences
~130) and none is used without the others; the insertion-order module, by contrast, held a second,
workspace-free study (recall against intrinsic dimension), now `core.experiments.recall_vs_id`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.analysis.sweep import (
    PRESETS,
    Config,
    estimate_memory_bytes,
    estimate_seconds,
    expand_grid,
    run_sweep,
)
from core.experiments.per_query import WORST_SHOWN, Drilldown, eval_query_lid, query_texts
from core.index.exact import check_k
from core.index.metrics import describe, pareto_frontier
from core.index.registry import METHODS, get_method
from core.index.task_pq import Judged
from core.progress import ProgressFn, report
from core.store.artifacts import artifact_key
from core.workspace import default_n_queries

KIND = "sweep"
DEFAULT_PRESET = "quick"
#: Queries timed one at a time for p50/p99 latency (as `core.analysis.sweep.run_sweep`).
LATENCY_QUERIES = 200

#: Columns of a result row that identify a configuration (the rest are measurements).
ID_COLUMNS = ("method", "family", "label", "factory", "status", "reason", "note")


class MemoryRefusal(ValueError):
    """No configuration of a sweep fits in the free memory (the message shows the estimates)."""


# ------------------------------------------------------------------------ memory


def available_memory_bytes(meminfo: str = "/proc/meminfo") -> int | None:
    """Memory the system can give a new allocation without swapping: ``MemAvailable`` of
    ``/proc/meminfo``, else ``psutil.virtual_memory().available``; ``None`` when unknown."""

    from core.data.limits import meminfo_bytes

    available = meminfo_bytes("MemAvailable", meminfo)
    if available is not None:
        return available
    try:
        import psutil
    except ImportError:
        return None
    try:
        return int(psutil.virtual_memory().available)
    except Exception:  # any failure of an optional probe means "unknown"
        return None


def format_bytes(n: float) -> str:
    """``5.1 MB``, ``830 kB``, ``1.2 GB`` (decimal units, as a person reads file sizes)."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= size:
            value = n / size
            return f"{value:.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    return f"{n:,.0f} B"


def format_mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


# ------------------------------------------------------------------------ planning


def eval_sizes(ws, n_queries: int | None) -> tuple[int, int, str]:
    """``(n_base, n_queries, source)`` the sweep will use, without encoding anything
    (mirrors `core.workspace.Workspace.eval_set`)."""
    ds = ws.dataset
    if n_queries is not None and (isinstance(n_queries, bool) or not isinstance(n_queries, (int, np.integer))
                                  or n_queries < 1):
        raise ValueError(f"the number of queries must be a positive integer, got {n_queries!r}")
    if ds.queries is not None and len(ds.queries):
        nq = len(ds.queries) if n_queries is None else min(int(n_queries), len(ds.queries))
        return ds.n, nq, "the dataset's own queries"
    if ds.n < 2:
        raise ValueError(f"{ds.name} has {ds.n} item(s): a sweep needs at least 2 to hold some out as queries")
    nq = default_n_queries(ds.n) if n_queries is None else min(int(n_queries), ds.n - 1)
    return ds.n - nq, nq, "a seeded sample of items held out from the base"


def check_grid_names(methods: Iterable[str] | None, overrides: Mapping | None) -> list[str]:
    """Method names valid, parameters known, and every literal value in range; returns the methods.

    Relative values (``"d/4"``, ``"sqrt(n)"``) are checked once the data's shape is known.
    """
    chosen = list(METHODS) if methods is None else [get_method(m).name for m in methods]
    if not chosen:
        raise ValueError("pick at least one method")
    for name, params in (overrides or {}).items():
        spec = get_method(name)
        if not isinstance(params, Mapping):
            raise ValueError(f"{name}: parameter values must be given as {{parameter: [values]}}")
        for pname, values in params.items():
            param = spec.param(pname)
            values = [values] if isinstance(values, (str, int, float, bool)) else list(values)
            if not values:
                raise ValueError(f"{name}: {pname} needs at least one value ({param.range_text()})")
            for v in values:
                if not (isinstance(v, str) and (v == "sqrt(n)" or v.startswith("d/"))):
                    param.check(v, name)
    return chosen


def preset_grid(preset: str, methods: Iterable[str], overrides: Mapping | None = None) -> dict[str, dict]:
    """Grid of ``methods``: the preset's values, replaced parameter by parameter by ``overrides``.

    A parameter neither sets takes the method's full default grid (as `core.analysis.sweep.expand_grid`).
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    overrides = overrides or {}
    return {m: {**PRESETS[preset].get(m, {}), **overrides.get(m, {})} for m in methods}


@dataclass(frozen=True)
class ParamChoice:
    """A parameter as a picker shows it: the values on offer, the preset's values, the valid range."""

    method: str
    name: str
    stage: str  # "build" or "search"
    options: list
    default: list
    help: str
    free: bool  # an integer parameter: values outside ``options`` may be typed (checked by `parse_param_values`)


def param_choices(preset: str | None, method: str, *, n: int, d: int) -> list[ParamChoice]:
    """Each parameter of ``method``: its registry grid plus the preset's values (relative ones
    resolved for ``n x d``) as options, the preset's values (or the full grid) as the default."""
    from core.analysis.sweep import resolve_value

    spec = get_method(method)
    preset_values = PRESETS[preset or DEFAULT_PRESET].get(method, {})
    out = []
    for p in spec.params:
        default = [resolve_value(v, p.name, n, d) for v in preset_values.get(p.name, p.grid)]
        default = list(dict.fromkeys(default))
        options = list(p.choices) if p.choices is not None else sorted(set(p.grid) | set(default))
        stage = "build" if p in spec.build_params else "search"
        out.append(ParamChoice(method, p.name, stage, options, default,
                               f"{p.help} ({stage} parameter); {p.range_text()}", p.choices is None))
    return out


def parse_param_values(method: str, name: str, values: Iterable) -> list:
    """Values from a picker (numbers, or text a person typed) as the parameter's type, each checked
    against its range; ValueError naming the method, the parameter and the range."""
    param = get_method(method).param(name)
    out = []
    for v in values:
        if isinstance(v, str) and param.choices is None:
            text = v.strip().replace(",", "").replace("_", "")
            try:
                v = int(text)
            except ValueError:
                raise ValueError(f"{method}: {name} must be {param.range_text()}, got {text!r}") from None
        param.check(v, method)
        out.append(v.item() if isinstance(v, np.generic) else v)
    if not out:
        raise ValueError(f"{method}: {name} needs at least one value ({param.range_text()})")
    return list(dict.fromkeys(out))


def sweep_configs(
    preset: str | None, methods: Iterable[str] | None, overrides: Mapping | None, *, n: int, d: int
) -> list[Config]:
    """Configurations of a preset (default quick) for ``methods`` with ``overrides``, resolved for ``n x d``."""
    chosen = check_grid_names(methods, overrides)
    grid = preset_grid(preset or DEFAULT_PRESET, chosen, overrides)
    return expand_grid(chosen, grid, n=n, d=d)


@dataclass
class SweepPlan:
    """What a sweep will run, on what data, and what it will cost (nothing built yet)."""

    preset: str
    methods: list[str]
    overrides: dict
    k: int
    n_queries: int | None  # as asked (None: the dataset's queries, or 10% held out)
    seed: int
    configs: list[Config]
    n_base: int
    nq: int
    d: int
    metric: str
    source: str
    estimate_s: float
    memory_available: int | None  # bytes free when planned (None: unknown, no check)
    memory_needed: dict[str, int] = field(default_factory=dict)  # config label -> estimated bytes

    @property
    def over_memory(self) -> list[str]:
        """Labels of configurations whose estimate exceeds the free memory."""
        if self.memory_available is None:
            return []
        return [label for label, need in self.memory_needed.items() if need > self.memory_available]

    @property
    def n_builds(self) -> int:
        return len({c.build_key for c in self.configs})

    @property
    def families(self) -> list[str]:
        return list(dict.fromkeys(METHODS[c.method].family for c in self.configs))

    def describe(self) -> str:
        """One sentence: configurations, builds, data and the time estimate."""
        nf = len(self.families)
        nb = self.n_builds
        return (f"{len(self.configs)} configuration{'' if len(self.configs) == 1 else 's'} "
                f"({nb} build{'' if nb == 1 else 's'}, {nf} method "
                f"{'family' if nf == 1 else 'families'}) on {self.n_base:,} base vectors of {self.d} dims, "
                f"{self.nq:,} queries "
                f"({self.source}): about {duration(self.estimate_s)} (a cost model, right within a factor of ~2-3)")

    def memory_sentence(self) -> str:
        if self.memory_available is None:
            return "Free memory is unknown here: configurations are not checked against it."
        worst = max(self.memory_needed.values(), default=0)
        text = (f"Largest memory estimate {format_mib(worst)} of {format_mib(self.memory_available)} free")
        over = self.over_memory
        if over:
            text += (f"; {len(over)} configuration(s) over it will be skipped with their estimate "
                     f"({', '.join(over[:3])}{', …' if len(over) > 3 else ''})")
        return text + "."


def duration(seconds: float) -> str:
    if seconds < 1:
        return "<1 s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def plan_sweep(
    ws,
    *,
    preset: str | None = None,
    methods: Iterable[str] | None = None,
    overrides: Mapping | None = None,
    k: int = 10,
    n_queries: int | None = None,
    seed: int = 0,
    max_memory_bytes: int | None = None,
    progress: ProgressFn | None = None,
) -> SweepPlan:
    """Validate a sweep and expand its grid for this workspace; raises ValueError on bad input.

    The cheap checks (names, ranges, k against the base size, query count) run
    before the embeddings are loaded or encoded. ``max_memory_bytes`` defaults to
    `available_memory_bytes`; `MemoryRefusal` when no configuration fits in it.
    """
    preset = preset or DEFAULT_PRESET
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    chosen = check_grid_names(methods, overrides)
    asked = n_queries
    n_queries = training_split_queries(ws, chosen, n_queries)
    n_base, nq, source = eval_sizes(ws, n_queries)
    if asked is None and n_queries is not None:
        source += f"; the other {len(ws.dataset.queries) - nq:,} train task-aware PQ and are not evaluated"
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if k > n_base:
        raise ValueError(f"recall@{k} needs at least {k} base vectors, but {ws.dataset.name} has {n_base:,} "
                         f"once {nq:,} queries are held out; choose k <= {n_base}")
    check_k(int(k), n_base)
    x = ws.embeddings(progress)
    d = int(x.shape[1])
    configs = sweep_configs(preset, chosen, overrides, n=n_base, d=d)
    if not configs:
        raise ValueError("the grid is empty: pick at least one method with at least one value per parameter")
    limit = available_memory_bytes() if max_memory_bytes is None else int(max_memory_bytes)
    plan = SweepPlan(
        preset=preset, methods=chosen, overrides={m: dict(v) for m, v in (overrides or {}).items()}, k=int(k),
        n_queries=None if n_queries is None else int(n_queries), seed=int(seed), configs=configs, n_base=n_base,
        nq=nq, d=d, metric=ws.metric, source=source,
        estimate_s=estimate_seconds(configs, n_base, d, nq, LATENCY_QUERIES), memory_available=limit,
        memory_needed={c.label: estimate_memory_bytes(c, n_base, d) for c in configs},
    )
    if limit is not None and len(plan.over_memory) == len(configs):
        least = min(plan.memory_needed.values())
        raise MemoryRefusal(
            f"no configuration fits in the free memory: the smallest estimate is {format_mib(least)} "
            f"({min(plan.memory_needed, key=plan.memory_needed.get)}) but only {format_mib(limit)} is free; "
            "use a smaller dataset (--limit) or close other programs"
        )
    return plan


# ------------------------------------------------------------------------ training queries


def judged_queries(ds) -> int:
    """How many of the dataset's own queries carry relevance judgments (0 without queries or qrels, and for
    a benchmark file's neighbour lists, which are ground truth, not judgments)."""
    if ds.queries is None or not len(ds.queries) or not ds.qrels or ds.qrels_are_neighbors:
        return 0
    return sum(1 for q in ds.queries.ids if any(r > 0 for r in ds.qrels.get(q, {}).values()))


def needs_judgments(methods: Iterable[str]) -> bool:
    return any(get_method(m).needs_judgments for m in methods)


def training_split_queries(ws, methods: Iterable[str], n_queries: int | None) -> int | None:
    """The evaluation query count when a method trains on judged queries: the one asked, or half of the
    dataset's queries (the other half trains), so no evaluation query is ever a training query."""
    if n_queries is not None or not needs_judgments(methods) or judged_queries(ws.dataset) < 2:
        return n_queries
    return len(ws.dataset.queries) // 2


def training_judgments(ws, ev) -> Judged | None:
    """The dataset's judged queries that are *not* in the evaluation set ``ev``, with their judgments as base
    positions, for task-aware methods; ``None`` when there are none."""
    ds = ws.dataset
    if not judged_queries(ds) or ev.source != "dataset queries":
        return None
    evaluated = set(ev.query_ids)
    pos = {doc: i for i, doc in enumerate(ds.ids)}
    rows, relevance = [], []
    for row, qid in enumerate(ds.queries.ids):
        if qid in evaluated:
            continue
        judged = {pos[d]: float(r) for d, r in ds.qrels.get(qid, {}).items() if r > 0 and d in pos}
        if judged:
            rows.append(row)
            relevance.append(judged)
    if not rows:
        return None
    return Judged(np.ascontiguousarray(ws.query_embeddings()[rows]), relevance)


def sweep_run_params(ws, plan: SweepPlan) -> dict:
    """Parameters a sweep run is saved with (enough to tell which workspace and grid it was)."""
    return {
        "preset": plan.preset, "methods": plan.methods, "overrides": plan.overrides, "k": plan.k,
        "n_queries": plan.n_queries, "seed": plan.seed, "configurations": len(plan.configs),
        "n_base": plan.n_base, "nq": plan.nq, "d": plan.d, "metric": plan.metric, "queries": plan.source,
        "estimate_s": round(plan.estimate_s, 1), "memory_available": plan.memory_available,
        "embeddings_key": ws.embeddings_key, "dataset_params": dict(ws.dataset.params),
    }


# ------------------------------------------------------------------------ running


def sweep_for_workspace(
    ws,
    *,
    preset: str | None = None,
    methods: Iterable[str] | None = None,
    overrides: Mapping | None = None,
    k: int = 10,
    n_queries: int | None = None,
    progress: ProgressFn | None = None,
    recorder=None,
    seed: int = 0,
    plan: SweepPlan | None = None,
    max_memory_bytes: int | None = None,
    threads: int | None = None,
    latency_queries: int = LATENCY_QUERIES,
    execution: str = "in-process",
    ray_address: str | None = None,
) -> Iterator[dict]:
    """Run the compression sweep on ``ws``; returns an iterator of one flat row per configuration.

    ``execution`` is ``"in-process"`` or ``"ray"`` (one Ray task per build group, on a
    local Ray instance or the cluster at ``ray_address``; same rows except timings).

    Validation, the evaluation split and the exact ground truth (a cached artifact)
    happen in this call, so bad input raises ValueError here; the rows are measured
    as the iterator is consumed, each appended to ``recorder`` (a `core.store.runs.RunRecorder`)
    as it arrives. ``plan`` (from `plan_sweep`) replaces the grid arguments.
    Row columns: see `core.analysis.sweep.run_sweep`.
    """
    if plan is None:
        plan = plan_sweep(ws, preset=preset, methods=methods, overrides=overrides, k=k, n_queries=n_queries,
                          seed=seed, max_memory_bytes=max_memory_bytes, progress=progress)
    if recorder is not None:
        recorder.describe({**ws.provenance(), "seed": plan.seed})
    report(progress, 0, 1, "evaluation split and exact ground truth")
    ev = ws.eval_set(plan.n_queries, plan.seed, progress=progress)
    if plan.k > ev.xb.shape[0]:  # the dataset changed since planning
        raise ValueError(f"recall@{plan.k} needs at least {plan.k} base vectors; there are {ev.xb.shape[0]}")
    _, gt_I = ws.ground_truth(ev, plan.k, progress=progress)
    qrels = ev.qrels if ev.qrels is not None and any(len(q) for q in ev.qrels) else None
    if execution == "ray":
        from core.scale.sweep import sweep_with_ray

        rows = sweep_with_ray(
            ev.xb, ev.xq, gt_I, metric=ws.metric, configs=plan.configs, k=plan.k, qrels=qrels,
            address=ray_address, progress=progress, seed=plan.seed, threads=threads or 1,
            latency_queries=latency_queries, max_memory_bytes=plan.memory_available,
        )
        return _record(rows, recorder, ev.source)
    if execution != "in-process":
        raise ValueError(f"execution must be 'in-process' or 'ray', got {execution!r}")
    rows = run_sweep(
        ev.xb, ev.xq, gt_I, metric=ws.metric, configs=plan.configs, k=plan.k, qrels=qrels, progress=progress,
        seed=plan.seed, latency_queries=latency_queries, max_memory_bytes=plan.memory_available, threads=threads,
        on_results=_results_saver(ws, ev, plan.k),
        train_judged=training_judgments(ws, ev) if needs_judgments(c.method for c in plan.configs) else None,
    )
    return _record(rows, recorder, ev.source)


def _results_saver(ws, ev, k: int):
    """Keep each configuration's result ids (an artifact), so a saved run can be drilled into per query."""

    def save(cfg, I) -> str:
        key = artifact_key("sweep-results", ws.embeddings_key, ev.key, k, cfg.method, cfg.params)
        ws.cache.save(RESULTS_KIND, key, np.asarray(I, dtype=np.int64), {"label": cfg.label, "k": k})
        return key

    return save


# ------------------------------------------------------------------ per-query drill-down

RESULTS_KIND = "sweep-results"


def drilldown(ws, run, row: Mapping) -> Drilldown | None:
    """Per-query recall and the worst queries of one configuration ``row`` of a saved sweep ``run``.

    ``None`` when the run kept no result ids (runs executed on Ray, or saved before this existed).
    """
    key = row.get("results_key")
    if not isinstance(key, str) or not key:
        return None
    hit = ws.cache.load(RESULTS_KIND, key)
    if hit is None:
        return None
    I = hit[0]
    k = int(row["k"])
    ev = ws.eval_set(run.params.get("n_queries"), int(run.params.get("seed", 0)))
    if ev.xq.shape[0] != I.shape[0]:
        return None  # the dataset changed since the run
    _, gt_I = ws.ground_truth(ev, k)
    from core.index.metrics import recall_by_distance_per_query, recall_per_query

    recall = recall_per_query(I, gt_I, k)
    ties = recall_by_distance_per_query(I, ev.xb, ev.xq, gt_I, k, ws.metric)
    lid = eval_query_lid(ws, ev)
    order = np.argsort(recall, kind="stable")[:WORST_SHOWN]
    ds = ws.dataset
    texts = query_texts(ws, ev)
    base_ids = [ds.ids[int(r)] for r in ev.base_rows]
    worst = pd.DataFrame({
        "query": [ev.query_ids[q] for q in order],
        "text": [texts[q] for q in order],
        "lid": [float(lid[q]) for q in order],
        "recall": recall[order],
        "missed": [", ".join(base_ids[i] for i in np.setdiff1d(gt_I[q, :k], I[q, :k])) for q in order],
        "returned_instead": [", ".join(base_ids[i] for i in np.setdiff1d(I[q, :k], gt_I[q, :k]) if i >= 0)
                             for q in order],
    })
    return Drilldown(recall, ties, worst, k, str(row.get("label", "")), list(ev.query_ids))


def _record(rows: Iterator[dict], recorder, source: str) -> Iterator[dict]:
    for row in rows:
        row = {**row, "queries": source}
        if recorder is not None:
            recorder.add(row)
        yield row


# ------------------------------------------------------------------------ reading rows back


def pareto_rows(rows: pd.DataFrame, x: str = "bytes_per_vector", y: str = "recall_at_k") -> pd.DataFrame:
    """The Pareto-optimal ``ok`` rows (smaller ``x``, higher ``y``), sorted by ``x``."""
    if rows.empty or x not in rows or y not in rows:
        return rows.iloc[0:0]
    return rows[pareto_frontier(rows, x, y)].sort_values([x, y], ascending=[True, False])


def latest_sweep_run(ws, store=None):
    """The newest sweep run with rows on this workspace's embeddings (done or interrupted), or None."""
    from core.store.runs import RunStore

    store = store or RunStore()
    for run in store.list_runs(kind=KIND, dataset=ws.dataset.name):
        if run.params.get("embeddings_key") == ws.embeddings_key and run.n_rows and run.status != "running":
            return run
    return None


@dataclass
class SweepRun:
    """A saved sweep run read back: the run and its rows (numeric columns as numbers)."""

    run: object  # core.store.runs.Run
    rows: pd.DataFrame

    @property
    def k(self) -> int | None:
        return None if self.rows.empty or "k" not in self.rows else int(self.rows["k"].iloc[0])


def load_sweep_run(run_id: int, store=None) -> SweepRun:
    """Rows of a saved sweep run; ValueError when the run does not exist or is another kind."""
    from core.store.runs import RunStore

    store = store or RunStore()
    run = store.get_run(run_id)
    if run.kind != KIND:
        raise ValueError(f"run #{run_id} is a {run.kind} run, not a compression sweep")
    return SweepRun(run, tidy_rows(store.rows(run_id)))


def tidy_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows read back from the store: NaN for the nulls the store wrote, numbers as floats."""
    from core.analysis.sweep import METRIC_KEYS

    rows = rows.copy()
    for col in METRIC_KEYS:
        if col in rows:
            rows[col] = pd.to_numeric(rows[col], errors="coerce").astype(float)
    for col in ("reason", "note"):
        if col in rows:
            rows[col] = rows[col].fillna("")
    return rows


# ------------------------------------------------------------------------ words


#: How encoders are named in sentences.
ENCODER_NAMES = {"given-vectors": "given", "minilm": "MiniLM", "glove-avg": "GloVe-average", "tfidf-svd": "TF-IDF+SVD"}


def embeddings_sentence(n: int, d: int, encoder: str) -> str:
    """``3,336 MiniLM vectors of 384 dims take 5.1 MB as float32`` (the live numbers of a workspace)."""
    who = ENCODER_NAMES.get(encoder, encoder)
    return f"{n:,} {who} vectors of {d} dims take {format_bytes(4.0 * n * d)} as float32"


def size_versus_float32(ratio: float) -> str:
    """``4.0× smaller than float32``, ``as large as float32`` or ``1.6× larger than float32`` (graph links,
    inverted-list ids and codebooks can make an index bigger than the vectors it holds)."""
    if ratio >= 1.05:
        return f"{ratio:.1f}× smaller than float32"
    if ratio > 1 / 1.05:
        return "about the size of float32"
    return f"{1 / ratio:.1f}× larger than float32"


def smallest_answered_budget(rows: pd.DataFrame, bytes_col: str, min_recall: float, *, fallback: float) -> float:
    """A bytes-per-vector budget the budget question can answer: the smallest ``bytes_col`` of the rows
    whose recall reaches ``min_recall``, rounded up to 0.1 B (``fallback`` when none does)."""
    reached = rows[(rows["recall_at_k"] >= min_recall) & rows[bytes_col].notna()] if len(rows) else rows
    if reached.empty:
        return float(fallback)
    return math.ceil(float(reached[bytes_col].min()) * 10 - 1e-9) / 10


def smallest_near_best(rows: pd.DataFrame, bytes_col: str = "bytes_per_vector", within: float = 0.01):
    """The smallest configuration (by ``bytes_col``) whose recall is within ``within`` of the best one
    that ran (ties: the higher recall), or ``None`` when none ran."""
    ok = rows[rows["status"] == "ok"] if "status" in rows else rows
    ok = ok.dropna(subset=["recall_at_k", bytes_col])
    if ok.empty:
        return None
    near = ok[ok["recall_at_k"] >= ok["recall_at_k"].max() - within]
    return near.sort_values([bytes_col, "recall_at_k"], ascending=[True, False]).iloc[0]


def summary_sentence(rows: pd.DataFrame, bytes_col: str = "bytes_per_vector", bold: bool = True) -> str:
    """What a finished sweep found, from its rows: the smallest configuration (by ``bytes_col``)
    within 1 point of the best recall, and the fastest. Empty when no row ran."""
    ok = rows[rows["status"] == "ok"] if "status" in rows else rows
    ok = ok.dropna(subset=["recall_at_k", bytes_col])
    if ok.empty:
        return ""
    b = "**" if bold else ""
    rk = f"recall@{int(ok['k'].iloc[0])}" if "k" in ok else "recall"
    best = ok["recall_at_k"].max()
    near = smallest_near_best(ok, bytes_col)
    ratio = 4.0 * near["d"] / near[bytes_col] if "d" in near and near[bytes_col] > 0 else float("nan")
    counted = " counting the float vectors it re-ranks with" if (
        bytes_col == "total_bytes_per_vector" and near.get("rerank_bytes_per_vector", 0) > 0) else ""
    text = (f"The smallest configuration within 1 point of the best {rk} ({best:.3f}) is {b}{describe(near)}{b}: "
            f"{near[bytes_col]:,.1f} B/vector{counted}"
            + (f" ({size_versus_float32(ratio)})" if math.isfinite(ratio) else "")
            + f", {rk} {near['recall_at_k']:.3f}")
    fast = ok[np.isfinite(ok["qps"].astype(float))]
    if not fast.empty:
        top = fast.sort_values("qps", ascending=False).iloc[0]
        text += (f"; the fastest is {b}{describe(top)}{b} at {top['qps']:,.0f} queries/s "
                 f"({rk} {top['recall_at_k']:.3f}, {top[bytes_col]:,.1f} B/vector)")
    return text + "."


def task_quality_costs(rows: pd.DataFrame, col: str = "ndcg_at_10", bytes_col: str = "bytes_per_vector") -> list[str]:
    """One `quality_cost` sentence per configuration on the task-quality Pareto frontier
    (``col`` against ``bytes_col``), smallest first, exact search excluded; empty without qrels."""
    from core.index.metrics import pareto_frontier, quality_cost, reference_row

    ok = rows[rows["status"] == "ok"] if "status" in rows else rows
    if col not in ok or not ok[col].notna().any():
        return []
    reference = reference_row(ok)
    if reference is None or not pd.notna(reference[col]):
        return []
    ok = ok.dropna(subset=[col, bytes_col])
    front = ok[pareto_frontier(ok, bytes_col, col)].sort_values(bytes_col)
    return [quality_cost(r, reference, col=col, bytes_col=bytes_col) for _, r in front.iterrows()
            if r["method"] != "flat"]
