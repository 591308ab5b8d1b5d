"""Compiled (numba) BEBR search: exact asymmetric scores of float queries against multi-bit residual
sign codes, without decoding the base for every query.

A code is ``x̂ = Σ_j s_j σ_j`` with ``σ_j = 2 b_j - 1`` (``b_j`` the 0/1 bits of level ``j``), so

    <q, x̂> = Σ_j s_j (2 <q, b_j> - Σ q),        ||q - x̂||² = ||q||² - 2 <q, x̂> + ||x̂||².

Two paths give the same scores (up to float rounding) as decoding every vector and calling
``faiss.knn``, and the same top-k:

- few queries (`lookup_search`): ``<q, b_j>`` from one 256-entry table of partial sums of ``q``
  per code byte (PQ-style ADC): ``ceil(d / 8)`` lookups per level and vector;
- many queries (`decode_search`): each block of vectors decoded once, one BLAS matmul for all
  queries, top-k heaps updated in numba. Decoding is amortised over the queries, and a matmul
  does a multiply-add far faster than a lookup.

Ties (equal scores, e.g. duplicate vectors) come out as faiss heaps leave them for k below its
reservoir threshold (100): the first vectors scanned are kept; L2 lists them smaller id first,
inner products larger id first.

Kernels are compiled on first use and cached on disk (numba ``cache=True``); they release the
GIL, so searches from several threads (app sessions) run side by side. Heaps hold a
*goodness* (the score, or minus the L2 distance) so one heap serves both metrics.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: Up to this many queries take the lookup-table path, more take decode + matmul: decoding a
#: block costs about as much as looking up ~10 queries (measured at 20k x 384, 2 and 4 bits).
LOOKUP_MAX_QUERIES = 10
#: Vectors scored per query before their scores go into its heap (lookup path).
LOOKUP_BLOCK = 1024
#: Queries per pass of the decode path (bounds the score matrix at QUERY_CHUNK x block floats).
QUERY_CHUNK = 1024
#: Value of an empty result slot (k larger than n), as faiss heaps leave it.
FLT_MAX = float(np.finfo(np.float32).max)

#: ``BYTE_BITS[v, t]`` is bit ``t`` (most significant first, as `np.packbits`) of byte ``v``.
BYTE_BITS = ((np.arange(256)[:, None] >> (7 - np.arange(8))[None, :]) & 1).astype(np.float32)


# ---------------------------------------------------------------- heaps (numba)


@njit(cache=True, inline="always")
def _worse(a_g, a_i, b_g, b_i, l2):
    """Entry a ranks after entry b: lower goodness; among equal ones, faiss's order: the larger id
    for L2 (a max-heap of distances), the *smaller* id for inner products (a min-heap of scores)."""
    return a_g < b_g or (a_g == b_g and (a_i > b_i if l2 else a_i < b_i))


@njit(cache=True)
def _sift_down(g, ids, size, pos, l2):
    v, i = g[pos], ids[pos]
    while True:
        c = 2 * pos + 1
        if c >= size:
            break
        if c + 1 < size and _worse(g[c + 1], ids[c + 1], g[c], ids[c], l2):
            c += 1
        if _worse(g[c], ids[c], v, i, l2):
            g[pos], ids[pos] = g[c], ids[c]
            pos = c
        else:
            break
    g[pos], ids[pos] = v, i


@njit(cache=True, inline="always")
def _push(g, ids, value, i, l2):
    """Keep ``(value, i)`` if it is strictly better than the worst of the heap (the root), as faiss
    does: in a scan by increasing id, a later vector never displaces an equal earlier one."""
    if value > g[0]:
        g[0], ids[0] = value, i
        _sift_down(g, ids, g.shape[0], 0, l2)


@njit(cache=True)
def _finalize(g, ids, l2, D, I):
    """Empty the heap into ``D, I`` best first (``D`` back to distances for L2)."""
    for m in range(g.shape[0] - 1, -1, -1):
        D[m] = -g[0] if l2 else g[0]
        I[m] = ids[0]
        g[0], ids[0] = g[m], ids[m]
        _sift_down(g, ids, m, 0, l2)


# ---------------------------------------------------------------- lookup-table path


@njit(cache=True, nogil=True)
def _lookup_kernel(tables, sum_q, norm2_q, codes, scales, norms2, l2, D, I):
    nq, k = D.shape
    n, bits, nb = codes.shape
    nb4 = nb // 4 * 4
    g = np.empty(k, np.float32)
    ids = np.empty(k, np.int64)
    block = np.empty(min(n, LOOKUP_BLOCK), np.float32)
    for q in range(nq):
        table = tables[q]  # (nb * 256,): row p of the table starts at p * 256
        sq = sum_q[q]
        g[:] = -FLT_MAX
        ids[:] = -1
        for start in range(0, n, LOOKUP_BLOCK):
            stop = min(start + LOOKUP_BLOCK, n)
            for i in range(start, stop):
                ip = 0.0
                for j in range(bits):
                    c = codes[i, j]
                    # four accumulators: the additions do not wait on each other
                    a0 = a1 = a2 = a3 = np.float32(0.0)
                    for p in range(0, nb4, 4):
                        a0 += table[p * 256 + np.intp(c[p])]
                        a1 += table[(p + 1) * 256 + np.intp(c[p + 1])]
                        a2 += table[(p + 2) * 256 + np.intp(c[p + 2])]
                        a3 += table[(p + 3) * 256 + np.intp(c[p + 3])]
                    for p in range(nb4, nb):  # (a `while` loop here compiled ~35 % slower)
                        a0 += table[p * 256 + np.intp(c[p])]
                    ip += scales[i, j] * (2.0 * ((a0 + a1) + (a2 + a3)) - sq)
                block[i - start] = ip
            _merge_row(block[: stop - start], start, norm2_q[q], norms2, l2, g, ids)
        _finalize(g, ids, l2, D[q], I[q])


def byte_tables(xq: np.ndarray, nb: int) -> np.ndarray:
    """``tables[q, p, v] = Σ_t q[8p + t] * bit_t(v)``: float32 ``(nq, nb, 256)``."""
    nq, d = xq.shape
    padded = np.zeros((nq, nb * 8), dtype=np.float32)
    padded[:, :d] = xq
    return np.ascontiguousarray(padded.reshape(nq, nb, 8) @ BYTE_BITS.T)


def lookup_search(
    xq: np.ndarray, codes: np.ndarray, scales: np.ndarray, norms2: np.ndarray | None, k: int, l2: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of float32 queries ``xq`` ``(nq, d)`` by per-byte lookup tables; ``D, I`` ``(nq, k)``.

    ``norms2`` (``||x̂||²``, float32 ``(n,)``) is needed for ``l2`` only.
    """
    nq = xq.shape[0]
    D = np.empty((nq, k), dtype=np.float32)
    I = np.empty((nq, k), dtype=np.int64)
    x64 = xq.astype(np.float64)
    _lookup_kernel(
        byte_tables(xq, codes.shape[2]).reshape(nq, -1), x64.sum(axis=1), (x64 * x64).sum(axis=1),
        codes, scales, _norms_or_empty(norms2, l2), l2, D, I,
    )  # fmt: skip
    return D, I


# ---------------------------------------------------------------- decode + matmul path


@njit(cache=True, nogil=True)
def _combine_kernel(bits01, scales, out):
    """``out[i] = Σ_j scales[i, j] * (2 bits01[i, j] - 1)``: 0/1 bits ``(m, bits, d)`` to float32 ``(m, d)``."""
    m, bits, d = bits01.shape
    for i in range(m):
        row = out[i]
        for j in range(bits):
            s = scales[i, j]
            b = bits01[i, j]
            if j == 0:
                for t in range(d):
                    row[t] = s * (np.float32(2.0) * np.float32(b[t]) - np.float32(1.0))
            else:
                for t in range(d):
                    row[t] += s * (np.float32(2.0) * np.float32(b[t]) - np.float32(1.0))


@njit(cache=True)
def _merge_row(scores, start, norm2_q, norms2, l2, g, ids):
    """Push one query's inner products ``scores`` ``(m,)`` (ids ``start..start+m``) into its heap.

    One loop per metric, each passing `_push` a constant: with ``l2`` passed through, numba
    compiled the loop ~40x slower."""
    if l2:
        for c in range(scores.shape[0]):
            i = start + c
            _push(g, ids, np.float32(2.0 * scores[c] - norm2_q - norms2[i]), i, True)
    else:
        for c in range(scores.shape[0]):
            _push(g, ids, scores[c], start + c, False)


@njit(cache=True, nogil=True)
def _merge_kernel(scores, start, norm2_q, norms2, l2, G, ids):
    """Push a block's inner products ``(nq, m)`` (ids ``start..start+m``) into the heaps ``G, ids``."""
    for q in range(scores.shape[0]):
        _merge_row(scores[q], start, norm2_q[q], norms2, l2, G[q], ids[q])


@njit(cache=True, nogil=True)
def _finalize_all(G, ids, l2, D, I):
    for q in range(G.shape[0]):
        _finalize(G[q], ids[q], l2, D[q], I[q])


def decode_search(
    xq: np.ndarray, codes: np.ndarray, scales: np.ndarray, norms2: np.ndarray | None, k: int, l2: bool,
    block: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Top-k of ``xq`` ``(nq, d)``: blocks of ``block`` vectors decoded once, scored by one matmul."""
    nq, d = xq.shape
    n = codes.shape[0]
    norms = _norms_or_empty(norms2, l2)
    D = np.empty((nq, k), dtype=np.float32)
    I = np.empty((nq, k), dtype=np.int64)
    decoded = np.empty((min(block, n), d), dtype=np.float32)
    for q0 in range(0, nq, QUERY_CHUNK):
        chunk = xq[q0 : q0 + QUERY_CHUNK]
        norm2_q = (chunk.astype(np.float64) ** 2).sum(axis=1)
        G = np.full((chunk.shape[0], k), -FLT_MAX, dtype=np.float32)
        ids = np.full((chunk.shape[0], k), -1, dtype=np.int64)
        for start in range(0, n, block):
            stop = min(start + block, n)
            xhat = decoded[: stop - start]
            _combine_kernel(np.unpackbits(codes[start:stop], axis=2, count=d), scales[start:stop], xhat)
            _merge_kernel(chunk @ xhat.T, start, norm2_q, norms, l2, G, ids)
        _finalize_all(G, ids, l2, D[q0 : q0 + QUERY_CHUNK], I[q0 : q0 + QUERY_CHUNK])
    return D, I


def _norms_or_empty(norms2: np.ndarray | None, l2: bool) -> np.ndarray:
    if l2 and norms2 is None:
        raise ValueError("L2 search over BEBR codes needs the squared norms of the decoded vectors")
    return np.ascontiguousarray(norms2, dtype=np.float32) if l2 else np.zeros(0, dtype=np.float32)
