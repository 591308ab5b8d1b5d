import numpy as np
import pytest

from core.data.dataset import Dataset, Queries, check_vectors, subsample
from core.store.artifacts import ArtifactCache
from core.workspace import Workspace, held_out_split


def vector_ds(n=200, d=16, seed=0, metric="cosine", **kw):
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return Dataset(name="vec", ids=[f"v{i}" for i in range(n)], vectors=x, metric=metric, **kw)


def test_given_vectors_are_normalised_for_cosine(tmp_path):
    ws = Workspace(vector_ds(), cache=ArtifactCache(tmp_path))
    x = ws.embeddings()
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, rtol=1e-5)
    assert ws.encoder_name == "given-vectors" and ws.has_embeddings()


def test_held_out_split_is_a_seeded_partition():
    q, b = held_out_split(100, 10, seed=3)
    assert len(q) == 10 and len(b) == 90
    assert sorted(np.concatenate([q, b]).tolist()) == list(range(100))
    q2, _ = held_out_split(100, 10, seed=3)
    np.testing.assert_array_equal(q, q2)
    with pytest.raises(ValueError, match="n_queries"):
        held_out_split(10, 10)


def test_eval_set_without_queries_removes_them_from_base(tmp_path):
    ws = Workspace(vector_ds(), cache=ArtifactCache(tmp_path))
    ev = ws.eval_set(n_queries=20)
    assert ev.xq.shape == (20, 16) and ev.xb.shape == (180, 16)
    assert not set(ev.query_rows) & set(ev.base_rows)


def test_ground_truth_matches_brute_force_and_is_cached(tmp_path):
    ws = Workspace(vector_ds(metric="l2"), cache=ArtifactCache(tmp_path))
    ev = ws.eval_set(n_queries=10)
    _D, I = ws.ground_truth(ev, 5)
    d2 = ((ev.xq[:, None, :] - ev.xb[None, :, :]) ** 2).sum(-1)
    np.testing.assert_array_equal(I, np.argsort(d2, axis=1)[:, :5])
    assert len(ws.cache.list("ground-truth")) == 2
    _D2, I2 = ws.ground_truth(ev, 5)
    np.testing.assert_array_equal(I, I2)


def test_qrels_map_to_base_positions(tmp_path):
    x = np.eye(4, dtype=np.float32)
    ds = Dataset(name="t", ids=list("abcd"), vectors=x,
                 queries=Queries(["q1"], vectors=np.array([[0, 0, 1, 0]], dtype=np.float32)),
                 qrels={"q1": {"c": 1, "a": 0}})
    ev = Workspace(ds, cache=ArtifactCache(tmp_path)).eval_set()
    assert ev.qrels[0] == {2: 1}  # position 2 ("c"), grade 1; "a" (grade 0) is not relevant


def test_knn_graph_excludes_self_and_slices(tmp_path):
    ws = Workspace(vector_ds(n=50), cache=ArtifactCache(tmp_path))
    _D, I = ws.knn(10)
    assert I.shape == (50, 10)
    assert not (I == np.arange(50)[:, None]).any()
    _D5, I5 = ws.knn(5)
    np.testing.assert_array_equal(I5, I[:, :5])


def test_zero_vectors_refused_for_cosine_with_counts(tmp_path):
    ds = vector_ds(n=10)
    ds.vectors[[2, 5]] = 0
    with pytest.raises(ValueError, match="2 of 10 rows are all-zero"):
        Workspace(ds, cache=ArtifactCache(tmp_path)).embeddings()


def test_nan_rows_reported():
    x = np.ones((5, 3), dtype=np.float32)
    x[1, 2] = np.nan
    x[3, 0] = np.inf
    with pytest.raises(ValueError, match="2 of 5 rows contain NaN or inf"):
        check_vectors(x)


def test_subsample_keeps_order_and_qrels():
    ds = vector_ds(n=100, queries=Queries(["q"], vectors=np.ones((1, 16), np.float32)), qrels={"q": {"v5": 1}})
    sub = subsample(ds, 30, seed=1)
    assert sub.n == 30 and sub.ids == sorted(sub.ids, key=lambda s: int(s[1:]))
    assert (sub.queries is not None and len(sub.queries) == 1) == ("v5" in sub.ids)


def test_encode_time_estimate_comes_from_measured_encodes(tmp_path):
    from core.workspace import encode_time_text, measured_encode_rate

    cache = ArtifactCache(tmp_path)
    cfg = {"encoder": "transformer", "model": "m", "pooling": "mean"}
    assert measured_encode_rate(cache, cfg) is None
    assert "no encode with m has been timed" in encode_time_text(100, None, "m")
    for i, rate in enumerate((40.0, 50.0, 90.0)):
        cache.save("embeddings", f"k{i}", np.ones((2, 2), np.float32), {"encoder": cfg, "per_second": rate})
    cache.save("embeddings", "other", np.ones((2, 2), np.float32), {"encoder": {"model": "x"}, "per_second": 1.0})
    assert measured_encode_rate(cache, cfg) == 50.0
    expected = "about 60 s at the 50 passages/s measured in earlier encodes with m here"
    assert encode_time_text(3000, 50.0, "m") == expected


def test_encode_estimate_adds_the_model_load_measured_default_or_none():
    from core.workspace import LoadTime, encode_time_text

    measured = LoadTime(5.0, "measured", "transformer")
    assert encode_time_text(3000, 50.0, "m", measured) == (
        "about 65 s: ~60 s encoding at the 50 passages/s measured in earlier encodes with m here "
        "+ ~5 s loading the model (measured when m was first loaded here)")
    default = LoadTime(15.0, "default", "transformer")  # 2,625 / 75 = 35 s, + 15 s = 50 s
    assert encode_time_text(2625, 75.0, "minilm", default) == (
        "about 50 s: ~35 s encoding at the 75 passages/s measured in earlier encodes with minilm here "
        "+ ~15 s loading the model (typical for a transformer model; no load timed here yet)")
    assert encode_time_text(3000, 50.0, "m", LoadTime(0.0, "loaded", "transformer")) == (
        "about 60 s at the 50 passages/s measured in earlier encodes with m here; the model is already loaded")
    # a static encoder loads nothing worth saying; 30 passages at 100/s is under a second
    assert encode_time_text(30, 100.0, "glove-avg", LoadTime(0.0, "default", "glove-avg")) == (
        "under 1 s at the 100 passages/s measured in earlier encodes with glove-avg here")
    # minutes: 9,000 / 50 = 180 s = 3 min, + 60 s load = 4 min
    assert encode_time_text(9000, 50.0, "m", LoadTime(60.0, "measured", "transformer")).startswith(
        "about 4 min: ~3 min encoding")
    assert encode_time_text(100, None, "m", default).endswith(
        "shows the rate as it goes; loading the model first takes ~15 s "
        "(typical for a transformer model; no load timed here yet)")


def test_load_time_comes_from_measured_first_loads_else_the_family_default(tmp_path):
    from core.workspace import DEFAULT_LOAD_SECONDS, expected_load_time, measured_load_seconds

    cache = ArtifactCache(tmp_path)
    cfg = {"encoder": "transformer", "model": "never-loaded-here", "pooling": "mean"}
    assert measured_load_seconds(cache, cfg) is None
    first = expected_load_time(cache, cfg)
    assert (first.seconds, first.source) == (DEFAULT_LOAD_SECONDS["transformer"], "default") == (15.0, "default")
    glove = expected_load_time(cache, {"encoder": "glove-avg", "limit_vocab": None})
    assert (glove.seconds, glove.source) == (0.0, "default")
    for i, load in enumerate((4.0, 6.0, 11.0, None)):  # None: an encode of an already-loaded model
        cache.save("embeddings", f"k{i}", np.ones((2, 2), np.float32),
                   {"encoder": cfg, "per_second": 10.0, "load_seconds": load})
    cache.save("embeddings", "other", np.ones((2, 2), np.float32), {"encoder": {"model": "x"}, "load_seconds": 99.0})
    assert measured_load_seconds(cache, cfg) == 6.0  # the median of 4, 6, 11
    measured = expected_load_time(cache, cfg)
    assert (measured.seconds, measured.source, measured.family) == (6.0, "measured", "transformer")


def test_first_encode_times_the_load_apart_and_a_loaded_model_adds_none(tmp_path):
    rng = np.random.default_rng(7)
    words = [f"w{i}" for i in range(60)]
    texts = [" ".join(rng.choice(words, 12)) for _ in range(40)]
    ds = Dataset(name="load-test", ids=[f"t{i}" for i in range(40)], texts=texts)
    ws = Workspace(ds, "tfidf-svd", {"dim": 8}, cache=ArtifactCache(tmp_path / "a"))
    before = ws.expected_load_time()
    assert (before.source, before.seconds) == ("default", 0.0)  # TF-IDF fits when the workspace opens
    ws.embeddings()
    meta = ws.embeddings_meta()
    assert meta["load_seconds"] is not None and meta["load_seconds"] >= 0
    assert meta["seconds"] == pytest.approx(meta["load_seconds"] + meta["encode_seconds"])
    assert meta["per_second"] == pytest.approx(40 / meta["encode_seconds"])
    assert ws.expected_load_time().source == "loaded"
    # the same encoder again in this process (another cache): loaded already, so no load is recorded
    again = Workspace(ds, "tfidf-svd", {"dim": 8}, cache=ArtifactCache(tmp_path / "b"))
    again.embeddings()
    assert again.embeddings_meta()["load_seconds"] is None


def test_existence_check_does_not_load_the_array(tmp_path, monkeypatch):
    cache = ArtifactCache(tmp_path)
    cache.save("embeddings", "k", np.ones((3, 3), np.float32), {"a": 1})
    monkeypatch.setattr(np, "load", lambda *a, **k: (_ for _ in ()).throw(AssertionError("loaded")))
    assert cache.exists("embeddings", "k") and cache.record("embeddings", "k")["meta"] == {"a": 1}
    assert not cache.exists("embeddings", "missing")


def test_a_fitted_encoders_cache_key_costs_no_fit():
    """Pages ask on every view whether embeddings exist; for TF-IDF + SVD that must not fit the SVD,
    and the key must be the one the fitted encoder has."""
    texts = [f"document {i} about topic {i % 5} and words {i * 7}" for i in range(40)]
    ds = Dataset(name="t", ids=[f"d{i}" for i in range(40)], texts=texts)
    ws = Workspace(ds, "tfidf-svd", {"dim": 8}, ArtifactCache(None))
    planned = ws.encoder_config()
    assert "encoder" not in ws.__dict__  # nothing was built or fitted
    assert planned == ws.encoder.config() and planned["fit"] is not None


def test_has_knn_says_whether_the_graph_would_be_read_or_computed(tmp_path):
    ws = Workspace(vector_ds(30), "given-vectors", {}, ArtifactCache(tmp_path))
    assert not ws.has_knn(5)
    ws.knn(10)
    assert ws.has_knn(5) and ws.has_knn(10) and not ws.has_knn(12)
    fresh = Workspace(vector_ds(30), "given-vectors", {}, ArtifactCache(tmp_path))
    assert fresh.has_knn(10)  # from the cache, not memory


def test_an_example_query_is_encoded_once_then_read_from_the_cache(tmp_path, monkeypatch):
    texts = [f"document {i} about topic {i % 5} and words {i * 7}" for i in range(40)]
    ds = Dataset(name="t", ids=[f"d{i}" for i in range(40)], texts=texts)
    first = Workspace(ds, "tfidf-svd", {"dim": 8}, ArtifactCache(tmp_path)).encode_query_text("topic 3 words")
    again = Workspace(ds, "tfidf-svd", {"dim": 8}, ArtifactCache(tmp_path))
    monkeypatch.setattr(Workspace, "encode_queries", lambda self, t: pytest.fail("encoded again"))
    np.testing.assert_array_equal(again.encode_query_text("topic 3 words"), first)
    assert "encoder" not in again.__dict__  # no encoder was built (nor fitted) to answer it
