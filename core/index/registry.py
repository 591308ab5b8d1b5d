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
from collections.abc import Callable

import numpy as np

from core.index.binary import build_bebr, build_binary, search_bebr, search_hamming
from core.index.exact import check_k
from core.index.faiss_indexes import (
    configure_opq,
    factory_build,
    factory_search,
    hnsw_params,
    ivf_params,
    ivf_rabitq_params,
    rabitq_params,
    set_ef_construction,
)
from core.index.learned_bebr import build_learned_bebr, search_learned_bebr
from core.index.reduction import CODECS, fit_leanvec_ood, fit_pca, fit_random, fit_truncate, reduction_build
from core.index.spec import Built, MethodSpec, Param, Params, search_index, serialized_bytes, with_rerank
from core.index.task_pq import Judged, build_task_pq
from core.progress import ProgressFn

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


def rotation_trainable(p: Params, n: int, d: int) -> str | None:
    """OPQ learns a d x d rotation from the training vectors; faiss 1.15.1 corrupts memory (the process
    aborts: ``munmap_chunk(): invalid pointer``) when it trains on fewer vectors than dimensions."""
    if n < d:
        return (f"OPQ learns a {d} x {d} rotation and needs at least d={d} training vectors; the base has n={n} "
                "(faiss aborts the process below that)")
    return None


def nprobe_within_nlist(p: Params, n: int, d: int) -> str | None:
    if p["nprobe"] > p["nlist"]:
        return f"nprobe={p['nprobe']} is larger than nlist={p['nlist']} (it would scan every list)"
    return None


def reduces(p: Params, n: int, d: int) -> str | None:
    if p["d_out"] >= d:
        return f"d_out={p['d_out']} must be smaller than the input dimension d={d}"
    return None


def two_vectors(p: Params, n: int, d: int) -> str | None:
    if n < 2:
        return f"learned binarization trains on the base and needs at least 2 vectors; the base has n={n}"
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
LEARNED_BITS = Param("bits", 2, (1, 2, 4), "bits per dimension (recurrent binarization steps)", 1, 8)
HIDDEN = Param("hidden", 0, (0, 32), "width of each step's residual MLP block (0 = none: the sign of the residual)",
               0, 1024)
SCHEDULE = Param("schedule", "quick", ("quick", "thorough"), "training budget (steps; quick: under a minute on "
                 "a few thousand vectors)", choices=("quick", "thorough"))
DISTANCE = Param("distance", "sdc", ("sdc", "adc", "hamming"), "sdc: the query binarized too (BEBR's symmetric "
                 "distance); adc: the float query; hamming: count differing bits", choices=("sdc", "adc", "hamming"))
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


def learned_bebr_factory(p: Params) -> str:
    mlp = f", MLP {p['hidden']}" if p["hidden"] else ""
    return f"learned residual sign codes, {p['bits']} bits/dim (rotation + per-dim levels{mlp}), {p['distance']}"


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
            centroids=lambda p: PQ_CENTROIDS, constraints=(divides("m", "OPQ"), rotation_trainable),
        ),
        MethodSpec(
            "pq_task", "pq",
            "Task-aware PQ (JPQ-style): plain PQ, then its centroids fine-tuned with a listwise ranking loss on "
            "judged training queries (never the evaluation queries), best of a validation split kept; "
            "searched by faiss like PQ. Needs relevance judgments.",
            factory=lambda p: f"PQ{p['m']}x8np, centroids fine-tuned for ranking ({p['schedule']})",
            build_params=(PQ_M, SCHEDULE), search_params=(),
            build=build_task_pq, search=search_index,
            code_bytes=lambda p, d: float(p["m"]),
            centroids=lambda p: PQ_CENTROIDS, constraints=(divides("m", "task-aware PQ"),),
            learned=True, needs_judgments=True,
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
            "distance: float queries against the decoded codes, by compiled kernels (numba: per-byte lookup "
            "tables for single queries, decode + matmul for batches); L2 keeps ||x̂||² per vector.",
            factory=bebr_factory, build_params=(BEBR_BITS, CENTER), search_params=(),
            build=build_bebr, search=search_bebr,
            code_bytes=lambda p, d: p["bits"] * (-(-d // 8) + 4.0),
        ),
        MethodSpec(
            "bebr_learned", "binary",
            "Learned recurrent binarization (after BEBR): a rotation and per-dimension levels (and optional "
            "residual MLP blocks) trained on the base with torch, bits steps each binarizing the residual left "
            "so far; searched with symmetric distances (query binarized too), the float query, or Hamming.",
            factory=learned_bebr_factory, build_params=(LEARNED_BITS, HIDDEN, SCHEDULE), search_params=(DISTANCE,),
            build=build_learned_bebr, search=search_learned_bebr,
            code_bytes=lambda p, d: p["bits"] * float(-(-d // 8)), constraints=(two_vectors,),
            learned=True,
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


#: Why a method that trains on judgments did not run.
JUDGMENTS_NEEDED = ("trains on judged training queries kept apart from the evaluation queries, and there are none "
                    "here (the dataset has no relevance judgments, or all its judged queries are evaluated: ask for "
                    "fewer queries and the rest train it)")


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
    judged: Judged | None = None,
    progress: ProgressFn | None = None,
) -> Built:
    """Build ``method`` over base ``xb`` float32 ``(n, d)`` with its build ``params``.

    ``xq_train`` ``(m, d)`` is the query sample query-aware methods (leanvec_ood) fit on; ``judged`` the
    training queries with judgments task-aware methods (pq_task) train on, never evaluation queries;
    ``progress`` hears the training steps of learned methods.
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
    if spec.needs_judgments and judged is None:
        raise ValueError(f"{method}: {JUDGMENTS_NEEDED}")
    xb = np.ascontiguousarray(xb, dtype=np.float32)
    extra = {"judged": judged, "progress": progress} if spec.learned else {}
    built = spec.build(xb, metric, params, seed=seed, xq_train=xq_train, **extra)
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


#: Names a person reads (the registry key stays the name in rows, URLs and the CLI).
DISPLAY_NAMES: dict[str, str] = {
    "flat": "Flat (exact)", "sq": "Scalar quantization", "pq": "PQ", "opq": "OPQ + PQ",
    "pq_fastscan": "PQ fast-scan (4-bit)", "ivf_flat": "IVF-Flat", "ivf_pq": "IVF-PQ", "ivf_sq8": "IVF-SQ8",
    "hnsw_flat": "HNSW-Flat", "hnsw_sq8": "HNSW-SQ8", "binary": "Binary codes (sign bits)",
    "bebr": "BEBR (multi-bit binary)", "bebr_learned": "Learned BEBR (trained binary codes)",
    "pq_task": "Task-aware PQ (JPQ-style)", "rabitq": "RaBitQ", "ivf_rabitq": "IVF-RaBitQ",
    "pca": "PCA (fewer dimensions)",
    "leanvec_ood": "LeanVec-OOD", "truncate": "Truncation (Matryoshka)", "random_projection": "Random projection",
}


def display_name(method: str) -> str:
    """``"PQ fast-scan (4-bit)"`` for ``"pq_fastscan"``; unknown names are returned as they are."""
    return DISPLAY_NAMES.get(method, method)


#: One plain sentence per method: what it stores and how it searches, for a person who has not met it
#: (the faiss factory string and the parameters go in the help beside it).
PLAIN: dict[str, str] = {
    "flat": "Compares the query with every vector exactly: the slow, perfect answer the others are measured against.",
    "sq": "Stores each number of a vector with fewer bits (16, 8 or 4 instead of 32) and searches them all.",
    "pq": "Cuts each vector into pieces and stores each piece as the number of its nearest of 256 learned "
          "patterns, one byte a piece.",
    "opq": "Product quantization after first turning the space so that every piece carries a similar share "
           "of the information.",
    "pq_fastscan": "Product quantization with 16 patterns a piece (half a byte), scanned very fast with "
                   "processor vector instructions.",
    "ivf_flat": "Sorts the vectors into clusters and compares the query exactly only with the vectors of "
                "its nearest few clusters.",
    "ivf_pq": "Clusters as IVF-Flat, with each vector stored in a few bytes by product quantization: "
              "small and fast, the classic choice for billions of vectors.",
    "ivf_sq8": "Clusters as IVF-Flat, with each number stored in one byte.",
    "hnsw_flat": "Links every vector to its near neighbours in a layered graph and walks the graph "
                 "towards the query.",
    "hnsw_sq8": "The HNSW graph over vectors whose numbers are stored in one byte each.",
    "binary": "Keeps one bit per number (is it above zero?) and compares bit patterns; optionally re-scores "
              "the best candidates with the full vectors.",
    "bebr": "Several bits per number: the first bit is the sign, each next bit corrects what the previous "
            "ones got wrong.",
    "bebr_learned": "Several bits per number as BEBR, but the bits are trained on a sample of the vectors to "
                    "rebuild them as closely as possible; searched code against code (SDC).",
    "pq_task": "Product quantization whose patterns are tuned with training queries and their relevant "
               "passages, so that search ranks well rather than vectors being rebuilt well (JPQ).",
    "rabitq": "Turns the space at random, keeps a few bits per number, and corrects the estimated "
              "similarity so it is right on average.",
    "ivf_rabitq": "Clusters as IVF-Flat, with each vector stored as RaBitQ bits.",
    "pca": "Keeps only the directions in which the vectors vary most (fewer numbers per vector), then "
           "re-scores the best candidates with the full vectors.",
    "leanvec_ood": "Like PCA, but the directions are chosen from the queries as well as the stored vectors.",
    "truncate": "Keeps the first numbers of each vector and drops the rest (works for models trained "
                "for it, Matryoshka-style).",
    "random_projection": "Mixes the numbers of each vector at random into fewer numbers; distances are "
                         "roughly kept.",
}

#: Parameters in plain words, as `config_name` writes them (``nlist=51`` -> ``51 clusters``).
PARAM_WORDS: dict[str, str] = {
    "qtype": "{} numbers", "m": "{} pieces", "niter": "{} rotation rounds", "nlist": "{} clusters",
    "nprobe": "{} clusters searched", "M": "{} links per vector", "ef_construction": "build list {}",
    "ef_search": "search list {}", "rerank": "re-score {}", "bits": "{} bits per number",
    "nb_bits": "{} bits per number", "qb": "query at {} bits", "d_out": "{} dims", "codec": "stored as {}",
    "hidden": "MLP width {}", "schedule": "{} training", "distance": "{} search",
}


def plain_sentence(method: str) -> str:
    """`PLAIN` for a method, else the first sentence of its registry description."""
    if method in PLAIN:
        return PLAIN[method]
    spec = METHODS.get(method)
    return spec.description.split(". ")[0].rstrip(".") + "." if spec is not None else method


def _param_word(name: str, value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if name == "center":
        return "centred" if value else ""
    if name == "rerank" and not value:
        return ""
    word = PARAM_WORDS.get(name, name + " {}").format(value)
    return word.replace("1 bits", "1 bit") if value == 1 else word


def config_name(method: str, params: Params | None = None) -> str:
    """A configuration in plain words: ``"IVF-PQ · 51 clusters, 48 pieces, 8 clusters searched"``.

    ``params`` may hold other keys (a result row); only the method's own parameters are named,
    integers as integers, a missing (NaN/None) value left out.
    """
    spec = METHODS.get(method)
    if spec is None:
        return display_name(method)
    words = []
    for p in spec.params:
        value = (params or {}).get(p.name)
        if value is None or (isinstance(value, float) and value != value):
            continue
        if isinstance(value, np.generic):
            value = value.item()
        word = _param_word(p.name, value)
        if word:
            words.append(word)
    return display_name(method) + (f" · {', '.join(words)}" if words else "")
