"""Binary codes: sign bits searched by Hamming distance (faiss IndexBinaryFlat) and multi-bit residual
binarization (BEBR-style) searched asymmetrically: compiled kernels (`core.index.bebr_kernel`, numba)
with the numpy decode-and-knn path kept as the reference they are tested against.
"""

from __future__ import annotations

import time

import faiss
import numpy as np

from core.index.exact import faiss_metric
from core.index.spec import Built, Params, train_add

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


def bebr_norms2(codes: np.ndarray, scales: np.ndarray, d: int, block: int = 16384) -> np.ndarray:
    """``||x̂||²`` of the decoded vectors, float32 ``(n,)`` (computed in float64, block by block)."""
    out = np.empty(codes.shape[0], dtype=np.float32)
    for start in range(0, codes.shape[0], block):
        xhat = bebr_decode(codes[start : start + block], scales[start : start + block], d).astype(np.float64)
        out[start : start + block] = np.einsum("nd,nd->n", xhat, xhat)
    return out


def build_bebr(xb: np.ndarray, metric: str, params: Params, **_) -> Built:
    t0 = time.perf_counter()
    arrays = {}
    if params["center"]:
        arrays["mean"] = xb.mean(axis=0, dtype=np.float64).astype(np.float32)
    codes, scales = bebr_encode(xb - arrays["mean"] if params["center"] else xb, int(params["bits"]))
    arrays.update(codes=codes, scales=scales)
    if metric == "l2":  # ||q - x̂||² = ||q||² - 2<q, x̂> + ||x̂||²: 4 bytes a vector the kernels need
        arrays["norms2"] = bebr_norms2(codes, scales, xb.shape[1])
    return Built(arrays=arrays, build_s=time.perf_counter() - t0)


def bebr_queries(built: Built, xq: np.ndarray) -> np.ndarray:
    """The queries as the codes see them: centred by the base mean for L2 (for inner products
    centering shifts every score of a query equally, so the queries stay as they are)."""
    mean = built.arrays.get("mean")
    return xq - mean if mean is not None and built.metric == "l2" else xq


def search_bebr(built: Built, xq: np.ndarray, k: int, sp: Params, block: int = 4096):
    """Asymmetric distance ``<q, x̂>`` (or ``||q - x̂||²``), ``x̂`` the reconstruction, by compiled kernels.

    We chose asymmetric over BEBR's symmetric (both sides binarized, popcount) distance
    because it removes the query's quantization error, so recall is an upper bound
    for the codes. Centering by the base mean changes neither the L2 ranking nor,
    per query, the inner-product ranking, since ``<q, x> = <q, x - m> + <q, m>``.

    Same scores (to float rounding) and top-k as `search_bebr_reference`. Up to
    ``LOOKUP_MAX_QUERIES`` queries: per-byte lookup tables; more: ``block`` vectors
    decoded at a time and scored by one matmul for all queries.
    """
    from core.index import bebr_kernel  # numba loads on the first BEBR search, not with the registry

    codes, scales = built.arrays["codes"], built.arrays["scales"]
    l2 = built.metric == "l2"
    norms2 = built.arrays.get("norms2")
    if l2 and norms2 is None:  # a Built made before norms2 was stored
        norms2 = bebr_norms2(codes, scales, built.d)
    xq = np.ascontiguousarray(bebr_queries(built, xq), dtype=np.float32)
    if xq.shape[0] <= bebr_kernel.LOOKUP_MAX_QUERIES:
        return bebr_kernel.lookup_search(xq, codes, scales, norms2, k, l2)
    return bebr_kernel.decode_search(xq, codes, scales, norms2, k, l2, block=block)


def search_bebr_reference(built: Built, xq: np.ndarray, k: int, sp: Params, block: int = 16384):
    """The numpy reference of `search_bebr`: every block of base vectors decoded to float, then ``faiss.knn``."""
    codes, scales = built.arrays["codes"], built.arrays["scales"]
    xq_c = bebr_queries(built, xq)
    heap = faiss.ResultHeap(xq.shape[0], k, keep_max=built.metric != "l2")
    for start in range(0, built.n, block):
        xhat = bebr_decode(codes[start : start + block], scales[start : start + block], built.d)
        D, I = faiss.knn(np.ascontiguousarray(xq_c), xhat, min(k, xhat.shape[0]), metric=faiss_metric(built.metric))
        heap.add_result(D, I + start)
    heap.finalize()
    return heap.D, heap.I
