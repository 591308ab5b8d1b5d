"""The shape of an index method: `Param` (default, grid, range), `MethodSpec` (build and search kept apart,
ann-benchmarks style), `Built` (an index with its arrays and timings), and exact re-ranking of a shortlist.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import faiss
import numpy as np

#: Recommended k-means training points per centroid (faiss prints a warning below this).
POINTS_PER_CENTROID = 39
#: Most base vectors a method trains on (k-means, PQ/OPQ codebooks, scalar ranges, projections): above
#: this a seeded sample is used, said in the row's note. faiss itself caps k-means at 256 points per
#: centroid, but an OPQ or a pre-transform index first copies and rotates the whole training set
#: (1.5 GB for 1M x 384), and a quick sweep past 100k vectors should not train on all of them.
MAX_TRAIN_POINTS = 100_000

Params = Mapping[str, object]
SearchFn = Callable[["Built", np.ndarray, int, Params], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Param:
    """One parameter of a method: its default, its full sweep grid and its valid range.

    Integer parameters have ``low``/``high`` bounds; categorical ones list ``choices``.
    """

    name: str
    default: object
    grid: tuple
    help: str
    low: int | None = None
    high: int | None = None
    choices: tuple | None = None

    def range_text(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return f"an integer in [{self.low}, {self.high}]"

    def check(self, value: object, method: str) -> None:
        """Raise ValueError naming the method, the parameter and its range."""
        if self.choices is not None:
            ok = any(value == c and type(value) is type(c) for c in self.choices)
        else:
            ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool) and self.low <= value <= self.high
        if not ok:
            raise ValueError(f"{method}: {self.name} must be {self.range_text()}, got {value!r}")


@dataclass
class Built:
    """A built index plus everything its search needs.

    ``index`` is a faiss ``Index``/``IndexBinary`` (or ``None`` for numpy codecs);
    ``arrays`` are extra arrays the method keeps (codes, scales, thresholds) and
    count toward its size; ``xb`` is the float base kept for re-ranking (counted apart).
    """

    index: object = None
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    xb: np.ndarray | None = None
    train_s: float = 0.0
    build_s: float = 0.0
    note: str = ""
    method: str = ""
    params: dict = field(default_factory=dict)
    metric: str = "cosine"
    n: int = 0
    d: int = 0


BuildFn = Callable[..., Built]


@dataclass(frozen=True)
class MethodSpec:
    """A named method: how to build it, search it, and which settings make sense.

    ``factory`` renders the faiss index-factory string (or a precise description)
    from the merged parameters; ``code_bytes`` is the *expected* bytes per vector
    (for estimates before building; the sweep measures the real size);
    ``centroids`` is the largest number of k-means centroids it trains;
    ``constraints`` return a reason when a parameter set cannot run on ``(n, d)`` data;
    ``learned`` methods train with torch and their build takes ``progress`` (training steps) and
    ``judged`` (training queries with judgments, `core.index.task_pq.Judged`); ``needs_judgments``
    methods cannot build without them (the sweep skips them, saying why).
    """

    name: str
    family: str
    description: str
    factory: Callable[[Params], str]
    build_params: tuple[Param, ...]
    search_params: tuple[Param, ...]
    build: BuildFn
    search: SearchFn
    code_bytes: Callable[[Params, int], float]
    centroids: Callable[[Params], int] = lambda p: 0
    constraints: tuple[Callable[[Params, int, int], str | None], ...] = ()
    learned: bool = False
    needs_judgments: bool = False

    @property
    def params(self) -> tuple[Param, ...]:
        return self.build_params + self.search_params

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.params) or "none"
        raise ValueError(f"{self.name} has no parameter {name!r}; its parameters are: {known}")

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def validate(self, params: Params, n: int, d: int) -> str | None:
        """Why ``params`` cannot run on ``n`` vectors of dimension ``d``, or ``None``."""
        need = self.centroids(params)
        if n < need:
            return (
                f"{self.factory(params)} trains {need} k-means centroids; faiss needs at least "
                f"{need} training points but the base has n={n}"
            )
        for constraint in self.constraints:
            reason = constraint(params, n, d)
            if reason:
                return reason
        return None

    def training_note(self, params: Params, n: int) -> str:
        need = self.centroids(params)
        if need and n < POINTS_PER_CENTROID * need:
            return (
                f"trained {need} centroids on {n} points ({n / need:.1f} per centroid; "
                f"faiss recommends >= {POINTS_PER_CENTROID})"
            )
        return ""


# ---------------------------------------------------------------- faiss helpers


def training_sample(x: np.ndarray, seed: int = 0, max_train: int | None = None) -> tuple[np.ndarray, str]:
    """``x`` itself, or a seeded sample of ``max_train`` (default `MAX_TRAIN_POINTS`) of its rows, in their
    order, with a note saying so."""
    max_train = MAX_TRAIN_POINTS if max_train is None else int(max_train)
    n = x.shape[0]
    if n <= max_train:
        return x, ""
    rows = np.sort(np.random.default_rng(seed).choice(n, size=max_train, replace=False))
    return np.ascontiguousarray(x[rows]), f"trained on a seeded sample of {max_train:,} of the {n:,} vectors"


def train_add(index, x: np.ndarray, train_x: np.ndarray | None = None) -> tuple[float, float]:
    """Train (if needed, on ``train_x``, default ``x``) and add ``x``; return ``(train_s, add_s)``."""
    t0 = time.perf_counter()
    if not index.is_trained:
        index.train(x if train_x is None else train_x)
    t1 = time.perf_counter()
    index.add(x)
    return t1 - t0, time.perf_counter() - t1


def serialized_bytes(index) -> int:
    """Size of a faiss index as written to disk (codes, codebooks, links, transforms)."""
    if index is None:
        return 0
    if isinstance(index, faiss.IndexBinary):
        return int(faiss.serialize_index_binary(index).size)
    return int(faiss.serialize_index(index).size)


def rerank(xq: np.ndarray, xb: np.ndarray, I: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Exact re-scoring of candidate ids ``I`` ``(nq, R)`` with the float vectors.

    Returns the best ``k`` as ``D, I`` ``(nq, k)``; ``-1`` candidates stay last.
    """
    nq, r = I.shape
    xq, xb = np.ascontiguousarray(xq, dtype=np.float32), np.ascontiguousarray(xb, dtype=np.float32)
    I = np.ascontiguousarray(I, dtype=np.int64)
    scores = np.empty((nq, r), dtype=np.float32)
    by_idx = faiss.fvec_L2sqr_by_idx if metric == "l2" else faiss.fvec_inner_products_by_idx
    by_idx(faiss.swig_ptr(scores), faiss.swig_ptr(xq), faiss.swig_ptr(xb), faiss.swig_ptr(I), xb.shape[1], nq, r)
    order = np.argsort(scores if metric == "l2" else -scores, axis=1, kind="stable")[:, :k]
    D = np.take_along_axis(scores, order, axis=1)
    I = np.take_along_axis(I, order, axis=1)
    I[~np.isfinite(D)] = -1
    return D, I


def with_rerank(inner: SearchFn) -> SearchFn:
    """Wrap a search so that ``rerank=R > 0`` fetches R candidates and re-scores them exactly."""

    def search(built: Built, xq: np.ndarray, k: int, sp: Params):
        r = int(sp.get("rerank", 0))
        if r == 0:
            return inner(built, xq, k, sp)
        _, I = inner(built, xq, min(r, built.n), sp)
        return rerank(xq, built.xb, I, k, built.metric)

    return search


def search_index(built: Built, xq: np.ndarray, k: int, sp: Params):
    return built.index.search(xq, k)
