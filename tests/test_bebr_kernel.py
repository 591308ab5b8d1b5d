"""The compiled BEBR search equals the numpy reference (decode every block, faiss.knn): same ids, scores
to float tolerance, faiss's order for ties, over both kernels (lookup tables, decode + matmul)."""

from __future__ import annotations

import numpy as np
import pytest

from core.index import bebr_kernel
from core.index.binary import bebr_queries, search_bebr, search_bebr_reference
from core.index.registry import build

FLT_MAX = float(np.finfo(np.float32).max)


def kernel(path: str, built, xq: np.ndarray, k: int, block: int = 4096):
    """One of the two kernels, called directly (`search_bebr` picks one by the number of queries)."""
    xq = np.ascontiguousarray(bebr_queries(built, xq), dtype=np.float32)
    a, l2 = built.arrays, built.metric == "l2"
    if path == "lookup":
        return bebr_kernel.lookup_search(xq, a["codes"], a["scales"], a.get("norms2"), k, l2)
    return bebr_kernel.decode_search(xq, a["codes"], a["scales"], a.get("norms2"), k, l2, block=block)


def seeded(n: int, d: int, nq: int, metric: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian base and queries with a shared offset (so centering matters); unit rows for cosine."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n + nq, d)) + 0.7 * rng.standard_normal(d)).astype(np.float32)
    if metric == "cosine":
        x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x[:n], x[n:]


def assert_same(got, want, rtol=2e-5, atol=2e-5):
    D, I = got
    D_ref, I_ref = want
    assert D.dtype == np.float32 and I.dtype == np.int64 and D.shape == D_ref.shape
    np.testing.assert_array_equal(I, I_ref)
    np.testing.assert_allclose(D, D_ref, rtol=rtol, atol=atol)


@pytest.mark.parametrize("path", ["lookup", "decode"])
def test_both_kernels_on_a_hand_computed_code(path):
    # codes of (3, -1, 0.5, -0.5) at 2 bits decode to (2.125, -0.375, 0.375, -0.375) (test_methods.py)
    x = np.array([[3.0, -1.0, 0.5, -0.5]], dtype=np.float32)
    ip = build("bebr", x, "ip", {"bits": 2, "center": False})
    D, I = kernel(path, ip, np.array([[1.0, 0.0, 0.0, 2.0]], dtype=np.float32), 1)
    np.testing.assert_allclose(D, [[2.125 - 0.75]], rtol=1e-6)
    assert I.tolist() == [[0]]
    l2 = build("bebr", x, "l2", {"bits": 2, "center": False})
    D, _ = kernel(path, l2, np.array([[2.0, 0.0, 0.0, 0.0]], dtype=np.float32), 1)
    np.testing.assert_allclose(D, [[0.125**2 + 3 * 0.375**2]], rtol=1e-6)


@pytest.mark.parametrize("bits", [2, 3, 4])
@pytest.mark.parametrize("metric", ["cosine", "ip", "l2"])
@pytest.mark.parametrize("center", [False, True])
def test_kernels_equal_the_reference(bits, metric, center):
    xb, xq = seeded(700, 37, 24, metric, seed=bits)  # d = 37: the last code byte is padded
    built = build("bebr", xb, metric, {"bits": bits, "center": center})
    want = search_bebr_reference(built, xq, 10, {})
    assert_same(kernel("lookup", built, xq, 10), want)
    assert_same(kernel("decode", built, xq, 10, block=256), want)  # 3 blocks, the last one partial
    assert_same(search_bebr(built, xq, 10, {}), want)
    assert_same(search_bebr(built, xq[:1], 10, {}), (want[0][:1], want[1][:1]))


@pytest.mark.parametrize("path", ["lookup", "decode"])
@pytest.mark.parametrize("metric", ["cosine", "l2"])
def test_k_larger_than_n_and_n_smaller_than_a_block(path, metric):
    xb, xq = seeded(6, 20, 5, metric, seed=7)
    built = build("bebr", xb, metric, {"bits": 3, "center": True})
    D, I = kernel(path, built, xq, 9)
    assert_same((D, I), search_bebr_reference(built, xq, 9, {}, block=4))
    assert (I[:, 6:] == -1).all() and sorted(I[0, :6]) == list(range(6))
    assert (D[:, 6:] == (FLT_MAX if metric == "l2" else -FLT_MAX)).all()


@pytest.mark.parametrize("path", ["lookup", "decode"])
@pytest.mark.parametrize("metric", ["ip", "l2"])
def test_duplicate_vectors_tie_in_faiss_order(path, metric):
    xb, xq = seeded(40, 16, 3, metric, seed=3)
    xb[[5, 17, 31]] = xb[22]  # four identical codes: equal scores, whichever way they are computed
    built = build("bebr", xb, metric, {"bits": 2, "center": False})
    xq[0] = xb[22]  # the tied group ranks first for query 0
    D, I = kernel(path, built, xq, 6, block=16)
    assert_same((D, I), search_bebr_reference(built, xq, 6, {}, block=16))
    tied = [5, 17, 22, 31] if metric == "l2" else [31, 22, 17, 5]  # faiss: max-heap vs min-heap order
    assert I[0, :4].tolist() == tied and len(set(D[0, :4].tolist())) == 1


@pytest.mark.parametrize("path", ["lookup", "decode"])
@pytest.mark.parametrize("metric", ["ip", "l2"])
def test_a_tie_across_the_cut_keeps_the_first_scanned(path, metric):
    xb, xq = seeded(30, 16, 1, metric, seed=4)
    xb[[3, 9, 20]] = xb[12]
    xq[0] = xb[12]
    built = build("bebr", xb, metric, {"bits": 2, "center": False})
    D, I = kernel(path, built, xq, 2, block=8)  # four tied best vectors, room for two
    assert_same((D, I), search_bebr_reference(built, xq, 2, {}))
    assert sorted(I[0].tolist()) == [3, 9]


def test_l2_without_stored_norms_still_searches():
    xb, xq = seeded(300, 24, 6, "l2", seed=1)
    built = build("bebr", xb, "l2", {"bits": 2, "center": True})
    assert built.arrays["norms2"].shape == (300,)
    older = type(built)(**{**built.__dict__, "arrays": {k: v for k, v in built.arrays.items() if k != "norms2"}})
    assert_same(search_bebr(older, xq, 5, {}), search_bebr_reference(built, xq, 5, {}))
    assert "norms2" not in build("bebr", xb, "cosine", {"bits": 2, "center": True}).arrays
