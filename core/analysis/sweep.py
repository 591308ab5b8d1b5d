"""The compression sweep: a grid of method configurations run over arrays, one tidy row each.

ann-benchmarks style: a sweep is data (a grid per method) expanded into
`Config` objects that keep build and search parameters apart; `run_sweep` builds
each distinct (method, build parameters) once, runs every search setting on that
build, and yields one row (a flat dict) per configuration as soon as it is
measured, so a page can show rows arriving. A configuration that cannot run is
a ``"skipped"`` row with its reason; an error in one is a ``"failed"`` row with
the message; the sweep never stops early.

Grid values may be given relative to the data, resolved by `expand_grid` when it
is told ``n`` and ``d``: ``"d/4"`` (a quarter of the dimension; for PQ's ``m``
the divisor of ``d`` nearest to it) and ``"sqrt(n)"`` (for ``nlist``).

This module stays whole: the grid, the cost model that plans it and the loop that runs it share
one `Config` and one row layout, and splitting them would scatter what a row means.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

from core.data.dataset import check_vectors
from core.index.exact import check_k, exact_search
from core.index.metrics import Qrels, as_relevance, mrr_at_k, ndcg_at_k, recall_at_k, recall_by_distance_per_query
from core.index.registry import (
    JUDGMENTS_NEEDED,
    METHODS,
    build,
    check_params,
    get_method,
    index_bytes,
    rerank_bytes,
    searcher,
)
from core.index.spec import Built
from core.index.task_pq import Judged
from core.progress import ProgressFn, report
from core.workspace import held_out_split

Grid = Mapping[str, Mapping[str, Iterable]]

#: Built-in grids. ``thorough`` is every method's full default grid.
PRESETS: dict[str, dict[str, dict[str, list]]] = {
    "quick": {
        "flat": {},
        "sq": {"qtype": ["fp16", "int8", "int4"]},
        "pq": {"m": ["d/8"]},
        "opq": {"m": ["d/8"], "niter": [10]},
        "pq_task": {"m": ["d/8"], "schedule": ["quick"]},
        "pq_fastscan": {"m": ["d/4"]},
        "ivf_flat": {"nlist": ["sqrt(n)"], "nprobe": [2, 8]},
        "ivf_pq": {"nlist": ["sqrt(n)"], "m": ["d/8"], "nprobe": [8]},
        "ivf_sq8": {"nlist": ["sqrt(n)"], "nprobe": [8]},
        "hnsw_flat": {"M": [16], "ef_construction": [40], "ef_search": [16, 64]},
        "hnsw_sq8": {"M": [16], "ef_construction": [40], "ef_search": [64]},
        "binary": {"center": [False], "rerank": [0, 100]},
        "bebr": {"bits": [2, 4], "center": [True]},
        "bebr_learned": {"bits": [2, 4], "hidden": [0], "schedule": ["quick"], "distance": ["sdc"]},
        "rabitq": {"nb_bits": [1, 4], "qb": [8]},
        "ivf_rabitq": {"nlist": ["sqrt(n)"], "nb_bits": [1], "nprobe": [8], "qb": [8]},
        "pca": {"d_out": ["d/4"], "codec": ["sq8"], "rerank": [0, 50]},
        "leanvec_ood": {"d_out": ["d/4"], "codec": ["sq8"], "rerank": [0, 50]},
        "truncate": {"d_out": ["d/4"], "codec": ["sq8"], "rerank": [0, 50]},
        "random_projection": {"d_out": ["d/4"], "codec": ["sq8"], "rerank": [50]},
    },
    "thorough": {name: {} for name in METHODS}
    | {"bebr_learned": {"schedule": ["thorough"]}, "pq_task": {"schedule": ["thorough"]}},
}

#: Row keys every row has (metrics are NaN when a configuration did not run).
METRIC_KEYS = (
    "recall_at_k",
    "recall_at_k_ties",
    "ndcg_at_10",
    "mrr_at_10",
    "bytes_per_vector",
    "rerank_bytes_per_vector",
    "total_bytes_per_vector",
    "compression_ratio",
    "train_s",
    "build_s",
    "search_s",
    "qps",
    "p50_ms",
    "p99_ms",
    "latency_queries",
)


@dataclass(frozen=True)
class Config:
    """One point of a grid: a method with its build and its search parameters.

    Parameters are ``(name, value)`` tuples in the method's declaration order, so a
    config is hashable and its `label` reads the same way everywhere.
    """

    method: str
    build: tuple[tuple[str, object], ...] = ()
    search: tuple[tuple[str, object], ...] = ()

    @classmethod
    def make(cls, method: str, build: Mapping | None = None, search: Mapping | None = None) -> Config:
        """Validated config with every parameter filled in (defaults for the ones not given)."""

        b = check_params(method, build or {}, "build")
        s = check_params(method, search or {}, "search")
        return cls(method, tuple(b.items()), tuple(s.items()))

    @property
    def build_params(self) -> dict:
        return dict(self.build)

    @property
    def search_params(self) -> dict:
        return dict(self.search)

    @property
    def params(self) -> dict:
        return {**self.build_params, **self.search_params}

    @property
    def build_key(self) -> tuple:
        return (self.method, self.build)

    @property
    def label(self) -> str:
        return " ".join([self.method, *(f"{k}={v}" for k, v in self.build + self.search)])


# ---------------------------------------------------------------- grids


RELATIVE_TO_D = re.compile(r"^d/([1-9][0-9]*)$")


def resolve_value(value: object, param: str, n: int | None, d: int | None) -> object:
    """Turn a relative grid value (``"d/4"``, ``"sqrt(n)"``) into a number for this data; others pass."""
    if value == "sqrt(n)":
        if n is None:
            raise ValueError(f"{param}={value!r} is relative to the base size: pass n to expand_grid")
        return max(1, round(math.sqrt(n)))
    match = RELATIVE_TO_D.match(value) if isinstance(value, str) else None
    if match is None:
        return value
    if d is None:
        raise ValueError(f"{param}={value!r} is relative to the dimension: pass d to expand_grid")
    target = d / int(match.group(1))
    if param == "m":  # PQ sub-quantizers must divide d: take the nearest divisor
        return min((m for m in range(1, d + 1) if d % m == 0), key=lambda m: (abs(m - target), -m))
    return max(1, round(target))


def expand_grid(
    methods: Iterable[str] | None = None,
    overrides: Grid | None = None,
    *,
    n: int | None = None,
    d: int | None = None,
) -> list[Config]:
    """Expand each method's grid (its full default grid, updated by ``overrides``) into configs.

    ``overrides`` maps method -> parameter -> list of values; methods in it that are
    not selected are ignored. Raises ValueError for an unknown method or parameter
    and for a value outside its range (naming both).
    """
    overrides = overrides or {}
    names = list(METHODS) if methods is None else list(methods)
    for name in [*names, *overrides]:
        get_method(name)
    configs: list[Config] = []
    for name in names:
        spec = METHODS[name]
        grid = {p.name: p.grid for p in spec.params}
        for pname, values in overrides.get(name, {}).items():
            param = spec.param(pname)
            values = [values] if isinstance(values, (str, int, float, bool)) else list(values)
            if not values:
                raise ValueError(f"{name}: {pname} needs at least one value ({param.range_text()})")
            grid[pname] = [resolve_value(v, pname, n, d) for v in values]
            for v in grid[pname]:
                param.check(v, name)
        build_grid = [dict.fromkeys(grid[p.name]) for p in spec.build_params]  # dedupe, keep order
        search_grid = [dict.fromkeys(grid[p.name]) for p in spec.search_params]
        for b in itertools.product(*build_grid):
            for s in itertools.product(*search_grid):
                configs.append(
                    Config(
                        name,
                        tuple(zip((p.name for p in spec.build_params), b, strict=True)),
                        tuple(zip((p.name for p in spec.search_params), s, strict=True)),
                    )
                )
    return configs


def preset_configs(
    name: str, methods: Iterable[str] | None = None, *, n: int | None = None, d: int | None = None
) -> list[Config]:
    """Configs of a preset (``"quick"`` or ``"thorough"``), optionally for a subset of methods."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    grid = PRESETS[name]
    chosen = list(grid) if methods is None else [get_method(m).name for m in methods]
    return expand_grid([m for m in chosen if m in grid], grid, n=n, d=d)


def group_by_build(configs: Iterable[Config]) -> list[list[Config]]:
    """Configs sharing a build, in order of first appearance (one build serves each group)."""
    groups: dict[tuple, list[Config]] = {}
    for cfg in configs:
        groups.setdefault(cfg.build_key, []).append(cfg)
    return list(groups.values())


# ---------------------------------------------------------------- estimates


def estimate_memory_bytes(config: Config, n: int, d: int) -> int:
    """Rough peak memory of building and searching ``config`` on ``n x d`` float32 data.

    The codes (`MethodSpec.code_bytes` per vector), two float32 working copies of
    the base (conversion, centering/projection/residuals during training), and a
    fixed 64 MiB for faiss's search buffers. The base the caller already holds is
    not counted.
    """
    spec = get_method(config.method)
    codes = n * spec.code_bytes(config.params, d)
    return int(codes + 2 * 4 * n * d + (64 << 20))


# Cost model of `estimate_seconds`: seconds of one build and of one batch query, as
# functions of the parameters and the data shape. Constants were fitted on 2 shared
# cores (faiss 1.15.1) on 2,150 x 384 and 99,000 x 50 unit vectors; expect a factor
# of ~2-3 either way elsewhere.
NS = 1e-9


def _simd(d: int) -> float:
    """faiss's SQ / RaBitQ kernels vectorise only when d is a multiple of 8."""
    return 1.0 if d % 8 == 0 else 8.0


def _kmeans(n: int, k: int, d: int) -> float:
    """25 k-means iterations on at most 256 points per centroid (faiss's subsampling)."""
    return min(n, 256 * k) * k * d * 25 * 0.05 * NS


def _graph_step(p: Mapping, d: int) -> float:
    """One HNSW candidate expansion: M distance computations, memory-bound on small d."""
    return p["M"] * (d * 0.05 + 40) * NS


def _ivf(per_vector: Callable[[Mapping, int], float]) -> Callable[[Mapping, int, int], float]:
    """IVF query: the coarse quantizer plus ``per_vector`` over the nprobe/nlist scanned share."""

    def cost(p: Mapping, n: int, d: int) -> float:
        return p["nlist"] * d * 0.03 * NS + n * min(1.0, p["nprobe"] / p["nlist"]) * per_vector(p, d)

    return cost


def _reduced_scan(p: Mapping, n: int, d: int) -> float:
    per = 0.03 if p["codec"] == "flat" else 0.05 * _simd(p["d_out"])
    return n * p["d_out"] * per * NS + d * p["d_out"] * 0.5 * NS + p["rerank"] * d * NS


def _pq_build(p: Mapping, n: int, d: int) -> float:
    """k-means of 256 centroids over the whole vector's worth of sub-spaces, ~12 ms set-up per sub-quantizer."""
    return _kmeans(n, 256, d) + p["m"] * 0.012 + n * d * NS


def _learned_steps(p: Mapping) -> int:
    from core.index.learned import SCHEDULES

    return SCHEDULES[p["schedule"]].steps


def _learned_batch(p: Mapping) -> int:
    from core.index.learned import SCHEDULES

    return SCHEDULES[p["schedule"]].batch


BUILD_COST: dict[str, Callable[[Mapping, int, int], float]] = {
    "flat": lambda p, n, d: 0.0,
    "sq": lambda p, n, d: n * d * 2 * NS,
    "pq": _pq_build,
    # OPQ's inner PQ runs 10 k-means iterations first and 2 between rotations (faiss_indexes.py)
    "opq": lambda p, n, d: _pq_build(p, n, d) * (1 + 0.35 * p["niter"]),
    "pq_task": lambda p, n, d: _pq_build(p, n, d) + _learned_steps(p) * _learned_batch(p) * 100 * d * 5 * NS
    + _learned_steps(p) / 25 * n * p["m"] * 100 * NS,
    "pq_fastscan": lambda p, n, d: p["m"] * 4e-3 + _kmeans(n, 16, d),
    "ivf_flat": lambda p, n, d: _kmeans(n, p["nlist"], d) + n * p["nlist"] * d * 0.03 * NS,
    "ivf_pq": lambda p, n, d: _kmeans(n, p["nlist"], d) + _pq_build(p, n, d) + n * d * 3 * NS,
    "ivf_sq8": lambda p, n, d: _kmeans(n, p["nlist"], d) + n * p["nlist"] * d * 0.03 * NS,
    "ivf_rabitq": lambda p, n, d: _kmeans(n, p["nlist"], d) + n * d * p["nb_bits"] ** 2 * 10 * NS,
    "hnsw_flat": lambda p, n, d: n * p["ef_construction"] * _graph_step(p, d),
    "hnsw_sq8": lambda p, n, d: n * p["ef_construction"] * _graph_step(p, d) * _simd(d) ** 0.4,
    "binary": lambda p, n, d: n * d * NS,
    "bebr": lambda p, n, d: n * d * p["bits"] * 2 * NS,
    "bebr_learned": lambda p, n, d: _learned_steps(p) * min(n, _learned_batch(p)) * d * (p["bits"] + 1) * 100 * NS
    + n * d * p["bits"] * 20 * NS,
    "rabitq": lambda p, n, d: n * d * p["nb_bits"] ** 2 * 10 * NS,
    "pca": lambda p, n, d: n * d * d * NS + d**3 * 2 * NS,
    "leanvec_ood": lambda p, n, d: n * d * d * NS + 23 * d**3 * 2 * NS,  # 2 folds x 11 β + 1
    "truncate": lambda p, n, d: n * d * NS,
    "random_projection": lambda p, n, d: n * d * p["d_out"] * NS,
}

QUERY_COST: dict[str, Callable[[Mapping, int, int], float]] = {
    "flat": lambda p, n, d: n * d * 0.03 * NS,
    # off the SIMD path (d not a multiple of 8) faiss's SQ scan costs ~1 ns a dimension: 38-77 ms a query
    # on all 400k GloVe-50d words (bench/sweep_large.py)
    "sq": lambda p, n, d: n * d * (0.05 if d % 8 == 0 else 1.0) * NS,
    "pq": lambda p, n, d: n * p["m"] * 0.4 * NS,
    "opq": lambda p, n, d: n * p["m"] * 0.4 * NS + d * d * 0.5 * NS,
    "pq_task": lambda p, n, d: n * p["m"] * 0.4 * NS,
    "pq_fastscan": lambda p, n, d: n * p["m"] * 0.04 * NS,
    "ivf_flat": _ivf(lambda p, d: d * 0.15 * NS),
    "ivf_pq": lambda p, n, d: _ivf(lambda p, d: p["m"] * NS)(p, n, d) + p["nprobe"] * 256 * d * 0.02 * NS,
    "ivf_sq8": _ivf(lambda p, d: d * 0.1 * _simd(d) * NS),
    "ivf_rabitq": _ivf(lambda p, d: d * p["nb_bits"] * 0.1 * _simd(d) * NS),
    "hnsw_flat": lambda p, n, d: p["ef_search"] * _graph_step(p, d),
    "hnsw_sq8": lambda p, n, d: p["ef_search"] * _graph_step(p, d),
    "binary": lambda p, n, d: n * 4 * NS + p["rerank"] * d * NS,
    "bebr": lambda p, n, d: n * d * p["bits"] * 0.03 * NS,
    "bebr_learned": lambda p, n, d: n * d * p["bits"] * (0.004 if p["distance"] == "hamming" else 0.03) * NS
    + d * d * 2 * NS,
    "rabitq": lambda p, n, d: n * d * (0.02 + 0.02 * p["nb_bits"]) * _simd(d) * NS,
    "pca": _reduced_scan,
    "leanvec_ood": _reduced_scan,
    "truncate": _reduced_scan,
    "random_projection": _reduced_scan,
}


def estimate_seconds(configs: Iterable[Config], n: int, d: int, nq: int, latency_queries: int = 200) -> float:
    """Rough wall time of `run_sweep` over ``configs`` (a factor of ~2-3 either way).

    A cost model, not a measurement: each distinct build is charged its training
    and adding, each configuration its timed batch searches (repeated up to 3
    times while under 0.2 s, as `time_batch` does) and its single-query latency
    sample (capped at 2 s, as `latency_ms` is). Configurations the data cannot
    run (they become "skipped" rows) cost nothing.
    """
    total = 0.0
    for group in group_by_build(configs):
        group = [c for c in group if get_method(c.method).validate(c.params, n, d) is None]  # skips cost ~0
        if group:
            total += BUILD_COST[group[0].method](group[0].params, n, d) + 0.02
        for cfg in group:
            per_query = QUERY_COST[cfg.method](cfg.params, n, d)
            batch = nq * per_query
            total += batch * min(3, max(1, math.ceil(0.2 / max(batch, 1e-9))))
            # BEBR answers one query with its table-lookup kernel, ~0.11 ns per code bit and vector
            # (bench/bebr.py: 1.69 ms p50 on 20k x 384 at 2 bits); a batch decodes blocks (QUERY_COST)
            bebr_like = cfg.method == "bebr" or (cfg.method == "bebr_learned" and cfg.params["distance"] != "hamming")
            single = n * d * cfg.params["bits"] * 0.12 * NS if bebr_like else 2 * per_query + 1e-5
            total += min(latency_queries * single, 2.0 + single) + 0.01
    return total


# ---------------------------------------------------------------- helpers over arrays


def split_queries(n: int, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded held-out split for datasets without queries: sorted ``(query_rows, base_rows)``.

    The query rows are removed from the base, so no query finds itself. The same
    split as the workspace's evaluation set (`core.workspace.held_out_split`).
    """
    return held_out_split(n, n_queries, seed)


def ground_truth(
    xb: np.ndarray, xq: np.ndarray, k: int, metric: str = "cosine", progress: ProgressFn | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k ``D, I`` ``(nq, k)`` of each query in ``xb`` (faiss flat search in blocks)."""
    return exact_search(xb, xq, k, metric, progress=progress)


def synthetic_embeddings(n: int, d: int = 384, seed: int = 0, rank: int = 32) -> np.ndarray:
    """Seeded stand-in for sentence embeddings: float32 ``(n, d)`` unit rows.

    A shared mean direction (embeddings are anisotropic), a ``rank``-dimensional
    signal with decaying variances, and isotropic noise. For tests and benchmarks
    when no encoded corpus is at hand.
    """
    rng = np.random.default_rng(seed)
    mean = rng.standard_normal(d)
    basis = rng.standard_normal((rank, d))
    z = rng.standard_normal((n, rank)) * np.geomspace(2.0, 0.3, rank)
    x = 0.3 * mean + z @ basis / np.sqrt(rank) + 0.5 * rng.standard_normal((n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


# ---------------------------------------------------------------- the run loop


@dataclass
class EvalData:
    """Everything a configuration is measured against (validated once per sweep)."""

    xb: np.ndarray
    xq: np.ndarray
    gt_I: np.ndarray
    metric: str
    k: int
    relevance: list[dict[int, float]] | None
    xq_train: np.ndarray
    train_note: str
    latency_xq: np.ndarray
    max_memory_bytes: int | None
    on_results: Callable[[Config, np.ndarray], str | None] | None = None
    train_judged: Judged | None = None

    @property
    def n(self) -> int:
        return self.xb.shape[0]

    @property
    def d(self) -> int:
        return self.xb.shape[1]


def run_sweep(
    xb: np.ndarray,
    xq: np.ndarray,
    gt_I: np.ndarray,
    *,
    metric: str,
    configs: Iterable[Config],
    k: int = 10,
    qrels: Qrels | None = None,
    progress: ProgressFn | None = None,
    seed: int = 0,
    xq_train: np.ndarray | None = None,
    latency_queries: int = 200,
    max_memory_bytes: int | None = None,
    threads: int | None = None,
    on_results: Callable[[Config, np.ndarray], str | None] | None = None,
    train_judged: Judged | None = None,
) -> Iterator[dict]:
    """Measure every configuration; yield one row (flat dict) per configuration.

    Args:
        xb: float32 ``(n, d)`` base; xq: float32 ``(nq, d)`` queries.
        gt_I: exact top-k ids ``(nq, >= k)`` (see `ground_truth`).
        metric: ``"cosine"`` (unit rows), ``"ip"`` or ``"l2"``.
        configs: from `expand_grid` / `preset_configs`; configs sharing a build are
            run together on one build (rows come grouped by build).
        qrels: relevant base rows per query (see `core.index.metrics`), for nDCG@10 / MRR@10.
        xq_train: queries the query-aware projection is fitted on; default: a seeded
            quarter of ``xq`` (in-sample, said in the row's note).
        latency_queries: queries timed one at a time for p50/p99 (seeded sample).
        max_memory_bytes: configurations whose `estimate_memory_bytes` exceeds it
            are skipped with the estimate in the reason.
        threads: threads for faiss (OpenMP) and numpy's BLAS during builds and
            batch searches (default: as set). Single-query latency is always measured
            on one thread, as in ann-benchmarks, so thread wake-ups do not distort it.
        on_results: called with each measured configuration and its result ids ``I`` ``(nq, k)``
            (per-query drill-down); what it returns is kept in the row as ``results_key``.
        train_judged: training queries with judgments (`core.index.task_pq.Judged`, positions into
            ``xb``) that task-aware methods train on; they must not be evaluation queries (the caller
            splits them off). Without them those methods are skipped rows saying why.

    Bad input (shapes, k, metric, threads, configs) raises ValueError here, before
    anything runs; after that every problem becomes a row.
    """
    if threads is not None and (not isinstance(threads, (int, np.integer)) or threads < 1):
        raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
    configs = list(configs)
    bad = [c for c in configs if not isinstance(c, Config)]
    if bad:
        raise ValueError(f"configs must be Config objects (see expand_grid), got {type(bad[0]).__name__}")
    data = eval_data(xb, xq, gt_I, metric, k, qrels, seed, xq_train, latency_queries, max_memory_bytes)
    data.on_results = on_results
    data.train_judged = train_judged
    return _iterate(group_by_build(configs), data, progress, seed, threads)


def _iterate(
    groups: list[list[Config]], data: EvalData, progress: ProgressFn | None, seed: int, threads: int | None
) -> Iterator[dict]:
    total, done = sum(len(g) for g in groups), 0
    for group in groups:
        report(progress, done, total, f"building {group[0].method}")
        for row in _run_group(group, data, seed, threads, _building(progress, done, total)):
            done += 1
            report(progress, done, total, row["label"])
            yield row


def _building(progress: ProgressFn | None, done: int, total: int) -> ProgressFn | None:
    """Progress of one build's training: its messages on the sweep's bar, which stays where it is."""
    if progress is None:
        return None
    return lambda _step, _steps, message="": report(progress, done, total, message)


def eval_data(xb, xq, gt_I, metric, k, qrels, seed, xq_train, latency_queries, max_memory_bytes) -> EvalData:
    xb = check_vectors(xb, "base vectors")
    xq = check_vectors(xq, "query vectors")
    if xq.shape[1] != xb.shape[1]:
        raise ValueError(f"queries have {xq.shape[1]} dims but the base has {xb.shape[1]}")
    if metric not in ("cosine", "ip", "l2"):
        raise ValueError(f"metric must be one of cosine, ip, l2, got {metric!r}")
    check_k(k, xb.shape[0])
    gt_I = np.asarray(gt_I)
    if gt_I.ndim != 2 or gt_I.shape[0] != xq.shape[0] or gt_I.shape[1] < k:
        raise ValueError(f"ground truth must have shape ({xq.shape[0]}, >= {k}), got {gt_I.shape}")
    rng = np.random.default_rng(seed)
    nq = xq.shape[0]
    train_note = ""
    if xq_train is None:
        rows = np.sort(rng.choice(nq, size=max(1, nq // 4), replace=False))
        xq_train = xq[rows]
        train_note = f"query sample = {len(rows)} of the evaluation queries (in-sample)"
    xq_train = check_vectors(xq_train, "training queries")
    latency_xq = xq[np.sort(rng.choice(nq, size=min(latency_queries, nq), replace=False))]
    relevance = None if qrels is None else as_relevance(qrels, nq)
    return EvalData(xb, xq, gt_I[:, :k], metric, k, relevance, xq_train, train_note, latency_xq, max_memory_bytes)


def _run_group(
    group: list[Config], data: EvalData, seed: int, threads: int | None, progress: ProgressFn | None = None
) -> Iterator[dict]:
    """Build once, then measure each search setting of the group (threads set only while working)."""
    reasons = [_skip_reason(cfg, data) for cfg in group]
    if all(reasons):
        yield from (result_row(cfg, data, "skipped", r) for cfg, r in zip(group, reasons, strict=True))
        return
    cfg0 = group[0]
    try:
        with limit_threads(threads):
            built = build(cfg0.method, data.xb, data.metric, cfg0.build_params, seed=seed, xq_train=data.xq_train,
                          judged=data.train_judged, progress=progress)
        size = index_bytes(built)
    except Exception as e:  # one configuration's failure must not stop the sweep
        for cfg, r in zip(group, reasons, strict=True):
            yield result_row(cfg, data, "skipped", r) if r else result_row(cfg, data, "failed", f"build: {_message(e)}")
        return
    for cfg, r in zip(group, reasons, strict=True):
        if r:
            yield result_row(cfg, data, "skipped", r)
            continue
        try:
            with limit_threads(threads):
                row = _measure(cfg, built, size, data)
        except Exception as e:
            row = result_row(cfg, data, "failed", f"search: {_message(e)}")
        yield row


@contextmanager
def limit_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``n`` threads for faiss (OpenMP) and numpy's BLAS; ``None``: unchanged."""
    if n is None:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(int(n))
    try:
        with threadpool_limits(limits=int(n)):
            yield
    finally:
        faiss.omp_set_num_threads(before)


def _skip_reason(cfg: Config, data: EvalData) -> str | None:
    spec = get_method(cfg.method)
    reason = spec.validate(cfg.params, data.n, data.d)
    if reason:
        return reason
    if spec.needs_judgments and data.train_judged is None:
        return f"{cfg.method} {JUDGMENTS_NEEDED}"
    r = cfg.params.get("rerank", 0)
    if 0 < r < data.k:
        return f"rerank={r} is smaller than k={data.k}: a shortlist must hold at least k candidates"
    if data.max_memory_bytes is not None:
        need = estimate_memory_bytes(cfg, data.n, data.d)
        if need > data.max_memory_bytes:
            return (
                f"estimated memory {need / 2**20:,.0f} MiB exceeds the limit {data.max_memory_bytes / 2**20:,.0f} MiB"
            )
    return None


def _ranking_results(cfg: Config, built: Built, I: np.ndarray, data: EvalData) -> np.ndarray | None:
    """Top-10 results for nDCG@10/MRR@10 (searched again, untimed, when the sweep's k < 10)."""
    if data.relevance is None:
        return None
    if data.k >= 10 or data.n < 10:
        return I
    try:
        return searcher(built, 10, cfg.search_params)(data.xq)[1]
    except ValueError:  # e.g. a re-rank shortlist shorter than 10
        return None


def _measure(cfg: Config, built: Built, size: int, data: EvalData) -> dict:
    search_fn = searcher(built, data.k, cfg.search_params)
    threads = faiss.omp_get_max_threads()
    (_, I), seconds = time_batch(lambda: search_fn(data.xq))
    with limit_threads(1):
        lat = latency_ms(search_fn, data.latency_xq)
    nq = data.xq.shape[0]
    bytes_per_vector = size / data.n
    rerank_per_vector = rerank_bytes(built, cfg.search_params) / data.n
    notes = [built.note, data.train_note if cfg.method == "leanvec_ood" else ""]
    rank_I = _ranking_results(cfg, built, I, data)
    results_key = data.on_results(cfg, I) if data.on_results is not None else None
    return result_row(
        cfg,
        data,
        "ok",
        "",
        note="; ".join(s for s in notes if s),
        recall_at_k=recall_at_k(I, data.gt_I, data.k),
        recall_at_k_ties=float(recall_by_distance_per_query(I, data.xb, data.xq, data.gt_I, data.k,
                                                            data.metric).mean()),
        ndcg_at_10=float("nan") if rank_I is None else ndcg_at_k(rank_I, data.relevance, 10),
        mrr_at_10=float("nan") if rank_I is None else mrr_at_k(rank_I, data.relevance, 10),
        bytes_per_vector=bytes_per_vector,
        rerank_bytes_per_vector=rerank_per_vector,
        total_bytes_per_vector=bytes_per_vector + rerank_per_vector,
        compression_ratio=4.0 * data.d / bytes_per_vector,
        train_s=built.train_s,
        build_s=built.build_s,
        search_s=seconds,
        qps=nq / seconds if seconds > 0 else float("inf"),
        p50_ms=float(np.percentile(lat, 50)),
        p99_ms=float(np.percentile(lat, 99)),
        latency_queries=len(lat),
        threads=threads,
        results_key=results_key,
    )


def time_batch(fn: Callable[[], object], min_seconds: float = 0.2, max_runs: int = 3) -> tuple[object, float]:
    """Run ``fn``; repeat while the total stays under ``min_seconds`` (at most ``max_runs``).

    Returns the first result and the fastest run's seconds.
    """
    t0 = time.perf_counter()
    result = fn()
    best = spent = time.perf_counter() - t0
    for _ in range(max_runs - 1):
        if spent >= min_seconds:
            break
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best, spent = min(best, dt), spent + dt
    return result, best


def latency_ms(
    search_fn: Callable[[np.ndarray], object], xq: np.ndarray, budget_s: float = 2.0, min_queries: int = 20
) -> np.ndarray:
    """Milliseconds of one-query searches over the rows of ``xq``, stopping after ``budget_s``
    (once ``min_queries`` have run) so a slow method cannot stall the sweep."""
    out = []
    start = time.perf_counter()
    for i in range(xq.shape[0]):
        t0 = time.perf_counter()
        search_fn(xq[i : i + 1])
        t1 = time.perf_counter()
        out.append((t1 - t0) * 1e3)
        if t1 - start > budget_s and len(out) >= min_queries:
            break
    return np.asarray(out)


def result_row(cfg: Config, data: EvalData, status: str, reason: str | None, note: str = "", **values) -> dict:
    spec = get_method(cfg.method)
    row = {
        "method": cfg.method,
        "family": spec.family,
        "label": cfg.label,
        "factory": spec.factory(cfg.params),
        "status": status,
        "reason": reason or "",
        "note": note,
        **cfg.params,
        "k": data.k,
        "metric": data.metric,
        "n": data.n,
        "d": data.d,
        "nq": int(data.xq.shape[0]),
        "threads": faiss.omp_get_max_threads(),
        "latency_threads": 1,
    }
    row.update(dict.fromkeys(METRIC_KEYS, float("nan")))
    row.update(values)
    return row


def _message(e: Exception) -> str:
    return f"{type(e).__name__}: {e}".strip()
