"""HNSW insertion-order study (Elliott & Clark 2024) and graph diagnostics.

Recall of an HNSW index against exact kNN depends on the order in which the
vectors were inserted. `run_order_study` builds one index per (backend, order,
seed), searches it at each efSearch, and yields one `OrderRow` per
configuration together with the per-query recall array.

Orders (`insertion_order`):
    original   the dataset's own order, 0..n-1
    random     a seeded random permutation (one build per seed)
    lid-desc   descending local intrinsic dimension (highest LID first)
    lid-asc    ascending LID
    category   categories in a seeded random order, items of a category in original order
    custom     a user-supplied permutation of 0..n-1

Points with NaN LID (all neighbours duplicates, see `core.analysis.intrinsic`) go last in
both LID orders, in original order.

Builds use one thread so an order means what it says:

* faiss `IndexHNSWFlat`: one ``add()`` of a batch draws levels, then regroups the
  batch by level and shuffles each level (``hnsw_add_vertices``, "random
  permutation to get rid of dataset order bias") before inserting, so a batch
  add erases the order. Vectors are therefore added one per ``add()`` call:
  a batch of one cannot be reordered. Chunks cannot do better: within a chunk
  every level-0 vector (15 in 16 of them at M=16) shares one bucket that gets
  shuffled. ``tests/test_order.py`` proves the order from the built graph.
  Level draws come from the index's own generator (seed 12345) in insertion
  sequence, the same for batch and sequential adds.
* hnswlib: ``add_items(..., num_threads=1)`` inserts rows in sequence; levels
  come from ``init_index(random_seed=HNSWLIB_SEED)``.

The builds of a study are independent, so `run_order_study` (``jobs``) runs them in parallel worker
processes, each build still on one thread and in its own order (see `study_jobs` for how many). Each
unit of work is one build and its efSearch searches; the base, queries and ground truth go to each
worker once, when it starts.

Metric: ``cosine`` and ``ip`` build inner-product indexes (cosine expects unit
vectors), ``l2`` builds L2 indexes. Ids returned by searches are always the
base's original row ids.

This module stays whole: orders, the two HNSW backends, the study loop and the graph diagnostics
all read the same built graphs, and the study is easiest to check with them side by side.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass

import faiss
import hnswlib
import numpy as np

from core.analysis.intrinsic import LocalMLE, subspace_data
from core.index.exact import exact_search, faiss_threads, to_distances
from core.progress import ProgressFn, report

BACKENDS: tuple[str, ...] = ("faiss", "hnswlib")
ORDERS: tuple[str, ...] = ("original", "random", "lid-desc", "lid-asc", "category", "custom")
DEFAULT_ORDERS: tuple[str, ...] = ("original", "random", "lid-desc", "lid-asc")
SEEDED_ORDERS: frozenset[str] = frozenset({"random", "category"})
DEFAULT_EF_SEARCH: tuple[int, ...] = (10, 20, 40, 80, 160)
HNSWLIB_SEED = 100  # hnswlib's level generator seed (its own default)


# ------------------------------------------------------------------ orders


def validate_permutation(order, n: int, what: str = "custom order") -> np.ndarray:
    """Return ``order`` as int64 ``(n,)`` if it is a permutation of ``0..n-1``, else raise ValueError."""

    arr = np.asarray(order)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be one column of ids, got shape {arr.shape}")
    if arr.size != n:
        raise ValueError(f"{what} has {arr.size} entries but the base has {n} vectors; it must list each once")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or (arr != np.round(arr)).any():
            raise ValueError(f"{what} must hold whole numbers (row ids 0..{n - 1})")
    elif arr.dtype.kind not in "iu":
        raise ValueError(f"{what} must hold integer row ids 0..{n - 1}, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    bad = arr[(arr < 0) | (arr >= n)]
    if bad.size:
        shown = ", ".join(str(v) for v in np.unique(bad)[:5])
        raise ValueError(f"{what} has {bad.size} ids out of range 0..{n - 1}: {shown}")
    counts = np.bincount(arr, minlength=n)
    if (counts > 1).any():
        dup = np.flatnonzero(counts > 1)
        missing = np.flatnonzero(counts == 0)
        raise ValueError(
            f"{what} repeats {dup.size} ids (e.g. {', '.join(map(str, dup[:5]))}) and misses "
            f"{missing.size} (e.g. {', '.join(map(str, missing[:5]))}); each id must appear exactly once"
        )
    return arr


def _check_lid(lid, n: int) -> np.ndarray:
    if lid is None:
        raise ValueError("LID orders need the pointwise LID of every base vector (lid=...)")
    lid = np.asarray(lid, dtype=np.float64)
    if lid.shape != (n,):
        raise ValueError(f"lid has shape {lid.shape} but the base has {n} vectors")
    return lid


def insertion_order(
    name: str,
    n: int,
    *,
    lid=None,
    labels=None,
    seed: int | None = None,
    custom=None,
) -> np.ndarray:
    """The insertion sequence for order ``name``: int64 ``(n,)``, a permutation of base ids.

    ``lid`` (n,) is needed by ``lid-desc``/``lid-asc``, ``labels`` (n,) by ``category``,
    ``seed`` by ``random``/``category``, ``custom`` by ``custom``.
    """
    if name == "original":
        return np.arange(n, dtype=np.int64)
    if name == "random":
        return np.random.default_rng(seed).permutation(n).astype(np.int64)
    if name in ("lid-desc", "lid-asc"):
        values = _check_lid(lid, n)
        key = -values if name == "lid-desc" else values
        return np.argsort(key, kind="stable").astype(np.int64)  # NaN sorts last either way
    if name == "category":
        if labels is None:
            raise ValueError("the category order needs a label per base vector (labels=...)")
        labels = np.asarray(labels)
        if labels.shape != (n,):
            raise ValueError(f"labels has shape {labels.shape} but the base has {n} vectors")
        categories, codes = np.unique(labels, return_inverse=True)
        rank = np.empty(categories.size, dtype=np.int64)
        rank[np.random.default_rng(seed).permutation(categories.size)] = np.arange(categories.size)
        return np.argsort(rank[codes], kind="stable").astype(np.int64)
    if name == "custom":
        if custom is None:
            raise ValueError("the custom order needs the uploaded permutation (custom_order=...)")
        return validate_permutation(custom, n)
    raise ValueError(f"unknown order {name!r}; choose from {', '.join(ORDERS)}")


# ------------------------------------------------------------------ builds




def _check_metric(metric: str) -> None:
    if metric not in ("cosine", "ip", "l2"):
        raise ValueError(f"metric must be cosine, ip or l2, got {metric!r}")


def build_faiss_hnsw(
    xb: np.ndarray, order: np.ndarray, *, metric: str = "cosine", M: int = 16, ef_construction: int = 128
) -> faiss.IndexHNSWFlat:
    """faiss HNSW-Flat over ``xb[order]``, inserted strictly in that sequence, one thread.

    The index's internal id ``j`` is base row ``order[j]``.
    """
    _check_metric(metric)
    xs = np.ascontiguousarray(np.asarray(xb, dtype=np.float32)[order])
    faiss_metric = faiss.METRIC_L2 if metric == "l2" else faiss.METRIC_INNER_PRODUCT
    index = faiss.IndexHNSWFlat(xs.shape[1], M, faiss_metric)
    index.hnsw.efConstruction = ef_construction
    with faiss_threads(1):
        for j in range(xs.shape[0]):  # one vector per add(): a batch would be regrouped by level
            index.add(xs[j : j + 1])
    return index


def build_hnswlib(
    xb: np.ndarray,
    order: np.ndarray,
    *,
    metric: str = "cosine",
    M: int = 16,
    ef_construction: int = 128,
    random_seed: int = HNSWLIB_SEED,
) -> hnswlib.Index:
    """hnswlib index over ``xb[order]``, inserted in that sequence by one thread; labels are base ids."""
    _check_metric(metric)
    xb = np.asarray(xb, dtype=np.float32)
    index = hnswlib.Index(space="l2" if metric == "l2" else "ip", dim=xb.shape[1])
    index.init_index(max_elements=xb.shape[0], M=M, ef_construction=ef_construction, random_seed=random_seed)
    index.add_items(np.ascontiguousarray(xb[order]), ids=order, num_threads=1)
    return index


@dataclass
class HNSWBuild:
    """A built index and how it was built; `search` returns base row ids.

    ``order`` is the insertion sequence (``order[j]`` = base id inserted j-th).
    """

    backend: str
    index: object
    order: np.ndarray
    build_s: float
    metric: str = "cosine"

    def search(self, xq: np.ndarray, k: int, ef_search: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` of each query at ``ef_search``: ``D, I`` ``(nq, k)``.

        ``I`` holds base ids (-1 = none); ``D`` follows faiss (inner product, or squared L2).
        """
        xq = np.ascontiguousarray(xq, dtype=np.float32)
        if self.backend == "faiss":
            params = faiss.SearchParametersHNSW()
            params.efSearch = int(ef_search)
            D, I = self.index.search(xq, k, params=params)
            I = np.where(I >= 0, self.order[np.maximum(I, 0)], -1)
            return D, I
        self.index.set_ef(int(ef_search))
        labels, D = self.index.knn_query(xq, k=k)
        if self.metric != "l2":
            D = 1.0 - D  # hnswlib's "ip" space returns 1 - inner product
        return D, labels.astype(np.int64)


def build_hnsw(
    xb: np.ndarray,
    order: np.ndarray,
    backend: str,
    *,
    metric: str = "cosine",
    M: int = 16,
    ef_construction: int = 128,
) -> HNSWBuild:
    """Build ``backend`` ("faiss" or "hnswlib") over ``xb`` in insertion ``order``, timed."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    order = validate_permutation(order, len(xb), "insertion order")
    build = build_faiss_hnsw if backend == "faiss" else build_hnswlib
    t0 = time.perf_counter()
    index = build(xb, order, metric=metric, M=M, ef_construction=ef_construction)
    return HNSWBuild(backend, index, order, time.perf_counter() - t0, metric)


# ------------------------------------------------------------------ recall


def recall_at_k(
    I: np.ndarray,
    gt_I: np.ndarray,
    k: int = 10,
    *,
    D: np.ndarray | None = None,
    gt_D: np.ndarray | None = None,
    metric: str = "cosine",
) -> np.ndarray:
    """Per-query recall@k: ``|I[:, :k] ∩ gt_I[:, :k]| / k``, float64 ``(nq,)``.

    ``gt_I`` is the exact kNN (best first); ``-1`` entries of ``I`` (nothing found) never match.
    By ids alone, among exact ties (duplicate vectors) only the tie listed in ``gt_I``
    counts, so a corpus with duplicates cannot reach recall 1. Give the result scores ``D``
    and the exact scores ``gt_D`` (faiss convention for ``metric``: inner product, or
    squared L2) to also count a result whose score ties the k-th exact one (within a relative
    1e-5: exact ties such as duplicates; ann-benchmarks' looser 1e-3 distance rule is
    `core.index.metrics.recall_by_distance_per_query`).
    """
    I, gt_I = np.asarray(I), np.asarray(gt_I)
    if I.ndim != 2 or gt_I.ndim != 2:
        raise ValueError("result and ground-truth ids must be 2-D (queries, k)")
    if I.shape[0] != gt_I.shape[0]:
        raise ValueError(f"{I.shape[0]} result rows but {gt_I.shape[0]} ground-truth rows")
    if gt_I.shape[1] < k or I.shape[1] < k:
        raise ValueError(f"recall@{k} needs {k} ids per query; results have {I.shape[1]}, ground truth {gt_I.shape[1]}")
    found, truth = I[:, :k], gt_I[:, :k]
    hits = ((found[:, :, None] == truth[:, None, :]) & (found[:, :, None] >= 0)).any(axis=2)
    if D is not None and gt_D is not None:
        kth = np.asarray(gt_D)[:, k - 1 : k]
        score = np.asarray(D)[:, :k]
        slack = 1e-5 * np.maximum(np.abs(kth), 1e-6)
        as_good = score >= kth - slack if metric != "l2" else score <= kth + slack
        hits |= as_good & (found >= 0)
    return np.minimum(hits.sum(axis=1), k) / k


def ef_search_note(backend: str, ef_search: int, k: int) -> str:
    """Why a row with ``ef_search < k`` reads as it does ('' when ``ef_search >= k``)."""
    if ef_search >= k:
        return ""
    if backend == "hnswlib":
        return (
            f"efSearch={ef_search} < k={k}: hnswlib searches with max(efSearch, k) = {k}, "
            f"so this row repeats efSearch={k}"
        )
    return (
        f"efSearch={ef_search} < k={k}: faiss keeps only {ef_search} candidates on the search "
        f"frontier (and still returns {k} ids from the nodes it visited), so recall@{k} is capped "
        f"below what efSearch={k} gives"
    )


# ------------------------------------------------------------------ study


@dataclass(frozen=True)
class OrderRow:
    """One configuration of the insertion-order study.

    ``recall_at_k`` is the mean over queries of recall@``k`` (k = 10 by default)
    against the exact kNN passed in; ``seed`` is None for orders without randomness.
    """

    backend: str
    order: str
    seed: int | None
    M: int
    ef_construction: int
    ef_search: int
    k: int
    recall_at_k: float
    build_s: float
    search_s: float
    n_base: int
    n_queries: int
    note: str = ""

    @property
    def key(self) -> tuple[str, str, int | None, int]:
        """``(backend, order, seed, ef_search)``: the key of this row's per-query recall."""
        return (self.backend, self.order, self.seed, self.ef_search)

    def as_dict(self) -> dict:
        return asdict(self)


def _check_study_inputs(
    xb, xq, gt_I, gt_D, metric, k, ef_search, backends, M, ef_construction
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    _check_metric(metric)
    xb = np.ascontiguousarray(xb, dtype=np.float32)
    xq = np.ascontiguousarray(xq, dtype=np.float32)
    if xb.ndim != 2 or xq.ndim != 2:
        raise ValueError("base and queries must be 2-D arrays (n, d)")
    if xq.shape[1] != xb.shape[1]:
        raise ValueError(f"queries have {xq.shape[1]} dims but the base has {xb.shape[1]}")
    gt_I = np.asarray(gt_I)
    if gt_I.ndim != 2 or gt_I.shape[0] != xq.shape[0]:
        raise ValueError(f"gt_I must have one row per query ({xq.shape[0]}), got shape {gt_I.shape}")
    if not 1 <= k <= xb.shape[0]:
        raise ValueError(f"k={k} must be between 1 and the number of base vectors ({xb.shape[0]})")
    if gt_I.shape[1] < k:
        raise ValueError(f"gt_I has {gt_I.shape[1]} neighbours per query but recall@{k} needs {k}")
    if gt_I.size and (gt_I[:, :k].min() < 0 or gt_I[:, :k].max() >= xb.shape[0]):
        raise ValueError("gt_I holds ids outside the base; was it computed on another base?")
    if gt_D is not None:
        shape = np.shape(gt_D)
        if len(shape) != 2 or shape[0] != gt_I.shape[0] or shape[1] < k:
            raise ValueError(f"gt_D has shape {shape} but gt_I has {gt_I.shape}; give the matching scores")
    if not ef_search or any(int(e) < 1 for e in ef_search):
        raise ValueError(f"ef_search must be a non-empty list of positive integers, got {ef_search!r}")
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown or not backends:
        raise ValueError(f"backends must be among {', '.join(BACKENDS)}, got {list(backends)!r}")
    if M < 2 or ef_construction < 1:
        raise ValueError(f"M must be >= 2 and efConstruction >= 1, got M={M}, efConstruction={ef_construction}")
    return xb, xq, gt_I


def _plan_orders(n, orders, seeds, lid, labels, custom_order) -> list[tuple[str, int | None, np.ndarray, str]]:
    orders = list(orders)
    if custom_order is not None and "custom" not in orders:
        orders.append("custom")
    unknown = [o for o in orders if o not in ORDERS]
    if unknown:
        raise ValueError(f"unknown orders {unknown}; choose from {', '.join(ORDERS)}")
    if any(o in SEEDED_ORDERS for o in orders) and not seeds:
        raise ValueError("random and category orders need at least one seed")
    planned = []
    for name in dict.fromkeys(orders):
        note = ""
        if name == "category" and labels is not None and np.unique(np.asarray(labels)).size == 1:
            note = "one category only: the category order is the original order"
        for seed in seeds if name in SEEDED_ORDERS else (None,):
            perm = insertion_order(name, n, lid=lid, labels=labels, seed=seed, custom=custom_order)
            planned.append((name, None if seed is None else int(seed), perm, note))
    return planned


@dataclass(frozen=True, eq=False)
class OrderUnit:
    """One unit of work of the study: one build (``backend``, insertion ``order``, ``seed``) and its
    searches. ``perm`` is the insertion sequence, int64 ``(n,)``; ``note`` goes on every row."""

    backend: str
    order: str
    seed: int | None
    perm: np.ndarray
    note: str = ""

    @property
    def label(self) -> str:
        return f"{self.backend} · {self.order}" + ("" if self.seed is None else f" seed {self.seed}")


def plan_order_units(
    n: int,
    *,
    orders: Sequence[str] = DEFAULT_ORDERS,
    seeds: Sequence[int] = (0, 1, 2),
    backends: Sequence[str] = BACKENDS,
    lid: np.ndarray | None = None,
    labels: Sequence | None = None,
    custom_order=None,
) -> list[OrderUnit]:
    """The builds of a study over ``n`` base vectors, in the order the sequential study runs them
    (backend, then order, then seed). Raises ValueError when an order lacks what it needs."""
    planned = _plan_orders(n, orders, seeds, lid, labels, custom_order)
    return [OrderUnit(backend, name, seed, perm, note) for backend in backends for name, seed, perm, note in planned]


@dataclass(frozen=True)
class _StudySettings:
    metric: str
    M: int
    ef_construction: int
    ef_search: tuple[int, ...]
    k: int


def _measure_unit(xb, xq, gt_I, gt_D, unit: OrderUnit, cfg: _StudySettings, *, search_threads: int | None = None
                  ) -> Iterator[tuple[OrderRow, np.ndarray]]:
    """Build ``unit`` and search it at each efSearch: ``(row, per_query_recall)`` per efSearch."""
    build = build_hnsw(xb, unit.perm, unit.backend, metric=cfg.metric, M=cfg.M, ef_construction=cfg.ef_construction)
    if search_threads is not None and unit.backend == "hnswlib":
        build.index.num_threads = search_threads  # knn_query's default (-1) is every core
    for ef in cfg.ef_search:
        t0 = time.perf_counter()
        D, I = build.search(xq, cfg.k, ef)
        search_s = time.perf_counter() - t0
        per_query = recall_at_k(I, gt_I, cfg.k, D=D, gt_D=gt_D, metric=cfg.metric)
        notes = "; ".join(s for s in (unit.note, ef_search_note(unit.backend, ef, cfg.k)) if s)
        row = OrderRow(
            backend=unit.backend,
            order=unit.order,
            seed=unit.seed,
            M=cfg.M,
            ef_construction=cfg.ef_construction,
            ef_search=ef,
            k=cfg.k,
            recall_at_k=float(per_query.mean()),
            build_s=build.build_s,
            search_s=search_s,
            n_base=xb.shape[0],
            n_queries=xq.shape[0],
            note=notes,
        )
        yield row, per_query


# ------------------------------------------------------------------ parallel builds

#: ``jobs=None`` runs a study in parallel only when it inserts at least this many vectors in all
#: (base size x builds). Starting the workers (fresh interpreters importing faiss, hnswlib and numpy,
#: handed the arrays once) and stopping them costs ~0.3 s here, paid by all workers at once; 1,000
#: inserts at M=16, efC=128 take ~0.1 s (50-d) to ~0.3 s (384-d). Measured on 2 cores, 8 builds of
#: GloVe-50d: 8,000 inserts ran 1.14x slower in 2 workers, 16,000 ran at 0.69x the sequential time.
AUTO_PARALLEL_MIN_INSERTS = 20_000


def available_cpus() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def study_jobs(jobs: int | None, n_base: int, n_units: int) -> int:
    """How many worker processes a study of ``n_units`` builds over ``n_base`` vectors uses.

    ``jobs=None`` (auto): every available core when the study inserts at least
    `AUTO_PARALLEL_MIN_INSERTS` vectors in all, else 1. A given ``jobs`` is used as is. Either way
    never more than there are builds; 1 means the sequential in-process loop.
    """
    if jobs is None:
        jobs = available_cpus() if n_base * n_units >= AUTO_PARALLEL_MIN_INSERTS else 1
    elif int(jobs) < 1:
        raise ValueError(f"jobs must be at least 1 (or None for automatic), got {jobs}")
    return max(1, min(int(jobs), n_units))


_SPAWN_LOCK = threading.Lock()
#: Environment a worker starts with: one OpenMP/BLAS thread, no spinning (read when faiss loads).
WORKER_ENV = {"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@contextlib.contextmanager
def _worker_spawning():
    """While workers are started: the environment they inherit, and no ``__main__`` to re-run.

    A spawned child re-imports the parent's ``__main__`` by default. Under Streamlit that is the page
    script being run (Streamlit installs it as ``__main__``), which must not run again in a worker;
    the workers need nothing from it. Both changes last only while the processes are started
    (held under a lock, restored after).
    """
    with _SPAWN_LOCK:
        saved_env = {k: os.environ.get(k) for k in WORKER_ENV}
        saved_main = sys.modules.get("__main__")
        os.environ.update(WORKER_ENV)
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            if saved_main is not None:
                sys.modules["__main__"] = saved_main
            for k, v in saved_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


_WORKER: dict = {}


#: How often a worker checks that the process that started it is still there.
PARENT_CHECK_S = 0.5


def _exit_with_parent(parent: int) -> None:
    """In a worker: end this process as soon as its parent is gone (killed with SIGKILL, say, which
    runs no clean-up): the orphan is re-parented, so ``getppid`` changes."""
    while True:
        time.sleep(PARENT_CHECK_S)
        if os.getppid() != parent:
            os._exit(1)


def _init_worker(xb, xq, gt_I, gt_D, cfg: _StudySettings) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's: it stops the pool
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="densescope-parent-watch",
                     daemon=True).start()
    faiss.omp_set_num_threads(1)
    _WORKER.update(xb=xb, xq=xq, gt_I=gt_I, gt_D=gt_D, cfg=cfg)


def _run_unit_in_worker(unit: OrderUnit) -> list[tuple[OrderRow, np.ndarray]]:
    w = _WORKER
    return list(_measure_unit(w["xb"], w["xq"], w["gt_I"], w["gt_D"], unit, w["cfg"], search_threads=1))


def _stop_pool(executor: ProcessPoolExecutor, *, finished: bool) -> None:
    """Shut the pool down: wait for idle workers to exit when all work is done; otherwise cancel
    what has not started and terminate the workers (a build cannot be interrupted cleanly)."""
    if finished:
        executor.shutdown(wait=True)
        return
    # No public way to reach the workers before Python 3.14 (ProcessPoolExecutor.terminate_workers).
    processes = list((getattr(executor, "_processes", None) or {}).values())
    manager = getattr(executor, "_executor_manager_thread", None)
    executor.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + 10
    for p in processes:
        # the pool's own thread reaps the workers too, so join can return before this one is reaped
        while p.exitcode is None and time.monotonic() < deadline:
            p.join(timeout=0.05)
            if p.exitcode is None:
                time.sleep(0.005)
    if manager is not None and manager is not threading.current_thread():
        manager.join(timeout=max(deadline - time.monotonic(), 0.1))


def _parallel_units(xb, xq, gt_I, gt_D, units: list[OrderUnit], cfg: _StudySettings, workers: int,
                    progress: ProgressFn | None) -> Iterator[tuple[OrderRow, np.ndarray]]:
    total = len(units)
    report(progress, 0, total, f"building {total} HNSW graphs, {workers} at a time in worker processes")
    executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(xb, xq, gt_I, gt_D, cfg))
    finished = False
    try:
        with _worker_spawning():  # workers start on the first submits
            pending = {executor.submit(_run_unit_in_worker, unit): (i, unit) for i, unit in enumerate(units)}
        done = 0
        while pending:
            ready, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(ready, key=lambda f: pending[f][0]):
                _, unit = pending.pop(future)
                try:
                    results = future.result()
                except BrokenProcessPool as exc:
                    raise RuntimeError(
                        f"a build worker died while building {unit.label} (out of memory? each worker holds a "
                        "copy of the base and its own index); run the study with jobs=1"
                    ) from exc
                done += 1
                report(progress, done, total, f"{done} of {total} builds done ({workers} at a time): {unit.label}")
                yield from results
        finished = True
    finally:
        _stop_pool(executor, finished=finished)


def run_order_units(
    xb: np.ndarray,
    xq: np.ndarray,
    gt_I: np.ndarray,
    units: Sequence[OrderUnit],
    *,
    metric: str = "cosine",
    M: int = 16,
    ef_construction: int = 128,
    ef_search: Sequence[int] = DEFAULT_EF_SEARCH,
    k: int = 10,
    gt_D: np.ndarray | None = None,
    jobs: int | None = None,
    progress: ProgressFn | None = None,
) -> Iterator[tuple[OrderRow, np.ndarray]]:
    """Build and search the given units (see `plan_order_units`): ``(row, per_query_recall)`` per
    unit and efSearch, as each unit finishes. Arguments as in `run_order_study`."""
    units = list(units)
    backends = tuple(dict.fromkeys(u.backend for u in units)) or BACKENDS
    xb, xq, gt_I = _check_study_inputs(xb, xq, gt_I, gt_D, metric, k, ef_search, backends, M, ef_construction)
    for unit in units:
        validate_permutation(unit.perm, xb.shape[0], f"insertion order of {unit.label}")
    cfg = _StudySettings(metric, int(M), int(ef_construction), tuple(int(e) for e in ef_search), int(k))
    gt_D = None if gt_D is None else np.asarray(gt_D)
    total = len(units)
    workers = study_jobs(jobs, xb.shape[0], total) if total else 1
    if workers > 1:
        yield from _parallel_units(xb, xq, gt_I, gt_D, units, cfg, workers, progress)
    else:
        for done, unit in enumerate(units):
            seed_text = "" if unit.seed is None else f" seed {unit.seed}"
            report(progress, done, total, f"building {unit.backend} HNSW, order {unit.order}{seed_text}")
            yield from _measure_unit(xb, xq, gt_I, gt_D, unit, cfg)
    report(progress, total, total, "insertion-order study done")


def run_order_study(
    xb: np.ndarray,
    xq: np.ndarray,
    gt_I: np.ndarray,
    *,
    metric: str = "cosine",
    lid: np.ndarray | None = None,
    labels: Sequence | None = None,
    orders: Sequence[str] = DEFAULT_ORDERS,
    seeds: Sequence[int] = (0, 1, 2),
    backends: Sequence[str] = BACKENDS,
    M: int = 16,
    ef_construction: int = 128,
    ef_search: Sequence[int] = DEFAULT_EF_SEARCH,
    k: int = 10,
    custom_order=None,
    gt_D: np.ndarray | None = None,
    jobs: int | None = None,
    progress: ProgressFn | None = None,
) -> Iterator[tuple[OrderRow, np.ndarray]]:
    """Recall@k of HNSW built in each insertion order, per backend, seed and efSearch.

    Args:
        xb: float32 ``(n, d)`` base; xq: float32 ``(nq, d)`` queries.
        gt_I: int ``(nq, >= k)`` exact kNN ids of the queries in the base (best first).
        lid: float ``(n,)`` pointwise LID of the base, for the LID orders.
        labels: ``(n,)`` category of each base vector, for the category order.
        orders: from `ORDERS`; ``custom`` is added when ``custom_order`` is given.
        seeds: one build per seed for ``random`` and ``category``; other orders build once
            (``seed`` None).
        gt_D: the exact scores matching ``gt_I``; when given, a result tying the k-th exact
            score also counts (see `recall_at_k`), so duplicates do not cap recall below 1.
        jobs: worker processes building at once (each build on one thread, in its own order);
            1 builds one after another in this process, None chooses (see `study_jobs`).

    Yields ``(row, per_query_recall)`` as each configuration finishes: an `OrderRow` and
    float64 ``(nq,)`` recall@k per query (cache it under ``row.key``). Sequentially the rows come
    in plan order (backend, order, seed, then efSearch); in parallel each build's rows come
    together (efSearch ascending as given) when the build finishes, builds in the order they
    finish. Rows and recall are the same either way; only ``build_s``/``search_s`` differ. Closing
    the generator early (the caller stops) cancels the builds not started and terminates the
    workers. All inputs, the custom order included, are validated before the first build.
    """
    xb, xq, gt_I = _check_study_inputs(xb, xq, gt_I, gt_D, metric, k, ef_search, backends, M, ef_construction)
    units = plan_order_units(xb.shape[0], orders=orders, seeds=seeds, backends=backends, lid=lid, labels=labels,
                             custom_order=custom_order)
    yield from run_order_units(xb, xq, gt_I, units, metric=metric, M=M, ef_construction=ef_construction,
                               ef_search=ef_search, k=k, gt_D=gt_D, jobs=jobs, progress=progress)


# ------------------------------------------------------------- diagnostics


def query_lid(
    xb: np.ndarray, xq: np.ndarray, *, metric: str = "cosine", k: int = 100, duplicate_tol: float = 1e-2
) -> np.ndarray:
    """LID of each query from its ``k`` exact nearest neighbours in the base: float64 ``(nq,)``.

    For queries that are base points prefer ``lid[query_ids]`` from the base's own
    kNN graph: here a query's copy in the base is at distance 0 and is dropped as a
    duplicate, leaving ``k - 1`` neighbours.
    """
    D, _ = exact_search(xb, xq, k, metric)
    return LocalMLE(k=k, duplicate_tol=duplicate_tol).fit(knn_distances=to_distances(D, metric)).dimension_pw_


@dataclass
class RecallVsLID:
    """Per-query recall against query LID: quantile bins and the rank correlation."""

    bins: list[dict]
    spearman_rho: float
    n_queries: int


def recall_vs_lid(per_query_recall: np.ndarray, lid: np.ndarray, n_bins: int = 5) -> RecallVsLID:
    """Bin queries by LID quantile; each bin: ``lid_lo``, ``lid_hi``, ``lid_mean``, ``n_queries``,
    ``recall_mean``. Queries with NaN LID are left out. Spearman's rho over all kept queries
    (negative: higher-LID queries are harder)."""
    from scipy.stats import spearmanr

    recall = np.asarray(per_query_recall, dtype=np.float64)
    lid = np.asarray(lid, dtype=np.float64)
    if recall.shape != lid.shape or recall.ndim != 1:
        raise ValueError(f"per-query recall {recall.shape} and LID {lid.shape} must be matching 1-D arrays")
    ok = np.isfinite(lid)
    recall, lid = recall[ok], lid[ok]
    if lid.size == 0:
        return RecallVsLID([], float("nan"), 0)
    edges = np.unique(np.quantile(lid, np.linspace(0, 1, n_bins + 1)))
    which = np.clip(np.searchsorted(edges, lid, side="right") - 1, 0, max(edges.size - 2, 0))
    bins = []
    for b in range(max(edges.size - 1, 1)):
        sel = which == b
        if sel.any():
            bins.append(
                {
                    "lid_lo": float(lid[sel].min()),
                    "lid_hi": float(lid[sel].max()),
                    "lid_mean": float(lid[sel].mean()),
                    "n_queries": int(sel.sum()),
                    "recall_mean": float(recall[sel].mean()),
                }
            )
    rho = spearmanr(lid, recall).statistic if lid.size > 2 and np.ptp(recall) > 0 else float("nan")
    return RecallVsLID(bins, float(rho), int(lid.size))


def faiss_level0_graph(index: faiss.IndexHNSW, order: np.ndarray | None = None) -> np.ndarray:
    """Level-0 neighbour lists of a faiss HNSW index: int64 ``(n, 2M)``, -1 padded.

    With ``order`` (the insertion sequence of an `HNSWBuild`), rows and ids are base ids:
    row ``i`` lists the neighbours of base vector ``i``. Without it, internal ids.
    """
    hnsw = index.hnsw
    n = index.ntotal
    offsets = faiss.vector_to_array(hnsw.offsets).astype(np.int64)[:n]
    neighbors = faiss.vector_to_array(hnsw.neighbors).astype(np.int64)
    width = hnsw.nb_neighbors(0)
    graph = neighbors[offsets[:, None] + np.arange(width)[None, :]]
    if order is None:
        return graph
    order = np.asarray(order, dtype=np.int64)
    mapped = np.where(graph >= 0, order[np.maximum(graph, 0)], -1)
    out = np.empty_like(mapped)
    out[order] = mapped
    return out


@dataclass
class InDegree:
    """In-degree of every node of a graph and its hubs (largest in-degree first)."""

    in_degree: np.ndarray  # int64 (n,)
    hub_ids: np.ndarray  # int64 (top,)
    hub_in_degree: np.ndarray  # int64 (top,)
    n_without_in_links: int

    @property
    def histogram(self) -> np.ndarray:
        """``histogram[d]`` = number of nodes with in-degree ``d``."""
        return np.bincount(self.in_degree)


def in_degree(graph: np.ndarray, top: int = 10) -> InDegree:
    """In-degree distribution and ``top`` hub nodes of a neighbour-list graph ``(n, width)`` (-1 padded)."""
    graph = np.asarray(graph)
    n = graph.shape[0]
    links = graph[graph >= 0]
    deg = np.bincount(links, minlength=n).astype(np.int64)
    hubs = np.argsort(-deg, kind="stable")[: min(top, n)]
    return InDegree(deg, hubs.astype(np.int64), deg[hubs], int((deg == 0).sum()))


def never_returned(I: np.ndarray, n: int) -> np.ndarray:
    """Base ids ``0..n-1`` that appear in no row of the search results ``I``: sorted int64.

    Search the index with many queries (e.g. every base vector) and the result lists
    base points the index never returns -- hard to reach or unreachable nodes.
    """
    seen = np.zeros(n, dtype=bool)
    ids = np.asarray(I).ravel()
    seen[ids[(ids >= 0) & (ids < n)]] = True
    return np.flatnonzero(~seen).astype(np.int64)


def recall_vs_intrinsic_dim(
    ks: Sequence[int] = (2, 4, 8, 16, 32, 64, 128, 256),
    n: int = 5000,
    dim: int = 1024,
    M: int = 16,
    ef_construction: int = 128,
    ef_search: Sequence[int] = (10, 40),
    seed: int = 0,
    *,
    n_queries: int = 200,
    k: int = 10,
    backends: Sequence[str] = ("faiss",),
    pca_threshold: float = 0.99,
    progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[dict]:
    """Recall@k of HNSW on synthetic data of known intrinsic dimension (Elliott & Clark's construction).

    For each nominal dimension ``true_dim`` in ``ks``: ``n + n_queries`` points on a random
    ``true_dim``-dimensional linear subspace of R^dim (`core.analysis.intrinsic.subspace_data`, L2),
    the last ``n_queries`` held out as queries, exact kNN by brute force, and the set's *measured*
    global ID beside the nominal one (PCA at ``pca_threshold`` of the variance, and TwoNN). Then one
    build per backend in original order, searched at each efSearch. Yields one row per
    (true_dim, backend, efSearch) as soon as it is measured.
    """
    from core.analysis.intrinsic import PCAID, TwoNN

    bad = [b for b in backends if b not in BACKENDS]
    if bad or not backends:
        raise ValueError(f"backends must be among {', '.join(BACKENDS)}, got {list(backends)}")
    if not ks or min(ks) < 1 or max(ks) > dim:
        raise ValueError(f"intrinsic dimensions must be between 1 and dim={dim}, got {list(ks)}")
    steps = len(ks) * len(backends)
    done = 0
    for true_dim in ks:
        if should_stop is not None and should_stop():
            return
        report(progress, done, steps, f"intrinsic dimension {true_dim}: data and its measured ID")
        X = subspace_data(n + n_queries, int(true_dim), dim, random_state=seed + int(true_dim))
        xb, xq = X[:n], X[n:]
        _, gt_I = exact_search(xb, xq, k, "l2")
        pca_id = int(PCAID(threshold=pca_threshold).fit(xb).dimension_)
        twonn_id = float(TwoNN().fit(xb).dimension_)
        for backend in backends:
            report(progress, done, steps, f"intrinsic dimension {true_dim}: {backend} build")
            build = build_hnsw(xb, np.arange(n), backend, metric="l2", M=M, ef_construction=ef_construction)
            for ef in ef_search:
                _, I = build.search(xq, k, int(ef))
                yield {
                    "true_dim": int(true_dim),
                    "pca_id": pca_id,
                    "twonn_id": twonn_id,
                    "backend": backend,
                    "M": M,
                    "ef_construction": ef_construction,
                    "ef_search": int(ef),
                    "k": k,
                    "recall_at_k": float(recall_at_k(I, gt_I, k).mean()),
                    "build_s": build.build_s,
                    "n_base": n,
                    "dim": dim,
                    "seed": seed,
                }
            done += 1
    report(progress, steps, steps, "done")
