"""2-D and 3-D maps of a workspace's embeddings: PCA and UMAP, sampled, cached.

* Above a point budget the map uses a seeded random sample of rows (`sample_rows`),
  never the first N rows, and says so (`sample_note`).
* PCA is exact and instant (eigen-decomposition of the ``d x d`` covariance).
* UMAP is fed a kNN graph through ``precomputed_knn``, so pynndescent never runs: the
  exact graph (`Workspace.knn`, or the sample's own exact graph) up to
  `APPROX_GRAPH_POINTS` drawn points, above it an approximate one (`approximate_knn_graph`:
  faiss HNSW over two shards built side by side, each on one thread, so it is deterministic) whose recall against exact
  search is measured on a seeded sample of points (`graph_recall`) and kept with the map
  (`Projection.graph`, `Projection.graph_note`). The exact graph stays where exact
  neighbours are the point (LID and hubness colours, the map table, the LID page). umap-learn expects each
  row of that graph to start with the point itself at distance 0 (its
  ``smooth_knn_dist`` skips column 0), with ``n_neighbors`` columns in all, and
  distances, not similarities: `graph_distances` turns faiss scores into Euclidean
  distances and UMAP is told ``metric="euclidean"``.
* Every map is an artifact (kind ``"projection"``, keyed by the embeddings key, the
  method, its parameters and the sampled rows), so a second view is a file read.

Cold start. umap-learn 0.5.12 compiles its numba kernels on first use (tens of
seconds) and marks only one of them ``cache=True``. `enable_umap_disk_cache` turns
numba's on-disk cache on for the three kernels a fit runs, so they compile once per
installation (`warm_umap`, run by ``python -m core prepare``) and later processes
load machine code from disk. Numba writes that cache to ``$NUMBA_CACHE_DIR`` when
it is set, else next to umap's sources (``site-packages/umap/__pycache__``) when that
folder is writable, else under ``~/.cache/numba``. ``umap`` itself is imported only
when a UMAP map is asked for, or in the background by `preload_umap`.

This module stays whole: sampling, PCA, UMAP (with its numba cache) and map colours share one
`Projection` artifact and its cache key.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import re
import threading
import time
import warnings
from dataclasses import dataclass, field

import faiss
import numpy as np

from core.index.exact import exact_search, faiss_metric, higher_is_closer, knn_graph
from core.progress import ProgressFn, report
from core.store.artifacts import artifact_key

#: Points drawn at most; above it the map shows a seeded random sample (UMAP's default budget: a
#: UMAP layout costs about a second per thousand points on two cores).
DEFAULT_BUDGET = 20_000
#: The default budget of each method: PCA is instant at any size (blockwise), so its map shows up to
#: 100,000 points, what a browser without a GPU still pans and zooms (bench/README.md).
DEFAULT_BUDGETS = {"pca": 100_000, "umap": DEFAULT_BUDGET}
#: The largest budget the map page offers (all of GloVe's 400,000 words and more).
MAX_BUDGET = 1_000_000
#: UMAP layouts of more points than this run as a background job (the page shows PCA meanwhile): all
#: 400k GloVe words took 253 s on 2 quiet cores (approximate kNN graph over 2 shards 67 s, fuzzy graph and
#: layout 186 s; one HNSW index built on one thread: 297 s; with the exact graph: 1,051 s, loaded machine).
UMAP_BACKGROUND_POINTS = 50_000
#: Neighbours per point in the map's kNN graph (UMAP uses n_neighbors - 1, LID 20, hubness 10).
GRAPH_K = 30
METHODS = ("pca", "umap")
METHOD_NAMES = {"pca": "PCA", "umap": "UMAP"}
#: umap-learn settings used here. ``n_epochs=200`` is umap's own default above 10,000
#: points (it uses 500 below). ``init="pca"`` replaces the spectral start, an ARPACK
#: eigensolve that cost 3 s at 10k and 5 s at 20k GloVe points on 2 busy cores, for no
#: gain in the 15-NN kept by the 2-D map (0.117 with PCA init, 0.115 spectral, 10k GloVe).
UMAP_DEFAULTS = {"n_neighbors": 15, "min_dist": 0.1, "n_epochs": 200, "init": "pca"}
#: From this many drawn points up, UMAP's kNN graph is approximate (HNSW) instead of exact: the exact
#: graph of all 400k GloVe words took 384 s on 2 shared cores, an n^2 cost (bench/README.md).
APPROX_GRAPH_POINTS = 50_000
#: The approximate graph: faiss HNSW-Flat with these settings, over ``shards`` shards built side by side
#: (each on one thread, so the graph is deterministic); the search's efSearch doubles from
#: ``ef_search`` up to ``max_ef_search`` until the measured recall reaches `MIN_GRAPH_RECALL`.
APPROX_GRAPH_HNSW = {"M": 16, "ef_construction": 100, "ef_search": 64, "max_ef_search": 512, "shards": 2}
#: The recall the approximate graph must reach against exact search, and the seeded sample of
#: points it is measured on (each point's exact neighbours among all points).
MIN_GRAPH_RECALL = 0.95
GRAPH_RECALL_SAMPLE = 1_000
#: LID and hubness of the map use this many neighbours.
LID_K = 20
HUBNESS_K = 10


# ------------------------------------------------------------------ sampling


def sample_rows(n: int, budget: int, seed: int = 0) -> np.ndarray:
    """Rows to draw: all of ``range(n)`` when ``n <= budget``, else a seeded random sample.

    Returns int64 ``(min(n, budget),)``, sorted ascending.
    """

    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if budget < 1:
        raise ValueError(f"the point budget must be at least 1, got {budget}")
    if n <= budget:
        return np.arange(n, dtype=np.int64)
    rows = np.random.default_rng(seed).choice(n, size=budget, replace=False)
    return np.sort(rows).astype(np.int64)


def sample_note(n_total: int, n_shown: int, seed: int) -> str:
    """What the map shows, in words: all points, or the sample and how it was drawn."""
    if n_shown >= n_total:
        return f"all {n_total:,} points"
    return f"{n_shown:,} of {n_total:,} points, a random sample (seed {seed})"


def _rows_digest(rows: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(rows, dtype=np.int64).tobytes()).hexdigest()[:24]


# ------------------------------------------------------------------ PCA


def pca_project(x: np.ndarray, dims: int = 2, *, block: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Project float ``x`` ``(n, d)`` on its top ``dims`` principal axes.

    Returns ``coords`` float32 ``(n, dims)`` (centred) and the explained variance
    ratio float64 ``(dims,)`` of each axis. Signs are fixed (each axis's largest
    loading is positive), so the same data always gives the same picture.
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D array (n, d), got shape {x.shape}")
    n, d = x.shape
    if n < 2:
        raise ValueError(f"PCA needs at least 2 points, got {n}")
    if dims > d:
        raise ValueError(f"a {dims}-D map needs vectors with at least {dims} dimensions; these have {d}")
    mean = x.mean(axis=0, dtype=np.float64)
    cov = np.zeros((d, d), dtype=np.float64)
    for start in range(0, n, block):
        xc = x[start : start + block].astype(np.float64) - mean
        cov += xc.T @ xc
    cov /= n - 1
    evals, evecs = np.linalg.eigh(cov)
    order = np.argsort(evals)[::-1][:dims]
    comps = evecs[:, order]
    signs = np.sign(comps[np.argmax(np.abs(comps), axis=0), np.arange(dims)])
    comps *= np.where(signs == 0, 1.0, signs)
    coords = np.empty((n, dims), dtype=np.float32)
    for start in range(0, n, block):
        coords[start : start + block] = (x[start : start + block].astype(np.float64) - mean) @ comps
    total = float(np.clip(evals, 0, None).sum())
    ratio = np.clip(evals[order], 0, None) / total if total > 0 else np.zeros(dims)
    return coords, ratio


# ------------------------------------------------------------------ UMAP


def graph_distances(D: np.ndarray, metric: str, max_sq_norm: float = 1.0) -> np.ndarray:
    """faiss scores ``D`` ``(n, k)`` as non-negative distances, ascending along each row.

    ``l2``: the square root of faiss's squared distances. ``cosine`` (unit vectors):
    ``sqrt(2 - 2 s)``, the Euclidean distance. ``ip``: ``sqrt(2 m - 2 s)`` with ``m``
    the largest squared norm, which is monotone in the score (so the neighbour order
    is kept) and equals the Euclidean distance when the vectors have unit norm.
    """
    D = np.asarray(D, dtype=np.float32)
    if metric == "l2":
        return np.sqrt(np.maximum(D, 0.0))
    scale = 1.0 if metric == "cosine" else float(max_sq_norm)
    return np.sqrt(np.maximum(2.0 * scale - 2.0 * D, 0.0))


def umap_knn_input(
    D: np.ndarray, I: np.ndarray, metric: str, n_neighbors: int, max_sq_norm: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """A self-excluded kNN graph in the form umap-learn's ``precomputed_knn`` wants.

    Takes ``D, I`` ``(n, >= n_neighbors - 1)`` (faiss scores, self excluded) and returns
    ``knn_indices`` int64 and ``knn_dists`` float32, both ``(n, n_neighbors)``: column
    0 is the point itself at distance 0, then its ``n_neighbors - 1`` nearest.
    """
    if n_neighbors < 2:
        raise ValueError(f"n_neighbors must be at least 2, got {n_neighbors}")
    k = n_neighbors - 1
    if I.shape[1] < k:
        raise ValueError(f"the kNN graph has {I.shape[1]} neighbours per point; n_neighbors={n_neighbors} "
                         f"needs {k}")
    n = I.shape[0]
    knn_indices = np.empty((n, n_neighbors), dtype=np.int64)
    knn_indices[:, 0] = np.arange(n)
    knn_indices[:, 1:] = I[:, :k]
    knn_dists = np.zeros((n, n_neighbors), dtype=np.float32)
    knn_dists[:, 1:] = graph_distances(D[:, :k], metric, max_sq_norm)
    return knn_indices, knn_dists


#: umap-learn's numba kernels that a fit runs: "module:attribute".
_UMAP_KERNELS = (
    "umap.umap_:smooth_knn_dist",
    "umap.umap_:compute_membership_strengths",
    "umap.layouts:_nb_optimize_layout_euclidean_single_epoch",
)
_disk_cache_on = False
_disk_cache_lock = threading.Lock()


def enable_umap_disk_cache() -> list[str]:
    """Turn on numba's on-disk cache for umap's fit kernels (idempotent); imports umap.

    Returns the kernels it applies to. Kernels missing in another umap version are
    skipped: the map still works, only the first fit in each process compiles.
    The *parallel* layout kernel shares its source with the serial one, and numba's
    cache index does not tell them apart, so only the serial one (used with a fixed
    ``random_state``, as here) is cached.
    """
    global _disk_cache_on
    import umap  # noqa: F401 - the import is the point (and costs seconds: keep it lazy)

    done = []
    with _disk_cache_lock:
        for spec in _UMAP_KERNELS:
            module, name = spec.split(":")
            fn = getattr(importlib.import_module(module), name, None)
            if fn is None or not hasattr(fn, "enable_caching"):
                continue
            if not _disk_cache_on:
                fn.enable_caching()
            done.append(spec)
        _disk_cache_on = True
    return done


_preload_started = False


def preload_umap() -> None:
    """Import umap (and switch its disk cache on) in a background thread, once per process.

    The map page calls this while it shows the instant PCA map, so a later "UMAP" click
    does not wait for the import (seconds: pynndescent loads dozens of compiled
    kernels). Asking for UMAP before it finishes simply waits on Python's import lock.
    """
    global _preload_started
    if _preload_started:
        return
    _preload_started = True
    # umap's import chain loads pandas and pyarrow. plotly and narwhals look these up in
    # sys.modules without importing them, so another thread could see them half
    # initialised; import them here, in the caller's thread, before the background import.
    for name in ("pandas", "pyarrow"):
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    threading.Thread(target=enable_umap_disk_cache, name="preload-umap", daemon=True).start()


class _TqdmToProgress(io.TextIOBase):
    """A text stream for umap's tqdm bar that forwards ``done/total`` to a ProgressFn."""

    _pattern = re.compile(r"(\d+)/(\d+)")

    def __init__(self, progress: ProgressFn | None, message: str) -> None:
        super().__init__()
        self.progress, self.message = progress, message

    def write(self, s: str) -> int:
        found = self._pattern.findall(s)
        if found:
            done, total = map(int, found[-1])
            report(self.progress, done, total, self.message)
        return len(s)

    def flush(self) -> None:
        return None


def umap_project(
    x: np.ndarray,
    D: np.ndarray,
    I: np.ndarray,
    metric: str,
    dims: int = 2,
    *,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    n_epochs: int = 200,
    init: str = "pca",
    random_state: int = 0,
    progress: ProgressFn | None = None,
) -> np.ndarray:
    """UMAP of ``x`` ``(n, d)`` from its exact kNN graph ``D, I`` ``(n, >= n_neighbors - 1)``.

    Returns float32 ``(n, dims)``. Deterministic for a given ``random_state`` (which
    also makes umap run its layout on one thread).
    """
    n = x.shape[0]
    if n < 3:
        raise ValueError(f"UMAP needs at least 3 points, got {n}")
    if not 0.0 <= min_dist <= 1.0:
        raise ValueError(f"min_dist must be between 0 and 1, got {min_dist}")
    if n_epochs < 1:
        raise ValueError(f"n_epochs must be at least 1, got {n_epochs}")
    n_neighbors = int(min(n_neighbors, n - 1, I.shape[1] + 1))
    report(progress, 0, n_epochs, "loading UMAP")
    enable_umap_disk_cache()
    import umap

    max_sq = float(np.max(np.einsum("ij,ij->i", x, x))) if metric == "ip" else 1.0
    knn_indices, knn_dists = umap_knn_input(D, I, metric, n_neighbors, max_sq)
    report(progress, 0, n_epochs, "fuzzy graph and start layout")
    reducer = umap.UMAP(
        n_neighbors=n_neighbors,
        n_components=dims,
        metric="euclidean",
        min_dist=min_dist,
        n_epochs=n_epochs,
        init=init,
        random_state=random_state,
        precomputed_knn=(knn_indices, knn_dists),
        verbose=False,
        tqdm_kwds={"disable": progress is None, "file": _TqdmToProgress(progress, "UMAP layout epochs"),
                   "bar_format": "{n}/{total}", "mininterval": 0.25},
    )
    with warnings.catch_warnings():
        # "no NNDescent search index" / "n_jobs overridden by random_state": expected here
        warnings.simplefilter("ignore")
        coords = reducer.fit_transform(np.ascontiguousarray(x, dtype=np.float32))
    coords = np.asarray(coords, dtype=np.float32)
    if not np.isfinite(coords).all():
        raise ValueError("UMAP returned non-finite coordinates; try PCA or a larger n_neighbors")
    report(progress, n_epochs, n_epochs, "UMAP done")
    return coords


def warm_umap(n: int = 300, seed: int = 0) -> float:
    """Fit a tiny UMAP so numba compiles its kernels into the on-disk cache; returns seconds.

    Uses the same call as real maps (int64 indices, float32 distances, fixed seed),
    so the compiled signatures are the ones later fits load.
    """
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    D, I = knn_graph(x, 15, "cosine")
    umap_project(x, D, I, "cosine", 2, n_epochs=10)
    return time.perf_counter() - t0


# ------------------------------------------------------------------ approximate kNN graph




def drop_self(D: np.ndarray, I: np.ndarray, k: int, own_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Remove each point's own id from its row of a self-search ``D, I`` ``(n, >= k + 1)``.

    Row ``r`` is point ``own_ids[r]`` (default ``r``).

    Keeps the first ``k`` other neighbours of each row (best first), as `core.index.exact.knn_graph`
    does: by id, so exact duplicates stay neighbours; a row without its own id loses its last column.
    Missing neighbours (faiss's ``-1``) are filled with the row's last valid neighbour.
    """
    n = I.shape[0]
    if I.shape[1] < k + 1:
        raise ValueError(f"a self-search needs k + 1 = {k + 1} columns, got {I.shape[1]}")
    I = I[:, : k + 1]
    D = D[:, : k + 1]
    own_ids = np.arange(n) if own_ids is None else np.asarray(own_ids)
    own = I == own_ids[:, None]
    own[~own.any(axis=1), -1] = True
    own &= np.cumsum(own, axis=1) == 1  # a row holding its own id twice loses only the first
    keep = ~own
    D, I = D[keep].reshape(n, k).copy(), I[keep].reshape(n, k).copy()
    bad = I < 0
    if bad.any():
        for r in np.flatnonzero(bad.any(axis=1)):
            good = np.flatnonzero(~bad[r])
            if good.size == 0:
                raise ValueError(f"the approximate graph found no neighbour for point {int(r)}")
            I[r, bad[r]], D[r, bad[r]] = I[r, good[-1]], D[r, good[-1]]
    return D, I


@dataclass
class ShardedHNSW:
    """HNSW-Flat indexes over disjoint shards of a set of points: ``ids[s]`` are the points (rows of
    ``x``) that ``indexes[s]`` holds, in its own order."""

    indexes: list
    ids: list[np.ndarray]
    metric: str


def approximate_knn_graph(
    x: np.ndarray,
    k: int,
    metric: str = "cosine",
    *,
    M: int = 16,
    ef_construction: int = 100,
    ef_search: int = 64,
    shards: int = 2,
    block: int = 8192,
    progress: ProgressFn | None = None,
) -> tuple[ShardedHNSW, np.ndarray, np.ndarray]:
    """Approximate kNN graph of ``x`` ``(n, d)`` (self excluded) from faiss HNSW-Flat indexes.

    The points are dealt into ``shards`` shards (point ``i`` into shard ``i % shards``), and each
    shard's index is built on one thread of its own, the shards side by side: an HNSW build on several
    threads is not deterministic, one shard built on one thread is (and on 400k GloVe words two shards
    built at once took 27 s where one index of all took 65 s on one thread). Every point is then
    searched in every shard for its ``k + 1`` nearest with ``ef_search`` on all threads (each query's
    result depends only on the indexes), the shards' lists merged (`hnsw_self_search`). Returns the
    indexes and ``D, I`` ``(n, k)`` in faiss scores, best first, like `core.index.exact.knn_graph`.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = x.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be between 1 and n - 1 = {n - 1}, got {k}")
    shards = max(1, min(int(shards), n))
    ids = [np.arange(s, n, shards) for s in range(shards)]
    indexes = [faiss.IndexHNSWFlat(x.shape[1], int(M), faiss_metric(metric)) for _ in ids]
    added = [0] * shards
    failed: list[BaseException] = []
    stop = threading.Event()

    def build(s: int) -> None:
        try:
            faiss.omp_set_num_threads(1)  # this thread's OpenMP setting only
            indexes[s].hnsw.efConstruction = int(ef_construction)
            part = np.ascontiguousarray(x[ids[s]])
            for start in range(0, part.shape[0], block):
                if stop.is_set():
                    return
                indexes[s].add(part[start:start + block])
                added[s] = min(part.shape[0], start + block)
        except BaseException as exc:  # re-raised in the caller's thread
            failed.append(exc)

    workers = [threading.Thread(target=build, args=(s,), name=f"hnsw-shard-{s}", daemon=True) for s in range(shards)]
    for w in workers:
        w.start()
    try:
        for w in workers:  # progress is reported from the caller's thread only
            while w.is_alive():
                w.join(0.5)
                report(progress, sum(added), n, f"approximate kNN graph: HNSW build ({shards} shards)")
    except BaseException:  # a stopped job (its progress raised): the shards stop after their block
        stop.set()
        raise
    if failed:
        raise failed[0]
    index = ShardedHNSW(indexes, ids, metric)
    D, I = hnsw_self_search(index, x, k, ef_search, block=block, progress=progress)
    return index, D, I


def hnsw_self_search(index: ShardedHNSW, x: np.ndarray, k: int, ef_search: int, *, block: int = 8192,
                     progress: ProgressFn | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each row of ``x`` searched in every shard of ``index`` for ``k`` neighbours besides itself.

    Each shard answers ``k + 1`` neighbours; the lists are merged by score (ties by shard, then rank,
    so the merge is deterministic) and the first ``k + 1`` kept before the point itself is removed."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = x.shape[0]
    ef = int(max(ef_search, k + 1))
    D = np.empty((n, k + 1), dtype=np.float32)
    I = np.empty((n, k + 1), dtype=np.int64)
    sign = -1.0 if higher_is_closer(index.metric) else 1.0
    for start in range(0, n, block):
        stop = min(n, start + block)
        Ds, Is = [], []
        for shard, ids in zip(index.indexes, index.ids, strict=True):
            shard.hnsw.efSearch = ef
            d, i = shard.search(x[start:stop], k + 1)
            Ds.append(d)
            Is.append(np.where(i >= 0, ids[np.maximum(i, 0)], -1))
        d, i = np.concatenate(Ds, axis=1), np.concatenate(Is, axis=1)
        order = np.argsort(sign * d, axis=1, kind="stable")[:, : k + 1]
        D[start:stop], I[start:stop] = np.take_along_axis(d, order, 1), np.take_along_axis(i, order, 1)
        report(progress, stop, n, f"approximate kNN graph: search (efSearch {ef})")
    return drop_self(D, I, k)


def graph_recall(x: np.ndarray, I: np.ndarray, metric: str = "cosine", *, sample: int = GRAPH_RECALL_SAMPLE,
                 seed: int = 0) -> tuple[float, int]:
    """Recall of a kNN graph ``I`` ``(n, k)`` (self excluded) against exact search, on a seeded sample.

    For ``sample`` points drawn with ``seed`` (all points when ``n <= sample``), the share of each
    point's exact ``k`` nearest others (`core.index.exact.exact_search` among all ``n``, the point
    itself removed by id) found in its row of ``I``, averaged. Returns ``(recall, points measured)``.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    n, k = I.shape
    rows = sample_rows(n, sample, seed)
    _, exact = exact_search(x, x[rows], k + 1, metric)
    _, exact = drop_self(np.zeros(exact.shape, dtype=np.float32), exact, k, rows)
    found = [len(np.intersect1d(exact[j], I[r])) for j, r in enumerate(rows)]
    return float(np.sum(found)) / (rows.size * k), int(rows.size)


def measured_approximate_graph(x: np.ndarray, k: int, metric: str, *, seed: int = 0,
                               progress: ProgressFn | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """`approximate_knn_graph` with its recall measured (`graph_recall`); efSearch doubles until the
    recall reaches `MIN_GRAPH_RECALL` (or ``max_ef_search``). Returns ``D, I`` and what was done."""
    cfg = APPROX_GRAPH_HNSW
    t0 = time.perf_counter()
    index, D, I = approximate_knn_graph(x, k, metric, M=cfg["M"], ef_construction=cfg["ef_construction"],
                                        ef_search=cfg["ef_search"], shards=cfg["shards"], progress=progress)
    ef = cfg["ef_search"]
    while True:
        report(progress, 0, 1, f"recall of the approximate graph (efSearch {ef}) against exact search")
        recall, sampled = graph_recall(x, I, metric, seed=seed)
        if recall >= MIN_GRAPH_RECALL or ef * 2 > cfg["max_ef_search"]:
            break
        ef *= 2
        D, I = hnsw_self_search(index, np.ascontiguousarray(x, dtype=np.float32), k, ef, progress=progress)
    info = {"kind": "hnsw", "k": int(k), "M": cfg["M"], "ef_construction": cfg["ef_construction"],
            "shards": cfg["shards"],
            "ef_search": int(max(ef, k + 1)), "recall": recall, "recall_sample": sampled, "recall_seed": seed,
            "seconds": time.perf_counter() - t0}
    return D, I, info


def graph_note(info: dict | None) -> str:
    """How a map's kNN graph was computed, in words (what the map page says under the chart)."""
    if not info:
        return ""
    if info.get("kind") != "hnsw":
        return f"exact kNN graph ({info.get('k', '?')} neighbours, faiss flat search)"
    shards = int(info.get("shards", 1))
    return (f"approximate kNN graph (faiss HNSW{f' over {shards} shards' if shards > 1 else ''}, M={info['M']}, "
            f"efConstruction {info['ef_construction']}, "
            f"efSearch {info['ef_search']}): recall@{info['k']} {info['recall']:.3f} against exact search "
            f"on {info['recall_sample']:,} sampled points (seed {info['recall_seed']})")


# ------------------------------------------------------------------ workspace maps


@dataclass
class Projection:
    """A 2-D or 3-D map of (a sample of) a workspace's embeddings.

    Attributes:
        coords: float32 ``(m, dims)``, one row per drawn point.
        rows: int64 ``(m,)`` dataset row of each drawn point, sorted.
        method: ``"pca"`` or ``"umap"``.
        n_total: items in the workspace (``m < n_total`` when sampled).
        seed: sampling seed.
        params: the method's parameters (part of the cache key).
        explained_variance: PCA only: variance ratio of each axis.
        seconds: compute time when it was first computed.
        cached: whether this call loaded it from the artifact cache.
        graph: UMAP only: how its kNN graph was computed (`map_graph_for_umap`): ``kind`` ``"exact"``
            or ``"hnsw"``, ``k``; for ``"hnsw"`` also ``M``, ``ef_construction``, ``ef_search``,
            ``recall`` (against exact search), ``recall_sample``, ``recall_seed``, ``seconds``.
            ``None`` for PCA and for maps cached before it was recorded.
    """

    coords: np.ndarray
    rows: np.ndarray
    method: str
    dims: int
    n_total: int
    seed: int
    budget: int
    params: dict = field(default_factory=dict)
    explained_variance: list[float] | None = None
    seconds: float = 0.0
    cached: bool = False
    graph: dict | None = None

    @property
    def n_shown(self) -> int:
        return int(self.rows.shape[0])

    @property
    def sampled(self) -> bool:
        return self.n_shown < self.n_total

    @property
    def note(self) -> str:
        return sample_note(self.n_total, self.n_shown, self.seed)

    @property
    def method_name(self) -> str:
        return METHOD_NAMES[self.method]

    @property
    def graph_note(self) -> str:
        """How the kNN graph behind a UMAP map was computed, with its measured recall ("" for PCA)."""
        return graph_note(self.graph)


def resolve_params(method: str, params: dict | None, seed: int = 0) -> dict:
    """The full parameter dict of a method (defaults filled in); unknown keys raise."""
    method = method.lower()
    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r}; choose one of {', '.join(METHODS)}")
    params = dict(params or {})
    if method == "pca":
        if params:
            raise ValueError(f"PCA takes no parameters, got {sorted(params)}")
        return {}
    unknown = set(params) - set(UMAP_DEFAULTS) - {"random_state"}
    if unknown:
        raise ValueError(f"unknown UMAP parameters {sorted(unknown)}; known: {sorted(UMAP_DEFAULTS)}")
    out = {**UMAP_DEFAULTS, "random_state": seed, **params}
    out["n_neighbors"] = int(out["n_neighbors"])
    out["n_epochs"] = int(out["n_epochs"])
    out["min_dist"] = float(out["min_dist"])
    if out["n_neighbors"] < 2 or out["n_neighbors"] > 200:
        raise ValueError(f"n_neighbors must be between 2 and 200, got {out['n_neighbors']}")
    return out


def layout_job_key(embeddings_key: str, method: str, dims: int, budget: int, n: int, seed: int,
                   params: dict | None) -> str:
    """The key of one background layout: what it computes, so asking for it twice is one job. A point
    budget of ``n`` or more draws all ``n`` points, so every such budget is the same layout."""
    return f"{method}:{embeddings_key}:{dims}:{min(int(budget), int(n))}:{int(seed)}:{sorted((params or {}).items())}"


def uses_approximate_graph(method: str, n_shown: int) -> bool:
    """Whether a map of ``n_shown`` points is laid out from the approximate kNN graph."""
    return method == "umap" and n_shown >= APPROX_GRAPH_POINTS


def projection_key(ws, method: str, dims: int, params: dict, rows: np.ndarray) -> str:
    parts = [ws.embeddings_key, ws.metric, method, dims, params, _rows_digest(rows)]
    if uses_approximate_graph(method, int(rows.shape[0])):
        parts.append({"graph": "hnsw", **APPROX_GRAPH_HNSW, "min_recall": MIN_GRAPH_RECALL})
    return artifact_key("projection", *parts)


def projection_is_cached(ws, method: str = "umap", dims: int = 2, *, budget: int = DEFAULT_BUDGET, seed: int = 0,
                         params: dict | None = None) -> bool:
    """Whether `project` with these settings would load a cached map (embeddings must be cached)."""
    if not ws.has_embeddings():
        return False
    n = ws.embeddings().shape[0]
    key = projection_key(ws, method, dims, resolve_params(method, params, seed), sample_rows(n, budget, seed))
    return ws.cache.exists("projection", key)


def map_graph(ws, rows: np.ndarray, k: int = GRAPH_K, progress: ProgressFn | None = None):
    """Exact kNN graph ``D, I`` among the drawn points (ids are positions in ``rows``).

    All points drawn: the workspace's cached graph (`Workspace.knn`). A sample: the
    sample's own exact graph, cached as a ``knn`` artifact keyed by the rows.
    """
    n = ws.dataset.n
    m = int(rows.shape[0])
    k = min(k, m - 1)
    if m == n:
        return ws.knn(k, progress=progress)
    key = artifact_key("sample-knn", ws.embeddings_key, ws.metric, k, _rows_digest(rows))
    hitI = ws.cache.load("knn", key)
    hitD = ws.cache.load("knn", key + "d")
    if hitI is not None and hitD is not None:
        return hitD[0], hitI[0]
    x = ws.embeddings(progress)
    D, I = knn_graph(x[rows], k, ws.metric, progress=progress)
    ws.cache.save("knn", key + "d", D, {"k": k, "part": "D", "sample_of": n})
    ws.cache.save("knn", key, I, {"k": k, "part": "I", "sample_of": n})
    return D, I


def map_graph_for_umap(ws, rows: np.ndarray, k: int, progress: ProgressFn | None = None,
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict]:
    """The kNN graph UMAP lays the drawn points out from, and how it was computed.

    Below `APPROX_GRAPH_POINTS` drawn points: the exact graph (`map_graph`). From there up: the
    approximate HNSW graph with its measured recall (`measured_approximate_graph`), cached as a
    ``knn`` artifact keyed by the rows and the HNSW settings. Returns ``D, I`` ``(m, k)`` and the
    graph's description (`Projection.graph`).
    """
    m = int(rows.shape[0])
    k = min(k, m - 1)
    if not uses_approximate_graph("umap", m):
        D, I = map_graph(ws, rows, k, progress)
        return D, I, {"kind": "exact", "k": int(k)}
    key = artifact_key("approx-knn", ws.embeddings_key, ws.metric, k, _rows_digest(rows), APPROX_GRAPH_HNSW,
                       MIN_GRAPH_RECALL, GRAPH_RECALL_SAMPLE, seed)
    hitI = ws.cache.load("knn", key)
    hitD = ws.cache.load("knn", key + "d")
    if hitI is not None and hitD is not None and "graph" in hitI[1]:
        return hitD[0], hitI[0], hitI[1]["graph"]
    x = ws.embeddings(progress)
    xs = x if m == x.shape[0] else x[rows]
    D, I, info = measured_approximate_graph(xs, k, ws.metric, seed=seed, progress=progress)
    ws.cache.save("knn", key + "d", D, {"k": k, "part": "D", "graph": info})
    ws.cache.save("knn", key, I, {"k": k, "part": "I", "graph": info})
    return D, I, info


def project(
    ws,
    method: str = "pca",
    dims: int = 2,
    *,
    budget: int = DEFAULT_BUDGET,
    seed: int = 0,
    params: dict | None = None,
    progress: ProgressFn | None = None,
) -> Projection:
    """A cached 2-D/3-D map of the workspace (`core.workspace.Workspace`).

    The embeddings must exist (they are computed if not, with ``progress``).
    """
    method = method.lower()
    if dims not in (2, 3):
        raise ValueError(f"a map has 2 or 3 dimensions, got {dims}")
    params = resolve_params(method, params, seed)
    x = ws.embeddings(progress)
    n = x.shape[0]
    rows = sample_rows(n, budget, seed)
    key = projection_key(ws, method, dims, params, rows)
    hit = ws.cache.load("projection", key)
    if hit is not None:
        coords, meta = hit
        return Projection(coords, rows, method, dims, n, seed, budget, params,
                          meta.get("explained_variance"), float(meta.get("seconds", 0.0)), cached=True,
                          graph=meta.get("graph"))
    t0 = time.perf_counter()
    explained = graph = None
    if method == "pca":
        coords, ratio = pca_project(x[rows], dims)
        explained = [float(r) for r in ratio]
    else:
        # the exact graph is shared with the LID and hubness colours (GRAPH_K columns); the
        # approximate one is UMAP's alone, so it has just the columns UMAP reads
        k = GRAPH_K if not uses_approximate_graph(method, int(rows.shape[0])) else params["n_neighbors"] - 1
        D, I, graph = map_graph_for_umap(ws, rows, max(k, params["n_neighbors"] - 1), progress, seed)
        coords = umap_project(x[rows], D, I, ws.metric, dims, progress=progress, **params)
    seconds = time.perf_counter() - t0
    ws.cache.save("projection", key, coords, {
        "dataset": ws.dataset.name, "method": method, "dims": dims, "params": params, "n_total": n,
        "n_shown": int(rows.shape[0]), "seed": seed, "budget": budget, "explained_variance": explained,
        "seconds": seconds, "graph": graph,
    })
    return Projection(coords, rows, method, dims, n, seed, budget, params, explained, seconds, cached=False,
                      graph=graph)


# ------------------------------------------------------------------ colours and tables

#: What a map can be coloured by.
COLOUR_BY = ("category", "LID", "hubness", "norm", "none")


@dataclass
class MapColour:
    """Values to colour the drawn points by.

    ``kind`` is ``"category"`` (strings), ``"continuous"`` (float, NaN = no value) or ``"none"``.
    """

    by: str
    kind: str
    values: np.ndarray | None
    title: str
    summary: str = ""


def map_colour(ws, proj: Projection, by: str, progress: ProgressFn | None = None) -> MapColour:
    """Colour values for the points of ``proj``; LID and hubness come from the map's kNN graph."""
    from core.analysis.neighbourhoods import k_occurrence, local_dimension, skewness

    rows = proj.rows
    where = "among the drawn points" if proj.sampled else "among all points"
    if by == "none":
        return MapColour(by, "none", None, "")
    if by == "category":
        labels = ws.dataset.labels
        if labels is None:
            raise ValueError(f"{ws.dataset.name} has no categories; colour by LID, hubness or norm instead")
        values = np.asarray([str(labels[i]) for i in rows], dtype=object)
        n_cats = len(set(values.tolist()))
        summary = f"{n_cats:,} categories {where}"
        if n_cats > 0.5 * len(values):
            summary += " (almost every item is its own category, so colour shows little)"
        return MapColour(by, "category", values, "category", summary)
    if by in ("LID", "hubness"):
        D, I = map_graph(ws, rows, GRAPH_K, progress)
        if by == "LID":
            k = min(LID_K, D.shape[1])
            lid = local_dimension(D, ws.metric, k)
            ok = np.isfinite(lid)
            summary = (f"local intrinsic dimension (MLE, k={k}, neighbours {where}): median "
                       f"{np.median(lid[ok]):.1f}, 10–90% range {np.percentile(lid[ok], 10):.1f}–"
                       f"{np.percentile(lid[ok], 90):.1f}" if ok.any() else "no point has an LID estimate")
            if (~ok).any():
                summary += f"; {int((~ok).sum()):,} points without an estimate (duplicates) in grey"
            return MapColour(by, "continuous", lid, f"LID (k={k})", summary)
        k = min(HUBNESS_K, I.shape[1])
        counts = k_occurrence(I, k=k)
        summary = (f"hubness: how many other points have this one among their {k} nearest neighbours (the "
                   f"k-occurrence N{k}, Radovanović et al. 2010; neighbours {where}): mean {counts.mean():.0f} by "
                   f"construction, max {counts.max():,}, {np.mean(counts == 0):.1%} of points are in nobody's top "
                   f"{k}; skewness {skewness(counts):.2f} (above ~1: the space has hubs)")
        return MapColour(by, "continuous", counts.astype(np.float64), f"in others' top {k}", summary)
    if by == "norm":
        ds = ws.dataset
        source = ds.vectors if ds.kind == "vectors" else ws.embeddings(progress)
        norms = np.linalg.norm(np.asarray(source[rows], dtype=np.float32), axis=1).astype(np.float64)
        which = "norms of the vectors as given" if ds.kind == "vectors" else "norms of the embeddings"
        spread = norms.max() - norms.min()
        summary = f"{which}: min {norms.min():.3g}, median {np.median(norms):.3g}, max {norms.max():.3g}"
        if spread < 1e-3 * max(norms.max(), 1e-12):
            summary += " (all equal: the encoder normalises its vectors, so colour shows nothing)"
        return MapColour(by, "continuous", norms, "L2 norm", summary)
    raise ValueError(f"cannot colour by {by!r}; choose one of {', '.join(COLOUR_BY)}")


def coords_frame(proj: Projection, dataset):
    """Coordinates as a table: ``id, label, x, y[, z]`` (one row per drawn point), for CSV export."""
    import pandas as pd

    rows = proj.rows
    frame = {"id": [dataset.ids[i] for i in rows]}
    frame["label"] = [dataset.labels[i] for i in rows] if dataset.labels is not None else [""] * len(rows)
    for j, axis in enumerate("xyz"[: proj.dims]):
        frame[axis] = proj.coords[:, j]
    return pd.DataFrame(frame)


#: Neighbour columns of the map table, named by what their numbers are under each metric.
NEIGHBOUR_SCORE_COLUMNS = {"cosine": "neighbor_cosine_similarity", "ip": "neighbor_inner_product",
                           "l2": "neighbor_l2_distance"}


def map_table(ws, proj: Projection, k: int = 10, progress: ProgressFn | None = None):
    """The map with its neighbourhoods, one row per drawn point: ``id, label, text, x, y[, z]``, and each
    item's exact ``k`` nearest neighbours among *all* items (``neighbor_ids``, best first) with their
    scores (cosine similarity, inner product or L2 distance, by the workspace's metric; the column says
    which). The kNN graph is the cached one the map and the LID pages share."""
    ds = ws.dataset
    frame = coords_frame(proj, ds)
    frame.insert(2, "text", [ds.display_text(int(i)) for i in proj.rows])
    k = max(1, min(int(k), ds.n - 1)) if ds.n > 1 else 0
    if k:
        D, I = ws.knn(k, progress=progress)
        D, I = D[proj.rows], I[proj.rows]
        scores = np.sqrt(np.maximum(D, 0.0)) if ws.metric == "l2" else D
        frame["neighbor_ids"] = [[ds.ids[int(j)] for j in row if j >= 0] for row in I]
        frame[NEIGHBOUR_SCORE_COLUMNS[ws.metric]] = [[float(v) for v in row] for row in scores]
    return frame


def table_parquet(frame) -> bytes:
    """A table as Parquet bytes (list columns kept as lists)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buf)
    return buf.getvalue()


def hover_width(n_shown: int) -> int:
    """Characters of text a map's hover label keeps per point: every character is sent for every point,
    so big maps keep less (140 up to 10,000 points, 80 up to 50,000, 40 above)."""
    return 140 if n_shown <= 10_000 else 80 if n_shown <= 50_000 else 40


def hover_texts(dataset, rows: np.ndarray, width: int = 140) -> list[str]:
    """Unescaped hover text per drawn point: its id (and label), then the start of its text.

    ``"id · label\ntext…"``, the text cut to ``width`` characters; an item without text is its id
    (and label) alone.
    """
    ids, labels = dataset.ids, dataset.labels
    has_text = dataset.texts is not None or dataset.titles is not None
    if labels is None and not has_text:
        return [ids[i] for i in rows]  # vectors without text (GloVe): the id says it all
    out = []
    for i in rows:
        head = ids[i] if labels is None else f"{ids[i]} · {labels[i]}"
        body = " ".join(dataset.display_text(int(i)).split()) if has_text else ""
        if len(body) > width:
            body = body[: width - 1] + "…"
        out.append(f"{head}\n{body}" if body and body != ids[i] else head)
    return out


def drawn_positions(rows: np.ndarray, ids) -> np.ndarray:
    """Positions in the drawn ``rows`` (sorted) of those dataset rows ``ids`` that are drawn.

    Returns int64 positions, in the order of ``ids``; ids not in the sample are left out.
    """
    ids = np.atleast_1d(np.asarray(ids, dtype=np.int64))
    if ids.size == 0 or rows.size == 0:
        return np.zeros(0, dtype=np.int64)
    pos = np.searchsorted(rows, ids)
    ok = (pos < rows.size) & (rows[np.minimum(pos, rows.size - 1)] == ids)
    return pos[ok].astype(np.int64)
