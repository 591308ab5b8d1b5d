"""The method registry: known-answer recall, measured sizes, binary codes, projections, bad parameters."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from core.analysis.sweep import synthetic_embeddings
from core.index import registry
from core.index.binary import bebr_decode, bebr_encode, sign_codes
from core.index.exact import exact_search
from core.index.metrics import recall_at_k
from core.index.reduction import leanvec_ood_projection, ood_loss, pca_projection
from core.index.registry import METHODS, build, check_params, index_bytes, search
from core.index.spec import rerank

N, NQ, D, K = 2000, 200, 384, 10


@pytest.fixture(scope="module")
def data():
    """Seeded low-rank + noise unit vectors (a stand-in for sentence embeddings) and exact top-k."""
    x = synthetic_embeddings(N + NQ, D, seed=0)
    xb, xq = x[:N], x[N:]
    _, gt = exact_search(xb, xq, K, "cosine")
    return xb, xq, gt


def recall_of(method, data, build_params=None, search_params=None):
    xb, xq, gt = data
    built = build(method, xb, "cosine", build_params or {})
    _, I = search(built, xq, K, search_params or {})
    return recall_at_k(I, gt, K)


def test_registry_covers_every_method_of_the_design():
    assert set(METHODS) == {
        "flat", "sq", "pq", "opq", "pq_fastscan", "ivf_flat", "ivf_pq", "ivf_sq8", "hnsw_flat", "hnsw_sq8",
        "binary", "bebr", "bebr_learned", "pq_task", "rabitq", "ivf_rabitq", "pca", "leanvec_ood", "truncate",
        "random_projection",
    }  # fmt: skip
    for spec in METHODS.values():
        assert spec.description and spec.family in registry.FAMILIES
        names = [p.name for p in spec.params]
        assert len(names) == len(set(names)), spec.name
        assert spec.factory(spec.defaults())


def test_flat_recall_is_exactly_one(data):
    assert recall_of("flat", data) == 1.0


def test_scalar_quantization_recall(data):
    assert recall_of("sq", data, {"qtype": "fp16"}) >= 0.99
    assert recall_of("sq", data, {"qtype": "int8"}) >= 0.95


def test_engine_recall_equals_a_direct_faiss_computation(data):
    xb, xq, _ = data
    index = faiss.index_factory(D, "SQ4", faiss.METRIC_INNER_PRODUCT)
    index.train(xb)
    index.add(xb)
    _, I = index.search(xq, K)
    _, Igt = faiss.knn(xq, xb, K, metric=faiss.METRIC_INNER_PRODUCT)
    direct = np.mean([len(set(a) & set(b)) / K for a, b in zip(I.tolist(), Igt.tolist(), strict=True)])
    assert recall_of("sq", data, {"qtype": "int4"}) == pytest.approx(direct, abs=1e-12)


def test_flat_bytes_per_vector_is_4d(data):
    xb = data[0]
    assert index_bytes(build("flat", xb)) / N == pytest.approx(4 * D, rel=0.01)


def test_pq_bytes_per_vector_is_m_plus_codebook_overhead(data):
    d, m = 64, 8
    xb = np.ascontiguousarray(data[0][:, :d])
    codebook = m * 256 * (d // m) * 4  # m sub-quantizers x 256 centroids x d/m float32
    assert index_bytes(build("pq", xb, "ip", {"m": m})) / N == pytest.approx(m + codebook / N, abs=0.5)


def test_binary_hamming_search_equals_numpy_popcount():
    rng = np.random.default_rng(1)
    xb = rng.standard_normal((60, 20)).astype(np.float32)  # 20 bits: packed into 3 bytes, zero-padded
    xq = rng.standard_normal((5, 20)).astype(np.float32)
    D_, I = search(build("binary", xb, "l2"), xq, 7)
    bits_b, bits_q = xb > 0, xq > 0
    hamming = (bits_q[:, None, :] != bits_b[None, :, :]).sum(axis=2)
    assert np.array_equal(D_, np.sort(hamming, axis=1)[:, :7])
    assert np.array_equal(np.take_along_axis(hamming, I, axis=1), D_)


def test_sign_codes_pack_bits_most_significant_first():
    assert sign_codes(np.array([[1.0, -1.0, 2.0, 0.0, 3.0, -2.0, 0.5, -0.5, 1.0]])).tolist() == [
        [0b10101010, 0b10000000]
    ]


def test_bebr_codes_hand_case():
    x = np.array([[3.0, -1.0, 0.5, -0.5]], dtype=np.float32)
    codes, scales = bebr_encode(x, 2)
    # level 1: sign(x) = + - + -, scale mean|x| = 1.25; residual (1.75, 0.25, -0.75, 0.75)
    # level 2: + + - +, scale 0.875
    assert codes.tolist() == [[[0b10100000], [0b11010000]]]
    np.testing.assert_allclose(scales, [[1.25, 0.875]])
    np.testing.assert_allclose(bebr_decode(codes, scales, 4), [[2.125, -0.375, 0.375, -0.375]])


def test_bebr_search_is_asymmetric_distance_to_the_decoded_codes(data):
    xb, xq, _ = data
    built = build("bebr", xb[:500], "cosine", {"bits": 3, "center": True})
    _, I = search(built, xq[:20], 5)
    xhat = bebr_decode(built.arrays["codes"], built.arrays["scales"], D)
    scores = xq[:20] @ xhat.T  # centering shifts every score of a query equally
    assert np.array_equal(I, np.argsort(-scores, axis=1, kind="stable")[:, :5])


def test_more_bebr_bits_reconstruct_better(data):
    xb = data[0][:300]
    errors = [np.linalg.norm(xb - bebr_decode(*bebr_encode(xb, b), D)) for b in (1, 2, 3, 4)]
    assert errors == sorted(errors, reverse=True)


def test_rerank_rescoring_and_missing_candidates():
    xb = np.eye(4, dtype=np.float32)
    xq = np.array([[0.1, 0.9, 0.3, 0.0]], dtype=np.float32)
    D_, I = rerank(xq, xb, np.array([[0, 2, -1, 1]]), 3, "cosine")
    assert I.tolist() == [[1, 2, 0]]
    np.testing.assert_allclose(D_, [[0.9, 0.3, 0.1]], rtol=1e-6)
    D_, I = rerank(xq, xb, np.array([[3, -1]]), 2, "l2")
    assert I.tolist() == [[3, -1]]


def test_reranking_a_shortlist_recovers_recall(data):
    assert recall_of("binary", data, {}, {"rerank": 0}) < 0.8
    assert recall_of("binary", data, {}, {"rerank": 100}) > 0.95
    assert recall_of("pca", data, {"d_out": 64}, {"rerank": 50}) > 0.95


def test_pca_projection_is_centered_for_l2_only(data):
    xb = np.ascontiguousarray(data[0][:, :64])
    for metric in ("cosine", "ip"):
        P, mean = pca_projection(xb, 8, metric)
        assert mean is None and P.shape == (64, 8)
        assert np.allclose(P.T @ P, np.eye(8), atol=1e-6)
        top = np.linalg.svd(xb, full_matrices=False)[2][0]  # uncentered: top right singular vector
        assert abs(float(P[:, 0] @ top)) == pytest.approx(1.0, abs=1e-4)
    P, mean = pca_projection(xb, 8, "l2")
    assert np.allclose(mean, xb.mean(axis=0), atol=1e-6)
    top = np.linalg.svd(xb - xb.mean(axis=0), full_matrices=False)[2][0]
    assert abs(float(P[:, 0] @ top)) == pytest.approx(1.0, abs=1e-4)


def test_reduced_vectors_are_compared_by_cosine_for_cosine(data):
    xb, xq, _ = data
    built = build("pca", xb, "cosine", {"d_out": 32, "codec": "flat"})
    _, I = search(built, xq, K)
    P, _ = pca_projection(xb, 32, "cosine")
    zb, zq = xb @ P, xq @ P
    zb /= np.linalg.norm(zb, axis=1, keepdims=True)
    zq /= np.linalg.norm(zq, axis=1, keepdims=True)
    _, I_direct = exact_search(zb, zq, K, "cosine")
    assert (I == I_direct).mean() > 0.99  # float32 rounding may swap near-ties


def test_leanvec_ood_fits_out_of_distribution_queries_better_than_pca():
    rng = np.random.default_rng(2)
    xb = rng.standard_normal((1000, 32)) * np.linspace(3, 0.5, 32)  # base varies most in the first dims
    scale_q = np.full(32, 0.05)
    scale_q[8:16] = 2.0  # queries live where the base has only moderate variance
    xq = rng.standard_normal((300, 32)) * scale_q
    P_id, _ = pca_projection(xb, 8, "ip")
    P_ood, _, beta = leanvec_ood_projection(xb, xq, 8, "ip")
    Kx, Kq = xb.T @ xb / len(xb), xq.T @ xq / len(xq)
    assert beta > 0
    assert ood_loss(P_ood, Kq, Kx) < 0.2 * ood_loss(P_id, Kq, Kx)


def test_leanvec_ood_does_not_chase_a_small_in_distribution_sample(data):
    xb, xq, _ = data
    P_id, _ = pca_projection(xb, 32, "cosine")
    P_ood, _, beta = leanvec_ood_projection(xb, xq[:50], 32, "cosine")
    assert beta == 0.0  # cross-validation sees no gain in leaning towards 50 queries like the base
    assert np.allclose(np.abs(P_ood.T @ P_id).max(axis=1), 1.0, atol=1e-4)


def test_leanvec_ood_needs_training_queries(data):
    with pytest.raises(ValueError, match="training queries"):
        build("leanvec_ood", data[0], "cosine", {"d_out": 16})


def test_truncation_keeps_the_first_dimensions(data):
    xb, xq, _ = data
    built = build("truncate", xb, "ip", {"d_out": 16, "codec": "flat"})
    _, I = search(built, xq, K)
    _, I_direct = exact_search(np.ascontiguousarray(xb[:, :16]), np.ascontiguousarray(xq[:, :16]), K, "ip")
    assert np.array_equal(I, I_direct)


def test_random_projection_is_seeded(data):
    xb, xq, _ = data
    a = search(build("random_projection", xb, "cosine", {"d_out": 32}, seed=3), xq, K)[1]
    b = search(build("random_projection", xb, "cosine", {"d_out": 32}, seed=3), xq, K)[1]
    c = search(build("random_projection", xb, "cosine", {"d_out": 32}, seed=4), xq, K)[1]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_bad_parameter_names_the_parameter_and_its_range():
    with pytest.raises(ValueError, match=r"ivf_flat: nprobe must be an integer in \[1, 1048576\], got 0"):
        check_params("ivf_flat", {"nprobe": 0})
    with pytest.raises(ValueError, match=r"sq: qtype must be one of 'fp16', 'int8', 'int4', got 'int2'"):
        check_params("sq", {"qtype": "int2"})
    with pytest.raises(ValueError, match="center must be one of False, True, got 1"):
        check_params("binary", {"center": 1})
    with pytest.raises(ValueError, match="pq has no parameter 'nprobe'; its parameters are: m"):
        check_params("pq", {"nprobe": 4})
    with pytest.raises(ValueError, match="unknown method 'lsh'"):
        check_params("lsh", {})


def test_build_and_search_parameters_are_kept_apart(data):
    with pytest.raises(ValueError, match="nprobe is a search parameter"):
        build("ivf_flat", data[0], "cosine", {"nprobe": 4})


def test_constraints_explain_what_cannot_run():
    pq = METHODS["pq"]
    assert "m=48 does not divide d=50" in pq.validate({"m": 48}, 10_000, 50)
    assert "at least 256 training points" in pq.validate({"m": 8}, 200, 64)
    assert pq.validate({"m": 8}, 1000, 64) is None
    assert "trained 256 centroids on 1000 points" in pq.training_note({"m": 8}, 1000)
    assert "nprobe=64 is larger than nlist=16" in METHODS["ivf_flat"].validate({"nlist": 16, "nprobe": 64}, 10_000, 8)
    assert "d_out=64 must be smaller" in METHODS["pca"].validate({"d_out": 64, "codec": "sq8", "rerank": 0}, 100, 64)


def test_build_refuses_what_the_data_cannot_support(data):
    with pytest.raises(ValueError, match="does not divide"):
        build("pq", data[0], "cosine", {"m": 100})


def test_search_checks_k_dims_and_shortlist(data):
    xb, xq, _ = data
    built = build("binary", xb[:50])
    with pytest.raises(ValueError, match="larger than the number of base vectors"):
        search(built, xq, 51)
    with pytest.raises(ValueError, match="index has 384 dims"):
        search(built, xq[:, :10], 5)
    with pytest.raises(ValueError, match="rerank=5 must be 0 or at least k=10"):
        search(built, xq, 10, {"rerank": 5})


def test_every_method_has_a_name_a_person_can_read():
    assert set(registry.DISPLAY_NAMES) == set(registry.METHODS)
    assert registry.display_name("pq_fastscan") == "PQ fast-scan (4-bit)" and registry.display_name("x") == "x"


def test_training_uses_a_seeded_sample_above_the_cap(monkeypatch):
    from core.index import registry, spec

    x = np.random.default_rng(0).standard_normal((600, 16)).astype(np.float32)
    same, note = spec.training_sample(x, seed=1, max_train=600)
    assert same is x and note == ""
    sample, note = spec.training_sample(x, seed=1, max_train=200)
    assert sample.shape == (200, 16) and note == "trained on a seeded sample of 200 of the 600 vectors"
    again, _ = spec.training_sample(x, seed=1, max_train=200)
    np.testing.assert_array_equal(sample, again)
    rows = [int(np.flatnonzero((x == r).all(axis=1))[0]) for r in sample]
    assert rows == sorted(rows)  # rows of x, in their order
    monkeypatch.setattr(spec, "MAX_TRAIN_POINTS", 200)
    built = registry.build("ivf_flat", x, "l2", {"nlist": 8}, seed=1)
    assert "trained on a seeded sample of 200 of the 600 vectors" in built.note and built.index.ntotal == 600
    reduced = registry.build("pca", x, "l2", {"d_out": 4})
    assert "seeded sample of 200" in reduced.note and reduced.index.ntotal == 600
