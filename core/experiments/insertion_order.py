"""Workspace glue for the HNSW insertion-order experiment.

`core.analysis.insertion_order` works on arrays; this module feeds it a workspace's cached artifacts
(embeddings, exact kNN graph, evaluation split, ground truth, LID), caches what it computes, and
flattens results into run rows:

* `order_study_for_workspace` -- the insertion-order study on the workspace's eval
  split; each configuration's per-query recall is an artifact (kind
  ``"per-query-recall"``, the row in its metadata), so rerunning a study, or one that
  adds an order, only builds what is new. `load_order_run` reads a saved run back.
* `order_diagnostics` -- in-degree, hubs and never-returned base points of one build.
* `estimate_study_seconds` -- the time a study will take, from a probe build.

LID of base and held-out query vectors comes from the kNN graph of *all* items
(queries included), the graph every page shares; a query's LID is therefore read
off its own row of that graph. For datasets with their own queries, query LID is
`core.analysis.insertion_order.query_lid` against the base (artifact kind ``"query-lid"``).

This module stays whole: the study's parameters, its cached per-query recall, saved-run loading and
its diagnostics share one artifact layout.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from core.analysis.insertion_order import (
    BACKENDS,
    DEFAULT_EF_SEARCH,
    DEFAULT_ORDERS,
    ORDERS,
    SEEDED_ORDERS,
    build_hnsw,
    faiss_level0_graph,
    in_degree,
    insertion_order,
    never_returned,
    plan_order_units,
    query_lid,
    recall_vs_lid,
    run_order_units,
    study_jobs,
    validate_permutation,
)
from core.experiments.intrinsic import DEFAULT_LID_K, DUPLICATE_TOL, check_neighbours, lid_for_workspace
from core.progress import ProgressFn, report
from core.store.artifacts import artifact_key

# ---------------------------------------------------------------- order study


@dataclass
class OrderStudyParams:
    """Parameters of an insertion-order study on a workspace (build and search kept apart)."""

    backends: tuple[str, ...] = BACKENDS
    orders: tuple[str, ...] = DEFAULT_ORDERS
    seeds: tuple[int, ...] = (0, 1, 2)
    M: int = 16
    ef_construction: int = 128
    ef_search: tuple[int, ...] = DEFAULT_EF_SEARCH
    k: int = 10
    n_queries: int | None = None  # None: the dataset's queries, or 10% held out (at most 1,000)
    query_seed: int = 0
    lid_k: int = DEFAULT_LID_K

    def __post_init__(self) -> None:
        self.backends = tuple(self.backends)
        self.orders = tuple(dict.fromkeys(self.orders))
        self.seeds = tuple(int(s) for s in self.seeds)
        self.ef_search = tuple(int(e) for e in self.ef_search)
        unknown = [b for b in self.backends if b not in BACKENDS]
        if unknown or not self.backends:
            raise ValueError(f"backends must be among {', '.join(BACKENDS)}, got {list(self.backends)}")
        bad = [o for o in self.orders if o not in ORDERS]
        if bad or not self.orders:
            raise ValueError(f"orders must be among {', '.join(ORDERS)}, got {list(self.orders)}")
        if not self.ef_search or min(self.ef_search) < 1:
            raise ValueError(f"efSearch must be a list of positive integers, got {list(self.ef_search)}")
        if any(o in SEEDED_ORDERS for o in self.orders) and not self.seeds:
            raise ValueError("random and category orders need at least one seed")
        if self.M < 2 or self.ef_construction < 1:
            raise ValueError(f"M must be >= 2 and efConstruction >= 1, got M={self.M}, "
                             f"efConstruction={self.ef_construction}")
        if self.k < 1:
            raise ValueError(f"k must be positive, got {self.k}")
        if self.n_queries is not None and self.n_queries < 1:
            raise ValueError(f"the number of queries must be positive, got {self.n_queries}")

    def as_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> OrderStudyParams:
        names = cls.__dataclass_fields__
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names})

    def configurations(self) -> list[tuple[str, str, int | None]]:
        """``(backend, order, seed)`` of every build, in the order they run."""

        return [
            (b, o, s)
            for b in self.backends
            for o in self.orders
            for s in (self.seeds if o in SEEDED_ORDERS else (None,))
        ]


@dataclass
class OrderStudyInputs:
    """Everything a study needs, read from the workspace's caches (see `prepare_order_study`)."""

    xb: np.ndarray
    xq: np.ndarray
    gt_D: np.ndarray
    gt_I: np.ndarray
    base_rows: np.ndarray  # dataset row of each base vector
    lid: np.ndarray  # (n_base,) LID of the base vectors
    query_lid: np.ndarray  # (nq,)
    labels: np.ndarray | None  # (n_base,) or None
    custom: np.ndarray | None  # (n_base,) permutation of base positions, or None
    source: str
    study_key: str
    metric: str
    extra: dict = field(default_factory=dict)

    @property
    def n_base(self) -> int:
        return int(self.xb.shape[0])


def custom_to_base(custom_rows, n_items: int, base_rows: np.ndarray) -> np.ndarray:
    """An uploaded order over dataset rows ``0..n_items-1`` as a permutation of base positions.

    Held-out query rows are skipped; the rest keep their relative order.
    """
    rows = validate_permutation(custom_rows, n_items, "uploaded order")
    position = np.full(n_items, -1, dtype=np.int64)
    position[np.asarray(base_rows, dtype=np.int64)] = np.arange(len(base_rows))
    mapped = position[rows]
    return mapped[mapped >= 0]


def _versions() -> dict:
    import faiss
    import hnswlib

    return {"faiss": getattr(faiss, "__version__", "?"), "hnswlib": getattr(hnswlib, "__version__", "?")}


def check_order_inputs(ws, params: OrderStudyParams, custom_order=None) -> int:
    """Cheap checks before anything is computed; returns the LID k. Raises ValueError."""
    ds = ws.dataset
    if "category" in params.orders and ds.labels is None:
        raise ValueError(f"{ds.name} has no categories: the category order needs a label per item")
    if "custom" in params.orders and custom_order is None:
        raise ValueError("the custom order needs a column of row ids: upload one (or --custom-order FILE)")
    if custom_order is not None:
        validate_permutation(custom_order, ds.n, "uploaded order")
    return check_neighbours(params.lid_k, ds.n, "LID k")


def prepare_order_study(
    ws, params: OrderStudyParams, *, custom_order=None, progress: ProgressFn | None = None
) -> OrderStudyInputs:
    """Eval split, exact ground truth, LID of base and queries (all cached artifacts).

    ``custom_order``: a permutation of the dataset's rows ``0..n-1`` (see `custom_to_base`).
    Raises ValueError on bad input before anything is built.
    """
    ds = ws.dataset
    lid_k = check_order_inputs(ws, params, custom_order)
    report(progress, 0, 3, "evaluation split and exact ground truth")
    ev = ws.eval_set(params.n_queries, params.query_seed, progress=progress)
    if params.k > ev.xb.shape[0]:
        raise ValueError(f"recall@{params.k} needs at least {params.k} base vectors; there are {ev.xb.shape[0]}")
    gt_D, gt_I = ws.ground_truth(ev, params.k, progress=progress)
    report(progress, 1, 3, f"LID of every item (k={lid_k})")
    lid = lid_for_workspace(ws, lid_k, progress).lid
    custom, custom_sha = None, None
    if custom_order is not None:
        rows = validate_permutation(custom_order, ds.n, "uploaded order")
        custom = custom_to_base(rows, ds.n, ev.base_rows)
        custom_sha = artifact_key("custom-order", rows.tolist())
        if not ws.cache.exists("custom-order", custom_sha):
            ws.cache.save("custom-order", custom_sha, rows, {"n": ds.n})
    study_key = artifact_key(
        "order-study", ws.embeddings_key, ev.key, ws.metric, params.k, params.M, params.ef_construction,
        lid_k, DUPLICATE_TOL, custom_sha, _versions(),
    )
    report(progress, 2, 3, "LID of the queries")
    if ev.query_rows is not None:  # held-out items: their own rows of the all-items graph
        qlid = lid[ev.query_rows]
    else:
        qlid = ws.cache.get_or_compute(
            "query-lid", artifact_key(study_key, "query-lid"),
            lambda: query_lid(ev.xb, ev.xq, metric=ws.metric, k=min(lid_k, ev.xb.shape[0] - 1)),
        )[0]
    qkey = artifact_key(study_key, "query-lid")
    if ev.query_rows is not None and not ws.cache.exists("query-lid", qkey):
        ws.cache.save("query-lid", qkey, np.asarray(qlid, dtype=np.float64), {"from": "kNN graph of all items"})
    labels = None
    if ds.labels is not None:
        labels = np.asarray([str(ds.labels[i]) for i in ev.base_rows])
    report(progress, 3, 3, "inputs ready")
    return OrderStudyInputs(
        xb=ev.xb, xq=ev.xq, gt_D=gt_D, gt_I=gt_I, base_rows=np.asarray(ev.base_rows), lid=lid[ev.base_rows],
        query_lid=np.asarray(qlid, dtype=np.float64), labels=labels, custom=custom, source=ev.source,
        study_key=study_key, metric=ws.metric, extra={"custom_sha": custom_sha, "lid_k": lid_k},
    )


def load_custom_order(ws, sha: str | None) -> np.ndarray | None:
    """The uploaded order (dataset rows) a run used, from its ``custom_order_sha``; None if gone."""
    if not sha:
        return None
    hit = ws.cache.load("custom-order", sha)
    return None if hit is None else hit[0]


def read_order_column(source) -> np.ndarray:
    """One column of row ids from a path, bytes or file object: ``.npy``, or CSV/text with one
    id per line (a header line is allowed). Raises ValueError saying what is wrong."""
    import io
    import os

    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            data = f.read()
    elif isinstance(source, bytes):
        data = source
    else:
        data = source.read()
    if data[:6] == b"\x93NUMPY":
        arr = np.load(io.BytesIO(data), allow_pickle=False)
        if arr.ndim == 2 and arr.shape[1] == 1:
            arr = arr[:, 0]
        return arr
    try:
        frame = pd.read_csv(io.BytesIO(data), header=None, comment="#", skip_blank_lines=True)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"the order file is not one column of row ids ({exc})") from None
    if frame.shape[1] != 1:
        raise ValueError(f"the order file has {frame.shape[1]} columns; give one column of row ids")
    col = frame.iloc[:, 0]
    if not pd.api.types.is_numeric_dtype(col):
        col = pd.to_numeric(col.iloc[1:], errors="coerce")  # first line may be a header
        if col.isna().any() or col.empty:
            raise ValueError("the order file must hold integer row ids, one per line (a header line is allowed)")
    return col.to_numpy()


def eval_sizes(ws, n_queries: int | None) -> tuple[int, int, str]:
    """``(n_base, n_queries, source)`` the study will use, without computing anything
    (mirrors `core.workspace.Workspace.eval_set`)."""
    from core.workspace import default_n_queries

    ds = ws.dataset
    if ds.queries is not None and len(ds.queries):
        nq = len(ds.queries) if n_queries is None else min(n_queries, len(ds.queries))
        return ds.n, nq, "the dataset's own queries"
    nq = default_n_queries(ds.n) if n_queries is None else min(n_queries, ds.n - 1)
    return ds.n - nq, nq, "items held out from the base (seeded sample)"


def per_query_key(study_key: str, backend: str, order: str, seed, ef_search: int) -> str:
    """Artifact key of one configuration's per-query recall."""
    return artifact_key(study_key, backend, order, None if seed is None else int(seed), int(ef_search))


def _seed_or_none(seed) -> int | None:
    if seed is None or pd.isna(seed):
        return None
    return int(seed)


def order_study_for_workspace(
    ws,
    params: OrderStudyParams,
    progress: ProgressFn | None = None,
    recorder=None,
    *,
    custom_order=None,
    inputs: OrderStudyInputs | None = None,
    jobs: int | None = None,
) -> Iterator[dict]:
    """Run the insertion-order study on ``ws``: yields one flat row per (backend, order, seed, efSearch).

    Rows are `core.analysis.insertion_order.OrderRow` fields plus ``study`` (the key of its artifacts) and
    ``reused`` (True when loaded from a previous identical configuration instead of built).
    Each configuration's per-query recall is saved as an artifact; rows go to ``recorder``.
    Reused configurations come first, then the new builds as each finishes, ``jobs`` at a time in
    worker processes (None: automatic, see `study_workers`; 1: one after another in this process).
    ``jobs`` changes only the timings and the order rows arrive in, so it is not a parameter of the
    run: `sort_order_rows` (used by `load_order_run`) puts a run's rows back in plan order.
    """
    if inputs is None:
        inputs = prepare_order_study(ws, params, custom_order=custom_order, progress=progress)
    if recorder is not None:
        recorder.describe({**ws.provenance(), "seeds": list(params.seeds), "study": inputs.study_key})
    configs = params.configurations()
    total = len(configs)
    todo: list[tuple[str, str, int | None]] = []
    reused = 0
    for backend, order, seed in configs:
        keys = {ef: per_query_key(inputs.study_key, backend, order, seed, ef) for ef in params.ef_search}
        hits = {ef: ws.cache.load("per-query-recall", key) for ef, key in keys.items()}
        if not all(h is not None and "row" in h[1] for h in hits.values()):
            todo.append((backend, order, seed))
            continue
        seed_text = "" if seed is None else f" seed {seed}"
        report(progress, reused, total, f"{backend} · {order}{seed_text}: reused")
        reused += 1
        for ef in params.ef_search:
            flat = dict(hits[ef][1]["row"], reused=True)
            if recorder is not None:
                recorder.add(flat)
            yield flat
    if todo:
        wanted = set(todo)
        units = [u for u in plan_order_units(
            inputs.n_base, orders=[o for o in params.orders if any(t[1] == o for t in todo)], seeds=params.seeds,
            backends=params.backends, lid=inputs.lid, labels=inputs.labels,
            custom_order=inputs.custom if "custom" in params.orders else None,
        ) if (u.backend, u.order, u.seed) in wanted]

        def step(done: int, _units: int, message: str) -> None:
            report(progress, reused + done, total, message)

        study = run_order_units(
            inputs.xb, inputs.xq, inputs.gt_I, units, metric=inputs.metric, M=params.M,
            ef_construction=params.ef_construction, ef_search=params.ef_search, k=params.k, gt_D=inputs.gt_D,
            jobs=jobs, progress=step,
        )
        with contextlib.closing(study):  # stopping here stops the workers at once
            for row, per_query in study:
                flat = {**row.as_dict(), "study": inputs.study_key}
                ws.cache.save("per-query-recall", per_query_key(inputs.study_key, row.backend, row.order, row.seed,
                                                                row.ef_search), per_query, {"row": flat})
                flat = dict(flat, reused=False)
                if recorder is not None:
                    recorder.add(flat)
                yield flat
    report(progress, total, total, "insertion-order study done")


def study_workers(params: OrderStudyParams, n_base: int, jobs: int | None = None, *, n_builds: int | None = None
                  ) -> int:
    """Worker processes a study of ``params`` over ``n_base`` vectors builds with (1: in this process);
    ``jobs=None`` is the automatic choice (`core.analysis.insertion_order.study_jobs`). ``n_builds``:
    how many builds are left to run (default all; reused ones are not built)."""
    n_builds = len(params.configurations()) if n_builds is None else n_builds
    return study_jobs(jobs, n_base, n_builds) if n_builds else 1


def sort_order_rows(rows: pd.DataFrame, params: OrderStudyParams) -> pd.DataFrame:
    """Rows in plan order: backend, order and seed as `OrderStudyParams.configurations` lists them,
    then efSearch as given; rows outside the plan go last, in their order. Parallel builds save rows
    in the order builds finish; this makes a run read the same whatever ``jobs`` was."""
    if rows.empty or not {"backend", "order", "seed", "ef_search"} <= set(rows.columns):
        return rows
    rank = {cfg: i for i, cfg in enumerate(params.configurations())}
    ef_rank = {ef: i for i, ef in enumerate(params.ef_search)}
    late = len(rank)
    key = [
        (rank.get((str(b), str(o), _seed_or_none(s)), late), ef_rank.get(int(e), len(ef_rank)))
        for b, o, s, e in zip(rows["backend"], rows["order"], rows["seed"], rows["ef_search"], strict=True)
    ]
    position = sorted(range(len(key)), key=key.__getitem__)  # stable: ties keep arrival order
    return rows.iloc[position].reset_index(drop=True)


def order_run_params(ws, params: OrderStudyParams, inputs: OrderStudyInputs | None = None) -> dict:
    """Parameters saved with an order run: the study's, plus what identifies the workspace."""
    out = params.as_dict() | {"embeddings_key": ws.embeddings_key, "metric": ws.metric,
                              "dataset_params": dict(ws.dataset.params)}
    if inputs is not None:
        out |= {"n_base": inputs.n_base, "n_queries_used": int(inputs.xq.shape[0]), "queries": inputs.source,
                "custom_order_sha": inputs.extra.get("custom_sha")}
    return out


# ------------------------------------------------------------- reading results


def summarize_order_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean, min and max recall over seeds per ``backend``, ``order``, ``ef_search`` (``n_builds`` = seeds)."""
    if rows.empty:
        return pd.DataFrame(columns=["backend", "order", "ef_search", "mean", "min", "max", "n_builds"])
    g = rows.groupby(["backend", "order", "ef_search"], sort=False)["recall_at_k"]
    out = g.agg(["mean", "min", "max", "size"]).reset_index().rename(columns={"size": "n_builds"})
    return out.sort_values(["backend", "order", "ef_search"], kind="stable").reset_index(drop=True)


def order_gaps(rows: pd.DataFrame) -> pd.DataFrame:
    """Per ``backend`` and ``ef_search``: best and worst order (by mean recall over seeds) and the gap
    in percentage points. Needs at least two orders."""
    cols = ["backend", "ef_search", "best_order", "best", "worst_order", "worst", "gap_points"]
    summary = summarize_order_rows(rows)
    if summary.empty or summary["order"].nunique() < 2:
        return pd.DataFrame(columns=cols)
    out = []
    for (backend, ef), group in summary.groupby(["backend", "ef_search"], sort=True):
        best = group.loc[group["mean"].idxmax()]
        worst = group.loc[group["mean"].idxmin()]
        out.append({"backend": backend, "ef_search": int(ef), "best_order": best["order"], "best": best["mean"],
                    "worst_order": worst["order"], "worst": worst["mean"],
                    "gap_points": 100.0 * (best["mean"] - worst["mean"])})
    return pd.DataFrame(out, columns=cols)


def gap_sentence(gaps: pd.DataFrame, backend: str) -> str:
    """The best–worst gap of one backend in words, e.g. for the page and the CLI."""
    g = gaps[gaps["backend"] == backend]
    if g.empty:
        return ""
    differ = g[g["gap_points"] >= 0.05]
    ties = g[g["gap_points"] < 0.05]
    parts = [f"{r.gap_points:.1f} points at efSearch {r.ef_search} ({r.best_order} {r.best:.1%} vs "
             f"{r.worst_order} {r.worst:.1%})" for r in differ.itertuples()]
    text = f"{backend}: "
    if parts:
        text += "the best insertion order beats the worst by " + "; ".join(parts) + "."
    if not ties.empty:
        efs = ", ".join(str(int(e)) for e in ties["ef_search"])
        text += (" " if parts else "") + f"All orders tie (within 0.05 points) at efSearch {efs}."
    if len(differ) > 1:
        widest = differ.loc[differ["gap_points"].idxmax()]
        text += f" Widest gap: {widest.gap_points:.1f} points at efSearch {int(widest.ef_search)}."
    return text


def latest_order_run(ws, store=None):
    """The newest order run with rows on this workspace's embeddings (done or interrupted), or None."""
    from core.store.runs import RunStore

    store = store or RunStore()
    for run in store.list_runs(kind="order", dataset=ws.dataset.name):
        if run.params.get("embeddings_key") == ws.embeddings_key and run.status != "running" and run.n_rows:
            return run
    return None


@dataclass
class OrderRun:
    """A saved order run read back: its rows and the workspace artifacts they point to."""

    run: object  # core.store.runs.Run
    rows: pd.DataFrame

    @property
    def study_key(self) -> str | None:
        return None if self.rows.empty or "study" not in self.rows else str(self.rows["study"].iloc[0])


def load_order_run(run_id: int, store=None) -> OrderRun:
    from core.store.runs import RunStore

    store = store or RunStore()
    run = store.get_run(run_id)
    if run.kind != "order":
        raise ValueError(f"run #{run_id} is a {run.kind} run, not an insertion-order study")
    rows = store.rows(run_id)
    if "seed" in rows:
        rows["seed"] = rows["seed"].astype("Int64")
    try:
        params = OrderStudyParams.from_dict(run.params)
    except (TypeError, ValueError):  # parameters from an older version: keep the saved order
        params = None
    if params is not None:
        rows = sort_order_rows(rows, params)
    return OrderRun(run, rows)


def per_query_recall(ws, row) -> np.ndarray | None:
    """The per-query recall artifact of one row (dict or Series), or None when it is not cached."""
    hit = ws.cache.load("per-query-recall", per_query_key(
        str(row["study"]), str(row["backend"]), str(row["order"]), _seed_or_none(row["seed"]), int(row["ef_search"])))
    return None if hit is None else hit[0]


def query_lid_of_study(ws, study_key: str) -> np.ndarray | None:
    hit = ws.cache.load("query-lid", artifact_key(study_key, "query-lid"))
    return None if hit is None else hit[0]


def recall_vs_lid_table(ws, rows: pd.DataFrame, backend: str, ef_search: int, n_bins: int = 5) -> pd.DataFrame:
    """Per order: queries binned by LID quantile, mean per-query recall (averaged over seeds) and
    Spearman's rho. Columns: ``order``, ``lid_lo``, ``lid_hi``, ``lid_mean``, ``n_queries``,
    ``recall_mean``, ``spearman_rho``. Orders whose per-query recall is not cached are left out."""
    cols = ["order", "lid_lo", "lid_hi", "lid_mean", "n_queries", "recall_mean", "spearman_rho"]
    sel = rows[(rows["backend"] == backend) & (rows["ef_search"] == ef_search)]
    if sel.empty:
        return pd.DataFrame(columns=cols)
    qlid = query_lid_of_study(ws, str(sel["study"].iloc[0]))
    if qlid is None:
        return pd.DataFrame(columns=cols)
    out = []
    for order, group in sel.groupby("order", sort=False):
        arrays = [a for a in (per_query_recall(ws, r) for _, r in group.iterrows()) if a is not None]
        if not arrays or arrays[0].shape != qlid.shape:
            continue
        res = recall_vs_lid(np.mean(arrays, axis=0), qlid, n_bins=n_bins)
        out += [{"order": order, **b, "spearman_rho": res.spearman_rho} for b in res.bins]
    return pd.DataFrame(out, columns=cols)


# ----------------------------------------------------------------- diagnostics


@dataclass
class OrderDiagnostics:
    """Graph diagnostics of one build (base positions map to dataset rows via ``base_rows``)."""

    backend: str
    order: str
    seed: int | None
    ef_search: int
    in_degree: np.ndarray | None  # int64 (n_base,) level-0 in-degree (faiss only)
    never_returned: np.ndarray  # int64 base positions no search returned
    n_base: int
    k: int
    cached: bool

    @property
    def n_without_in_links(self) -> int | None:
        return None if self.in_degree is None else int((self.in_degree == 0).sum())


def order_diagnostics(
    ws,
    params: OrderStudyParams,
    backend: str,
    order: str,
    seed: int | None,
    ef_search: int,
    *,
    inputs: OrderStudyInputs | None = None,
    custom_order=None,
    progress: ProgressFn | None = None,
) -> OrderDiagnostics:
    """Build one index in ``order`` and read its graph: level-0 in-degree (faiss) and the base
    points that no search returns when every base vector is a query (top-``k`` at ``ef_search``).
    Cached as artifacts ``"hnsw-in-degree"`` and ``"never-returned"``."""
    if inputs is None:
        inputs = prepare_order_study(ws, params, custom_order=custom_order, progress=progress)
    seed = _seed_or_none(seed)
    key = artifact_key(inputs.study_key, backend, order, seed, int(ef_search), "diagnostics")
    deg_hit = ws.cache.load("hnsw-in-degree", key)
    nev_hit = ws.cache.load("never-returned", key)
    if nev_hit is not None and (backend != "faiss" or deg_hit is not None):
        return OrderDiagnostics(backend, order, seed, int(ef_search), None if deg_hit is None else deg_hit[0],
                                nev_hit[0], inputs.n_base, params.k, True)
    n = inputs.n_base
    perm = insertion_order(order, n, lid=inputs.lid, labels=inputs.labels, seed=seed, custom=inputs.custom)
    report(progress, 0, 2, f"building {backend} HNSW, order {order}")
    build = build_hnsw(inputs.xb, perm, backend, metric=inputs.metric, M=params.M,
                       ef_construction=params.ef_construction)
    report(progress, 1, 2, f"searching all {n:,} base vectors")
    _, I = build.search(inputs.xb, min(params.k, n), int(ef_search))
    nev = never_returned(I, n)
    deg = None
    if backend == "faiss":
        deg = in_degree(faiss_level0_graph(build.index, build.order)).in_degree
        ws.cache.save("hnsw-in-degree", key, deg, {"backend": backend, "order": order, "seed": seed})
    ws.cache.save("never-returned", key, nev, {"backend": backend, "order": order, "seed": seed})
    report(progress, 2, 2, "diagnostics done")
    return OrderDiagnostics(backend, order, seed, int(ef_search), deg, nev, n, params.k, False)


def hub_table(ws, diag: OrderDiagnostics, base_rows: np.ndarray, top: int = 10) -> pd.DataFrame:
    """The ``top`` nodes with most in-links: ``id``, ``in_degree`` (and ``category``, ``text`` when known)."""
    if diag.in_degree is None:
        return pd.DataFrame(columns=["id", "in_degree"])
    hubs = np.argsort(-diag.in_degree, kind="stable")[:top]
    return _describe_rows(ws, base_rows[hubs], {"in_degree": diag.in_degree[hubs]})


def never_returned_table(ws, diag: OrderDiagnostics, base_rows: np.ndarray, top: int = 20) -> pd.DataFrame:
    return _describe_rows(ws, base_rows[diag.never_returned[:top]], {})


def _describe_rows(ws, rows: np.ndarray, extra: dict) -> pd.DataFrame:
    ds = ws.dataset
    frame = {"id": [ds.ids[i] for i in rows], **{k: np.asarray(v) for k, v in extra.items()}}
    if ds.labels is not None:
        frame["category"] = [str(ds.labels[i]) for i in rows]
    if ds.texts is not None or ds.titles is not None:
        frame["text"] = [ds.display_text(int(i))[:120] for i in rows]
    return pd.DataFrame(frame)


# -------------------------------------------------------------- time estimate

#: Per-vector build cost grows with n: measured here, going from 1k to 20k vectors raised it
#: 2.8x (50-d) to 4.2x (384-d), i.e. about n^0.35 to n^0.48. 0.45 errs on the slow side.
GROWTH_EXPONENT = 0.45


def probe_build_seconds(
    xb: np.ndarray, backend: str, *, metric: str, M: int, ef_construction: int, sample: int = 1000, seed: int = 0
) -> tuple[float, int]:
    """Time one build on a seeded sample of ``xb``: ``(seconds, sample size)``."""
    n = xb.shape[0]
    m = min(n, sample)
    rows = np.sort(np.random.default_rng(seed).choice(n, m, replace=False))
    return build_hnsw(xb[rows], np.arange(m), backend, metric=metric, M=M, ef_construction=ef_construction).build_s, m


def estimate_build_seconds(probe_seconds: float, probe_n: int, n: int) -> float:
    """Extrapolate a probe build to ``n`` vectors: per-vector cost grows as ``n ** GROWTH_EXPONENT``.

    Sanity check: a 1k-vector probe of 50-d data takes ~0.11 s here, which extrapolates to
    ~27 s for 50k vectors, against ~20 s measured for a faiss build of 50k GloVe vectors.
    """
    if probe_n <= 0:
        return 0.0
    return probe_seconds * (n / probe_n) * (max(n, probe_n) / probe_n) ** GROWTH_EXPONENT


def estimate_study_seconds(params: OrderStudyParams, per_build: dict[str, float], workers: int = 1) -> float:
    """Seconds for all builds of a study, from per-backend seconds of one build, with ``workers``
    building at once (see `study_workers`): each build goes to the first free worker, in plan order,
    as the process pool hands them out."""
    seconds = [per_build.get(b, 0.0) for b, _, _ in params.configurations()]
    if workers <= 1:
        return sum(seconds)
    free_at = [0.0] * workers
    for s in seconds:
        free_at[free_at.index(min(free_at))] += s
    return max(free_at)


# ------------------------------------------------------------------ per-query drill-down


def study_index(ws, run_params: dict, backend: str, order: str, seed: int | None, *,
                progress: ProgressFn | None = None):
    """One build of a saved insertion-order study, rebuilt exactly (same eval split, LID, insertion
    sequence, M and efConstruction, one thread): ``(build, inputs)``, a
    `core.analysis.insertion_order.HNSWBuild` whose search returns positions in ``inputs.xb``.

    The Query page searches it for one query, so a drill-down row's per-query recall reappears there.
    """
    params = OrderStudyParams.from_dict(run_params)
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if order not in params.orders and not (order == "custom" and run_params.get("custom_order_sha")):
        raise ValueError(f"the study did not build the {order!r} order; it built {', '.join(params.orders)}")
    seed = _seed_or_none(seed) if order in SEEDED_ORDERS else None
    custom = load_custom_order(ws, run_params.get("custom_order_sha")) if order == "custom" else None
    if order == "custom" and custom is None:
        raise ValueError("the study's uploaded order is no longer in the cache; upload it again on the Order page")
    inputs = prepare_order_study(ws, params, custom_order=custom, progress=progress)
    perm = insertion_order(order, inputs.n_base, lid=inputs.lid, labels=inputs.labels,
                           seed=params.seeds[0] if order in SEEDED_ORDERS and seed is None else seed,
                           custom=inputs.custom)
    report(progress, 0, 1, f"building {backend} HNSW in {order} order")
    build = build_hnsw(inputs.xb, perm, backend, metric=inputs.metric, M=params.M,
                       ef_construction=params.ef_construction)
    return build, inputs


def order_drilldown(ws, run, rows: pd.DataFrame, backend: str, order: str, ef_search: int,
                    seed: int | None = None):
    """One (backend, order, efSearch) of a saved study, query by query: one build's recall when ``seed``
    is given (seeded orders), else averaged over the run's seeds.

    Returns a `core.experiments.per_query.Drilldown` (its ``missed`` column is empty: the study keeps
    per-query recall, not the result ids), or ``None`` when the artifacts are no longer cached.
    """
    from core.experiments.per_query import WORST_SHOWN, Drilldown, query_texts

    sel = rows[(rows["backend"] == backend) & (rows["order"] == order) & (rows["ef_search"] == ef_search)]
    if seed is not None and order in SEEDED_ORDERS:
        sel = sel[sel["seed"] == seed]
    arrays = [a for a in (per_query_recall(ws, r) for _, r in sel.iterrows()) if a is not None]
    if sel.empty or not arrays or any(a.shape != arrays[0].shape for a in arrays):
        return None
    recall = np.mean(arrays, axis=0)
    params = OrderStudyParams.from_dict(run.params)
    ev = ws.eval_set(params.n_queries, params.query_seed)
    if ev.xq.shape[0] != recall.size:
        return None
    qlid = query_lid_of_study(ws, str(sel["study"].iloc[0]))
    texts = query_texts(ws, ev)
    worst_rows = np.argsort(recall, kind="stable")[:WORST_SHOWN]
    worst = pd.DataFrame({
        "query": [ev.query_ids[q] for q in worst_rows],
        "text": [texts[q] for q in worst_rows],
        "lid": [float(qlid[q]) if qlid is not None and qlid.shape == recall.shape else float("nan")
                for q in worst_rows],
        "recall": recall[worst_rows],
    })
    seeds = f", mean of {len(arrays)} seeds" if len(arrays) > 1 else (
        f", seed {int(sel['seed'].iloc[0])}" if order in SEEDED_ORDERS and pd.notna(sel["seed"].iloc[0]) else "")
    label = f"{backend} · {order} · efSearch {ef_search}{seeds}"
    return Drilldown(recall, None, worst, int(sel["k"].iloc[0]), label, list(ev.query_ids))
