"""Methods that are one faiss index-factory string: build (train + add, quiet k-means, OPQ and HNSW
settings) and search with faiss SearchParameters (nprobe, efSearch, RaBitQ query bits).
"""

from __future__ import annotations

from collections.abc import Callable

import faiss
import numpy as np

from core.index.exact import faiss_metric
from core.index.spec import BuildFn, Built, Params, SearchFn, train_add, training_sample


def factory_build(
    factory: Callable[[Params], str], configure: Callable[[object, Params], None] | None = None
) -> BuildFn:
    """Build function for a method that is one faiss index-factory string.

    ``configure(index, params)`` sets build-time knobs the factory string cannot
    express (HNSW efConstruction, OPQ iterations) before training.
    """

    def build(xb: np.ndarray, metric: str, params: Params, *, seed: int = 0, **_) -> Built:
        index = faiss.index_factory(xb.shape[1], factory(params), faiss_metric(metric))
        quiet_kmeans(index)
        if configure is not None:
            configure(index, params)
        sample, note = training_sample(xb, seed) if not index.is_trained else (xb, "")
        train_s, build_s = train_add(index, xb, sample)
        return Built(index=index, train_s=train_s, build_s=build_s, note=note)

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


#: k-means iterations of the PQ OPQ trains first, and of each PQ between rotation updates (faiss:
#: 40 and 4). Measured on stdlib-docs MiniLM (2,648 x 384, OPQ48, niter 10): training 18.1 s -> 11.0 s,
#: recall@10 0.8105 -> 0.8100; fewer rotation iterations cost more (niter 6: 0.8045, niter 4: 0.8010).
OPQ_NITER_PQ_0, OPQ_NITER_PQ = 10, 2


def configure_opq(index, params: Params) -> None:
    """Set OPQ's iterations; give it its own (quiet) product quantizer to train with."""
    opq = faiss.downcast_VectorTransform(index.chain.at(0))
    opq.niter = int(params["niter"])
    opq.niter_pq_0, opq.niter_pq = OPQ_NITER_PQ_0, OPQ_NITER_PQ
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
