"""Index and compression methods for the sweep: a registry of named specs.

Each method is a `MethodSpec` with its *build* parameters (what the index is
made with: ``m``, ``nlist``, ``M``, ``d_out`` ...) kept apart from its *search*
parameters (what a query is run with: ``nprobe``, ``ef_search``, ``rerank`` ...),
ann-benchmarks style, so one build serves every search setting.

Conventions (faiss contrib style): base and queries are float32 ``(n, d)`` /
``(nq, d)``; searches return ``D, I`` of shape ``(nq, k)``. ``metric`` is
``"cosine"`` (unit vectors, inner product), ``"ip"`` or ``"l2"``; cosine and ip
use ``faiss.METRIC_INNER_PRODUCT``. ``D`` holds each method's native score
(inner product, squared L2, or Hamming distance for raw binary codes); after a
re-rank it holds exact scores computed from the float vectors.

Training points: faiss k-means needs at least as many points as centroids (it
raises otherwise), so a configuration with ``n < centroids`` is skipped; below
faiss's recommended 39 points per centroid it still runs and its row carries a
note saying so.

Re-ranking: methods with a ``rerank`` search parameter keep a reference to the
float base vectors and re-score a shortlist of ``rerank`` candidates exactly.
Those vectors are *not* part of the index size; the sweep reports them in a
separate ``rerank_bytes_per_vector`` column.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import faiss
import numpy as np
from threadpoolctl import threadpool_limits

from .knn import check_k, faiss_metric

#: Recommended k-means training points per centroid (faiss prints a warning below this).
POINTS_PER_CENTROID = 39

FAMILIES: dict[str, str] = {
    "exact": "Exact search",
    "scalar": "Scalar quantization",
    "pq": "Product quantization",
    "ivf": "Inverted file",
    "graph": "Graph (HNSW)",
    "binary": "Binary codes",
    "rabitq": "RaBitQ",
    "reduction": "Dimensionality reduction",
}

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
    ``constraints`` return a reason when a parameter set cannot run on ``(n, d)`` data.
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


def train_add(index, x: np.ndarray) -> tuple[float, float]:
    """Train (if needed) and add ``x``; return ``(train_s, add_s)``."""
    t0 = time.perf_counter()
    if not index.is_trained:
        index.train(x)
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


def factory_build(
    factory: Callable[[Params], str], configure: Callable[[object, Params], None] | None = None
) -> BuildFn:
    """Build function for a method that is one faiss index-factory string.

    ``configure(index, params)`` sets build-time knobs the factory string cannot
    express (HNSW efConstruction, OPQ iterations) before training.
    """

    def build(xb: np.ndarray, metric: str, params: Params, **_) -> Built:
        index = faiss.index_factory(xb.shape[1], factory(params), faiss_metric(metric))
        quiet_kmeans(index)
        if configure is not None:
            configure(index, params)
        train_s, build_s = train_add(index, xb)
        return Built(index=index, train_s=train_s, build_s=build_s)

    return build


def quiet_kmeans(index) -> None:
    """Silence faiss's stderr warning below 39 points per centroid (printed once per PQ
    sub-quantizer); the row's note states it once instead. Only the warning threshold changes."""
    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexPreTransform):
        quiet_kmeans(index.index)
    for holder in (index, getattr(index, "pq", None)):
        if hasattr(holder, "cp"):
            holder.cp.min_points_per_centroid = 1


def set_ef_construction(index, params: Params) -> None:
    index.hnsw.efConstruction = int(params["ef_construction"])


def configure_opq(index, params: Params) -> None:
    """Set OPQ's iterations; give it its own (quiet) product quantizer to train with."""
    opq = faiss.downcast_VectorTransform(index.chain.at(0))
    opq.niter = int(params["niter"])
    pq = faiss.ProductQuantizer(opq.d_out, opq.M, 8)
    pq.cp.min_points_per_centroid = 1
    opq.pq = pq
    index.referenced_objects = [pq]  # faiss's idiom: keep it alive as long as the index


def factory_search(make_params: Callable[[Params], object] | None = None) -> SearchFn:
    """Search function passing faiss ``SearchParameters`` (the index itself is never mutated)."""

    def search(built: Built, xq: np.ndarray, k: int, sp: Params):
        params = make_params(sp) if make_params else None
        return built.index.search(xq, k, params=params)

    return search


def ivf_params(sp: Params):
    return faiss.SearchParametersIVF(nprobe=int(sp["nprobe"]))


def hnsw_params(sp: Params):
    return faiss.SearchParametersHNSW(efSearch=int(sp["ef_search"]))


def rabitq_params(sp: Params):
    return faiss.RaBitQSearchParameters(qb=int(sp["qb"]))


def ivf_rabitq_params(sp: Params):
    return faiss.IVFRaBitQSearchParameters(nprobe=int(sp["nprobe"]), qb=int(sp["qb"]))


# ---------------------------------------------------------------- binary codes


def sign_codes(x: np.ndarray, threshold: np.ndarray | float = 0.0) -> np.ndarray:
    """Packed sign bits ``x > threshold``: uint8 ``(n, ceil(d / 8))``, zero-padded."""
    return np.packbits(x > threshold, axis=1)


def build_binary(xb: np.ndarray, metric: str, params: Params, **_) -> Built:
    t0 = time.perf_counter()
    threshold = xb.mean(axis=0, dtype=np.float64).astype(np.float32) if params["center"] else None
    codes = sign_codes(xb, 0.0 if threshold is None else threshold)
    index = faiss.IndexBinaryFlat(codes.shape[1] * 8)
    train_s = time.perf_counter() - t0
    _, build_s = train_add(index, codes)
    arrays = {} if threshold is None else {"threshold": threshold}
    return Built(index=index, arrays=arrays, xb=xb, train_s=train_s, build_s=build_s)


def search_hamming(built: Built, xq: np.ndarray, k: int, sp: Params):
    """Hamming top-k over packed sign bits; ``D`` are Hamming distances (int32)."""
    codes = sign_codes(xq, built.arrays.get("threshold", 0.0))
    return built.index.search(codes, k)


# ------------------------------------------------- multi-bit residual binarization


def bebr_encode(x: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy residual binarization: ``x ≈ Σ_j scales[:, j] * s_j`` with ``s_j ∈ {-1, +1}^d``.

    Level 1 is ``s_1 = sign(x)``; each next level is the sign of the residual the
    levels before left. Each level's per-vector scale is ``mean(|r|)``, the least-
    squares scale for a sign code (``argmin_a ||r - a·sign(r)||``). No training.
    BEBR (Tencent) weights level i by a fixed 2^-(i+1) instead; a fitted scale per
    vector costs 4 bytes per level and follows each vector's own magnitude.

    Returns ``codes`` uint8 ``(n, bits, ceil(d / 8))`` (packed; a set bit means +1)
    and ``scales`` float32 ``(n, bits)``.
    """
    r = np.array(x, dtype=np.float32)
    codes, scales = [], []
    for _ in range(bits):
        positive = r > 0
        alpha = np.abs(r).mean(axis=1)
        r -= alpha[:, None] * np.where(positive, 1.0, -1.0).astype(np.float32)
        codes.append(np.packbits(positive, axis=1))
        scales.append(alpha)
    return np.stack(codes, axis=1), np.stack(scales, axis=1).astype(np.float32)


def bebr_decode(codes: np.ndarray, scales: np.ndarray, d: int) -> np.ndarray:
    """Inverse of `bebr_encode`: float32 ``(n, d)`` reconstruction ``Σ_j scales[:, j] * s_j``."""
    signs = np.unpackbits(codes, axis=2, count=d).astype(np.float32) * 2.0 - 1.0
    return np.einsum("nb,nbd->nd", scales, signs, dtype=np.float32)


def build_bebr(xb: np.ndarray, metric: str, params: Params, **_) -> Built:
    t0 = time.perf_counter()
    arrays = {}
    if params["center"]:
        arrays["mean"] = xb.mean(axis=0, dtype=np.float64).astype(np.float32)
    codes, scales = bebr_encode(xb - arrays["mean"] if params["center"] else xb, int(params["bits"]))
    arrays.update(codes=codes, scales=scales)
    return Built(arrays=arrays, build_s=time.perf_counter() - t0)


def search_bebr(built: Built, xq: np.ndarray, k: int, sp: Params, block: int = 16384):
    """Asymmetric distance: float queries against base vectors decoded block by block.

    Scores are ``<q, x̂>`` (or ``||q - x̂||²``) with ``x̂`` the reconstruction. We chose
    asymmetric over BEBR's symmetric (both sides binarized, popcount) distance
    because it removes the query's quantization error, so recall is an upper bound
    for the codes. Centering by the base mean changes neither the L2 ranking nor,
    per query, the inner-product ranking, since ``<q, x> = <q, x - m> + <q, m>``.
    """
    codes, scales = built.arrays["codes"], built.arrays["scales"]
    mean = built.arrays.get("mean")
    xq_c = xq - mean if mean is not None and built.metric == "l2" else xq
    heap = faiss.ResultHeap(xq.shape[0], k, keep_max=built.metric != "l2")
    for start in range(0, built.n, block):
        xhat = bebr_decode(codes[start : start + block], scales[start : start + block], built.d)
        D, I = faiss.knn(np.ascontiguousarray(xq_c), xhat, min(k, xhat.shape[0]), metric=faiss_metric(built.metric))
        heap.add_result(D, I + start)
    heap.finalize()
    return heap.D, heap.I


# ------------------------------------------------------- dimensionality reduction


def second_moment(x: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
    """``(x - mean)ᵀ (x - mean) / n`` as float64 ``(d, d)``."""
    xc = x if mean is None else x - mean
    return (xc.T @ xc).astype(np.float64) / x.shape[0]


def top_eigenvectors(K: np.ndarray, d_out: int) -> np.ndarray:
    """Eigenvectors of the largest ``d_out`` eigenvalues of symmetric ``K``: ``(d, d_out)``.

    On one BLAS thread: a d x d eigensolver gains little from threads, and on shared
    cores OpenBLAS's spinning threads made it 3-15x slower (0.2 s vs 0.6-3.8 s for
    11 solves at d=384).
    """
    with threadpool_limits(limits=1, user_api="blas"):
        _, V = np.linalg.eigh(K)
    return V[:, ::-1][:, :d_out]


def projection_mean(x: np.ndarray, metric: str) -> np.ndarray | None:
    """The base mean a projection is centered on: L2 only, since it is translation invariant.

    Inner products are not, so cosine and ip keep the uncentered second moment, as
    LeanVec does for inner-product search.
    """
    return x.mean(axis=0, dtype=np.float64).astype(np.float32) if metric == "l2" else None


def pca_projection(xb: np.ndarray, d_out: int, metric: str) -> tuple[np.ndarray, np.ndarray | None]:
    """LeanVec-ID: top ``d_out`` eigenvectors of the base second moment (centered for L2 only,
    see `projection_mean`). Returns ``P (d, d_out)`` and the mean (or ``None``)."""
    mean = projection_mean(xb, metric)
    return top_eigenvectors(second_moment(xb, mean), d_out), mean


def ood_loss(P: np.ndarray, Kq: np.ndarray, Kx: np.ndarray) -> float:
    """``E ||qᵀ (I - P Pᵀ) x||²`` over query/base pairs, from their second moments ``Kq``, ``Kx``."""
    M = np.eye(P.shape[0]) - P @ P.T
    return float(np.sum((M @ Kq @ M) * Kx))


def frobenius_unit(K: np.ndarray) -> np.ndarray:
    return K / np.linalg.norm(K)


def cross_validated_ood_loss(beta: float, Kx: np.ndarray, folds: list[np.ndarray], d_out: int) -> float:
    """OOD loss of the β-blend fitted on one half of the queries, measured on the other (both ways)."""
    total = 0.0
    for K_fit, K_held in zip(folds, folds[::-1], strict=True):
        P = top_eigenvectors((1 - beta) * Kx + beta * K_fit, d_out)
        total += ood_loss(P, K_held, Kx)
    return total


def leanvec_ood_projection(
    xb: np.ndarray,
    xq_train: np.ndarray,
    d_out: int,
    metric: str,
    betas: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Query-aware projection (LeanVec-OOD, eigenvector-search variant).

    ``P`` = top ``d_out`` eigenvectors of ``(1 - β) Kx/‖Kx‖ + β Kq/‖Kq‖`` where ``Kx``
    and ``Kq`` are the base and training-query second moments. ``β`` is picked on a
    grid by the closed-form out-of-distribution loss ``E ||qᵀ (I - P Pᵀ) x||²`` (the
    error in exactly the inner products the search computes), cross-validated on two
    halves of the query sample, so a small sample cannot pull the projection towards
    its own noise (without it, 50 in-distribution queries cost PCA 8 points of recall).

    We chose it over the Frank-Wolfe variant of the LeanVec paper (Tepper et al.,
    2024), which learns separate query and base matrices, because it has no step
    sizes or iteration counts to tune, is deterministic, stores one orthonormal
    matrix, and contains LeanVec-ID (β = 0) in its search. Its limit: a blend ranks
    directions by a weighted *sum* of query and base variance, while the loss
    rewards their *product*, so directions of moderate variance in both can be
    missed where Frank-Wolfe would find them.

    For L2 the moments are taken around the base mean (see `projection_mean`).
    Returns ``P (d, d_out)``, the centering mean (``None`` for inner products) and β.
    """
    mean = projection_mean(xb, metric)
    Kx, Kq = frobenius_unit(second_moment(xb, mean)), frobenius_unit(second_moment(xq_train, mean))
    if len(xq_train) >= 4:
        halves = np.array_split(np.random.default_rng(seed).permutation(len(xq_train)), 2)
        folds = [frobenius_unit(second_moment(xq_train[h], mean)) for h in halves]
    else:
        folds = [Kq, Kq]
    betas = np.linspace(0.0, 1.0, 11) if betas is None else betas
    with threadpool_limits(limits=1, user_api="blas"):  # d x d algebra: see top_eigenvectors
        beta = float(min(betas, key=lambda b: cross_validated_ood_loss(b, Kx, folds, d_out)))
        P = top_eigenvectors((1 - beta) * Kx + beta * Kq, d_out)
    return P, mean, beta


def gaussian_projection(d: int, d_out: int, seed: int) -> np.ndarray:
    """Seeded Gaussian random projection ``(d, d_out)`` scaled by ``1/sqrt(d_out)`` (Johnson-Lindenstrauss)."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((d, d_out)) / np.sqrt(d_out)).astype(np.float32)


def linear_transform(P: np.ndarray, mean: np.ndarray | None) -> faiss.LinearTransform:
    """faiss transform ``y = Pᵀ (x - mean)``; serialized with the index, so its bytes are counted."""
    d, d_out = P.shape
    lt = faiss.LinearTransform(d, d_out, True)
    A = np.ascontiguousarray(P.T, dtype=np.float32)
    b = np.zeros(d_out, dtype=np.float32) if mean is None else -(A @ mean).astype(np.float32)
    faiss.copy_array_to_vector(A.ravel(), lt.A)
    faiss.copy_array_to_vector(b, lt.b)
    lt.is_trained = True
    return lt


CODECS = {"flat": "Flat", "sq8": "SQ8"}


def reduced_index(transforms: list, d_out: int, metric: str, codec: str) -> faiss.IndexPreTransform:
    """``IndexPreTransform(transforms..., codec index on d_out dims)``.

    For cosine the reduced vectors are re-normalised and compared by cosine, as
    Matryoshka truncation is. Measured against inner product and L2 in the reduced
    space, centered or not, this was the best or within 0.02 of the best recall on
    stdlib-docs MiniLM (d' 24-192) and GloVe-50d (d' 6-25); plain inner product
    (LeanVec's choice) lost up to half its recall on GloVe at d'=12.
    """
    index = faiss.IndexPreTransform(faiss.index_factory(d_out, CODECS[codec], faiss_metric(metric)))
    if metric == "cosine":
        index.prepend_transform(faiss.NormalizationTransform(d_out, 2.0))
    for vt in reversed(transforms):
        index.prepend_transform(vt)
    return index


def reduction_build(fit: Callable[..., tuple[list, str]]) -> BuildFn:
    """Build function: ``fit(xb, metric, params, seed=, xq_train=) -> (transforms, note)``,
    then index the reduced vectors with the chosen codec."""

    def build(xb: np.ndarray, metric: str, params: Params, *, seed: int = 0, xq_train=None) -> Built:
        t0 = time.perf_counter()
        transforms, note = fit(xb, metric, params, seed=seed, xq_train=xq_train)
        index = reduced_index(transforms, int(params["d_out"]), metric, str(params["codec"]))
        fit_s = time.perf_counter() - t0
        train_s, build_s = train_add(index, xb)
        return Built(index=index, xb=xb, train_s=fit_s + train_s, build_s=build_s, note=note)

    return build


def fit_pca(xb, metric, params, **_):
    P, mean = pca_projection(xb, int(params["d_out"]), metric)
    return [linear_transform(P, mean)], ""


def fit_leanvec_ood(xb, metric, params, *, xq_train=None, seed=0, **_):
    if xq_train is None or len(xq_train) == 0:
        raise ValueError("leanvec_ood needs a sample of training queries (xq_train) to fit its projection")
    P, mean, beta = leanvec_ood_projection(xb, xq_train, int(params["d_out"]), metric, seed=seed)
    return [linear_transform(P, mean)], f"β={beta:.1f} fitted on {len(xq_train)} training queries"


def fit_truncate(xb, metric, params, **_):
    keep_first = faiss.RemapDimensionsTransform(xb.shape[1], int(params["d_out"]), False)
    return [keep_first], ""


def fit_random(xb, metric, params, *, seed=0, **_):
    P = gaussian_projection(xb.shape[1], int(params["d_out"]), seed)
    return [linear_transform(P, projection_mean(xb, metric))], f"seed={seed}"


def search_index(built: Built, xq: np.ndarray, k: int, sp: Params):
    return built.index.search(xq, k)


# ---------------------------------------------------------------- constraints


def divides(param: str, what: str) -> Callable[[Params, int, int], str | None]:
    """Constraint: ``params[param]`` must divide ``d`` (the reason suggests nearby divisors)."""

    def check(p: Params, n: int, d: int) -> str | None:
        m = int(p[param])
        if d % m:
            near = [x for x in range(1, d + 1) if d % x == 0 and x / m < 2 and m / x < 2] or [1, d]
            return f"{what} needs {param} to divide d: {param}={m} does not divide d={d} (try {near})"
        return None

    return check


def nprobe_within_nlist(p: Params, n: int, d: int) -> str | None:
    if p["nprobe"] > p["nlist"]:
        return f"nprobe={p['nprobe']} is larger than nlist={p['nlist']} (it would scan every list)"
    return None


def reduces(p: Params, n: int, d: int) -> str | None:
    if p["d_out"] >= d:
        return f"d_out={p['d_out']} must be smaller than the input dimension d={d}"
    return None


def rerank_within_n(p: Params, n: int, d: int) -> str | None:
    if p.get("rerank", 0) > n:
        return f"rerank={p['rerank']} is larger than the number of base vectors n={n}"
    return None


# ---------------------------------------------------------------- the registry

NLIST = Param("nlist", 256, (16, 64, 256, 1024, 4096), "number of inverted lists (k-means cells)", 1, 1 << 20)
NPROBE = Param("nprobe", 8, (1, 2, 4, 8, 16, 32, 64, 128), "lists visited per query", 1, 1 << 20)
PQ_M = Param("m", 32, (8, 16, 32, 48, 64, 96, 128, 192), "sub-quantizers (one byte each)", 1, 4096)
FASTSCAN_M = dataclasses.replace(PQ_M, grid=(16, 32, 48, 64, 96, 128, 192), help="sub-quantizers (4 bits each)")
IVF_PQ_M = dataclasses.replace(PQ_M, grid=(16, 32, 48, 64))
OPQ_NITER = Param("niter", 25, (25,), "OPQ rotation-learning iterations", 1, 500)
HNSW_M = Param("M", 32, (8, 16, 32, 48), "graph neighbours per node", 2, 256)
EF_CONSTRUCTION = Param("ef_construction", 40, (40, 200), "candidate list size while building", 1, 10_000)
EF_SEARCH = Param("ef_search", 64, (16, 32, 64, 128, 256, 512), "candidate list size per query", 1, 100_000)
RERANK = Param("rerank", 0, (0, 20, 50, 100, 200, 500), "shortlist re-scored exactly (0 = none)", 0, 100_000)
CENTER = Param("center", False, (False, True), "threshold at the base mean instead of 0", choices=(False, True))
BEBR_BITS = Param("bits", 2, (2, 3, 4), "bits per dimension (residual levels)", 2, 4)
NB_BITS = Param("nb_bits", 1, (1, 2, 4), "bits per dimension of the codes", 1, 9)
IVF_NB_BITS = dataclasses.replace(NB_BITS, grid=(1, 4))
QB = Param("qb", 8, (4, 8), "bits per query coordinate (0 = float queries: faiss's slow scalar path)", 0, 8)
D_OUT = Param("d_out", 64, (32, 64, 96, 128, 192, 256), "reduced dimension", 1, 65536)
CODEC = Param("codec", "sq8", ("flat", "sq8"), "storage of the reduced vectors", choices=("flat", "sq8"))
SQ_QTYPE = Param("qtype", "int8", ("fp16", "int8", "int4"), "scalar type", choices=("fp16", "int8", "int4"))

SQ_FACTORY = {"fp16": "SQfp16", "int8": "SQ8", "int4": "SQ4"}
SQ_BYTES = {"fp16": 2.0, "int8": 1.0, "int4": 0.5}
PQ_CENTROIDS = 256  # 8-bit codes: 2^8 centroids per sub-quantizer
IVF_ID_BYTES = 8  # one int64 id per vector in the inverted lists


def fmt(template: str) -> Callable[[Params], str]:
    return lambda p: template.format(**p)


def rabitq_factory(p: Params) -> str:
    codes = "RaBitQ" if p["nb_bits"] == 1 else f"RaBitQ{p['nb_bits']}"
    return f"IVF{p['nlist']},{codes}" if "nlist" in p else codes


def binary_factory(p: Params) -> str:
    codes = "BFlat on sign(x - mean)" if p["center"] else "BFlat on sign(x)"
    return codes + (f" + exact re-rank of {p['rerank']}" if p.get("rerank") else "")


def bebr_factory(p: Params) -> str:
    centered = ", centered" if p["center"] else ""
    return f"residual sign codes, {p['bits']} bits/dim + {p['bits']} fp32 scales{centered}"


def hnsw_link_bytes(p: Params) -> float:
    """2·M int32 links on level 0, plus ~1/M upper-level links and the level table."""
    return 4 * 2 * p["M"] * (1 + 1 / p["M"]) + 12


def rabitq_bytes(p: Params, d: int) -> float:
    return d * p["nb_bits"] / 8 + 8 + (4 if p["nb_bits"] > 1 else 0)


def reduced_bytes(p: Params, d: int) -> float:
    return p["d_out"] * (4 if p["codec"] == "flat" else 1)


def faiss_spec(
    name: str,
    family: str,
    description: str,
    *,
    factory: Callable[[Params], str],
    build_params: tuple[Param, ...],
    search_params: tuple[Param, ...],
    code_bytes: Callable[[Params, int], float],
    make_params: Callable[[Params], object] | None = None,
    configure: Callable[[object, Params], None] | None = None,
    **extra,
) -> MethodSpec:
    """A method that is one faiss index-factory string, searched with faiss SearchParameters."""
    return MethodSpec(
        name=name,
        family=family,
        description=description,
        factory=factory,
        build_params=build_params,
        search_params=search_params,
        build=factory_build(factory, configure),
        search=factory_search(make_params),
        code_bytes=code_bytes,
        **extra,
    )


def reduction_spec(name: str, description: str, factory: str, fit: Callable) -> MethodSpec:
    """A projection to ``d_out`` dims, a flat/SQ8 index on the result, optional exact re-rank."""

    def render(p: Params) -> str:
        rerank = f" + exact re-rank of {p['rerank']}" if p.get("rerank") else ""
        return factory.format(**p, codec_factory=CODECS[p["codec"]]) + rerank

    return MethodSpec(
        name=name,
        family="reduction",
        description=description,
        factory=render,
        build_params=(D_OUT, CODEC),
        search_params=(RERANK,),
        build=reduction_build(fit),
        search=with_rerank(search_index),
        code_bytes=reduced_bytes,
        constraints=(reduces, rerank_within_n),
    )


# fmt: off
METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in [
        faiss_spec(
            "flat", "exact", "Exhaustive search on float32 vectors: the exact baseline.",
            factory=fmt("Flat"), build_params=(), search_params=(),
            code_bytes=lambda p, d: 4.0 * d,
        ),
        faiss_spec(
            "sq", "scalar", "Scalar quantization: each coordinate stored as fp16, int8 or int4.",
            factory=lambda p: SQ_FACTORY[p["qtype"]], build_params=(SQ_QTYPE,), search_params=(),
            code_bytes=lambda p, d: SQ_BYTES[p["qtype"]] * d,
        ),
        faiss_spec(
            "pq", "pq", "Product quantization: m sub-vectors, each replaced by one of 256 centroids.",
            factory=fmt("PQ{m}x8np"), build_params=(PQ_M,), search_params=(),
            code_bytes=lambda p, d: float(p["m"]),
            centroids=lambda p: PQ_CENTROIDS, constraints=(divides("m", "PQ"),),
        ),
        faiss_spec(
            "opq", "pq", "PQ after a learned rotation (OPQ) that balances variance across sub-vectors.",
            factory=fmt("OPQ{m},PQ{m}x8np"), build_params=(PQ_M, OPQ_NITER), search_params=(),
            code_bytes=lambda p, d: float(p["m"]), configure=configure_opq,
            centroids=lambda p: PQ_CENTROIDS, constraints=(divides("m", "OPQ"),),
        ),
        faiss_spec(
            "pq_fastscan", "pq", "4-bit PQ searched with SIMD look-up tables held in registers (fast scan).",
            factory=fmt("PQ{m}x4fs"), build_params=(FASTSCAN_M,), search_params=(),
            code_bytes=lambda p, d: p["m"] / 2,
            centroids=lambda p: 16, constraints=(divides("m", "PQ fast scan"),),
        ),
        faiss_spec(
            "ivf_flat", "ivf", "Inverted file: k-means cells; scan the nprobe nearest cells exactly.",
            factory=fmt("IVF{nlist},Flat"), build_params=(NLIST,), search_params=(NPROBE,),
            code_bytes=lambda p, d: 4.0 * d + IVF_ID_BYTES, make_params=ivf_params,
            centroids=lambda p: p["nlist"], constraints=(nprobe_within_nlist,),
        ),
        faiss_spec(
            "ivf_pq", "ivf", "Inverted file with PQ-coded residuals (the classic billion-scale index).",
            factory=fmt("IVF{nlist},PQ{m}x8np"), build_params=(NLIST, IVF_PQ_M), search_params=(NPROBE,),
            code_bytes=lambda p, d: p["m"] + IVF_ID_BYTES, make_params=ivf_params,
            centroids=lambda p: max(p["nlist"], PQ_CENTROIDS),
            constraints=(divides("m", "IVF-PQ"), nprobe_within_nlist),
        ),
        faiss_spec(
            "ivf_sq8", "ivf", "Inverted file with int8 scalar-quantized vectors.",
            factory=fmt("IVF{nlist},SQ8"), build_params=(NLIST,), search_params=(NPROBE,),
            code_bytes=lambda p, d: float(d) + IVF_ID_BYTES, make_params=ivf_params,
            centroids=lambda p: p["nlist"], constraints=(nprobe_within_nlist,),
        ),
        faiss_spec(
            "hnsw_flat", "graph", "HNSW proximity graph over float32 vectors.",
            factory=fmt("HNSW{M},Flat"), build_params=(HNSW_M, EF_CONSTRUCTION), search_params=(EF_SEARCH,),
            code_bytes=lambda p, d: 4.0 * d + hnsw_link_bytes(p), make_params=hnsw_params,
            configure=set_ef_construction,
        ),
        faiss_spec(
            "hnsw_sq8", "graph", "HNSW proximity graph over int8 scalar-quantized vectors.",
            factory=fmt("HNSW{M},SQ8"), build_params=(HNSW_M, EF_CONSTRUCTION), search_params=(EF_SEARCH,),
            code_bytes=lambda p, d: float(d) + hnsw_link_bytes(p), make_params=hnsw_params,
            configure=set_ef_construction,
        ),
        MethodSpec(
            "binary", "binary",
            "One sign bit per dimension, Hamming search (faiss IndexBinaryFlat); optional exact "
            "re-rank of a shortlist of `rerank` candidates with the float vectors.",
            factory=binary_factory, build_params=(CENTER,), search_params=(RERANK,),
            build=build_binary, search=with_rerank(search_hamming),
            code_bytes=lambda p, d: float(-(-d // 8)), constraints=(rerank_within_n,),
        ),
        MethodSpec(
            "bebr", "binary",
            "Multi-bit residual binarization (BEBR-style, no training): bit 1 = sign(x), each next "
            "bit the sign of the residual, one least-squares scale per vector and level. Asymmetric "
            "distance: float queries against the decoded codes (a numpy reference implementation: "
            "its QPS is not that of an optimised popcount kernel).",
            factory=bebr_factory, build_params=(BEBR_BITS, CENTER), search_params=(),
            build=build_bebr, search=search_bebr,
            code_bytes=lambda p, d: p["bits"] * (-(-d // 8) + 4.0),
        ),
        faiss_spec(
            "rabitq", "rabitq", "RaBitQ: randomly rotated sign codes (nb_bits per dimension) with "
            "unbiased distance estimates (faiss IndexRaBitQ); qb = bits per query coordinate.",
            factory=rabitq_factory, build_params=(NB_BITS,), search_params=(QB,),
            code_bytes=rabitq_bytes, make_params=rabitq_params,
        ),
        faiss_spec(
            "ivf_rabitq", "rabitq", "Inverted file with RaBitQ-coded residuals (faiss IndexIVFRaBitQ).",
            factory=rabitq_factory, build_params=(NLIST, IVF_NB_BITS), search_params=(NPROBE, QB),
            code_bytes=lambda p, d: rabitq_bytes(p, d) + IVF_ID_BYTES, make_params=ivf_rabitq_params,
            centroids=lambda p: p["nlist"], constraints=(nprobe_within_nlist,),
        ),
        reduction_spec(
            "pca", "LeanVec-ID style: project onto the top principal directions of the base "
            "(uncentered unless the metric is L2), store the reduced vectors (re-normalised for "
            "cosine), re-rank a shortlist exactly with the float vectors.",
            "PCA{d_out},{codec_factory}", fit_pca,
        ),
        reduction_spec(
            "leanvec_ood", "LeanVec-OOD style: a projection fitted to the base and a sample of queries "
            "(eigenvectors of a blend of their second moments), then as pca.",
            "LeanVecOOD{d_out},{codec_factory}", fit_leanvec_ood,
        ),
        reduction_spec(
            "truncate", "Keep the first d_out coordinates (Matryoshka-style), then as pca.",
            "Truncate{d_out},{codec_factory}", fit_truncate,
        ),
        reduction_spec(
            "random_projection", "Seeded Gaussian random projection (Johnson-Lindenstrauss), then as pca.",
            "RandomProjection{d_out},{codec_factory}", fit_random,
        ),
    ]
}
# fmt: on


# ---------------------------------------------------------------- public API


def get_method(name: str) -> MethodSpec:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of: {', '.join(METHODS)}")
    return METHODS[name]


def check_params(method: str, params: Params, which: str = "all") -> dict:
    """Validate ``params`` against the method's ranges; return them merged over the defaults.

    ``which`` is ``"build"``, ``"search"`` or ``"all"``: the parameters accepted.
    Raises ValueError naming the parameter and its range.
    """
    spec = get_method(method)
    allowed = {"build": spec.build_params, "search": spec.search_params, "all": spec.params}[which]
    merged = {p.name: p.default for p in allowed}
    for name, value in params.items():
        param = spec.param(name)
        if param not in allowed:
            kind = "search" if which == "build" else "build"
            raise ValueError(f"{method}: {name} is a {kind} parameter, not accepted here")
        param.check(value, method)
        merged[name] = value.item() if isinstance(value, np.generic) else value
    return merged


def build(
    method: str,
    xb: np.ndarray,
    metric: str = "cosine",
    params: Params | None = None,
    *,
    seed: int = 0,
    xq_train: np.ndarray | None = None,
) -> Built:
    """Build ``method`` over base ``xb`` float32 ``(n, d)`` with its build ``params``.

    ``xq_train`` ``(m, d)`` is the query sample query-aware methods (leanvec_ood) fit on.
    Raises ValueError for a parameter out of range or one the data cannot support.
    """
    spec = get_method(method)
    params = check_params(method, params or {}, "build")
    n, d = xb.shape
    # Search settings are checked in `searcher` against the real values; here they take their
    # least demanding value so a build is not refused for a default search setting (nprobe=8
    # with nlist=7 must build and then search with nprobe <= 7).
    least = {p.name: (p.low if p.low is not None else p.default) for p in spec.search_params}
    reason = spec.validate({**spec.defaults(), **least, **params}, n, d)
    if reason:
        raise ValueError(f"{method}: {reason}")
    xb = np.ascontiguousarray(xb, dtype=np.float32)
    built = spec.build(xb, metric, params, seed=seed, xq_train=xq_train)
    note = "; ".join(s for s in (spec.training_note(params, n), built.note) if s)
    return dataclasses.replace(built, method=method, params=params, metric=metric, n=n, d=d, note=note)


def searcher(
    built: Built, k: int, params: Params | None = None
) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A search function for one setting, validated once: ``fn(xq (nq, d)) -> D, I (nq, k)``.

    Nothing but the method's own search runs per call, so timing it times the index.
    """
    spec = METHODS[built.method]
    sp = check_params(built.method, params or {}, "search")
    check_k(k, built.n)
    for constraint in spec.constraints:
        reason = constraint({**spec.defaults(), **built.params, **sp}, built.n, built.d)
        if reason:
            raise ValueError(f"{built.method}: {reason}")
    if 0 < sp.get("rerank", 0) < k:
        raise ValueError(f"{built.method}: rerank={sp['rerank']} must be 0 or at least k={k}")
    return lambda xq: spec.search(built, xq, k, sp)


def search(built: Built, xq: np.ndarray, k: int, params: Params | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Search ``xq`` float32 ``(nq, d)``; returns ``D, I`` ``(nq, k)``, best first."""
    if xq.ndim != 2 or xq.shape[1] != built.d:
        raise ValueError(f"queries have shape {xq.shape} but the index has {built.d} dims")
    return searcher(built, k, params)(np.ascontiguousarray(xq, dtype=np.float32))


def index_bytes(built: Built) -> int:
    """Measured size: the serialized faiss index plus the extra arrays the method keeps."""
    return serialized_bytes(built.index) + sum(int(a.nbytes) for a in built.arrays.values())


def rerank_bytes(built: Built, search_params: Params) -> int:
    """Bytes of float vectors a search setting needs for re-ranking (0 without re-rank)."""
    return int(built.xb.nbytes) if search_params.get("rerank", 0) and built.xb is not None else 0


def factory_string(method: str, params: Params) -> str:
    """The faiss index-factory string (or precise description) of a parameter set."""
    spec = get_method(method)
    return spec.factory({**spec.defaults(), **params})
