"""Encoders: pooling by hand, batching order, the bundled model's known answer, baselines."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.encode.registry import DEFAULT_ENCODER, list_encoders, make_encoder
from core.encode.static import GloveAverageEncoder, TfidfSvdEncoder
from core.encode.transformer import TransformerEncoder, pool, read_pooling_mode, token_budget_batches

#: cos("A man is eating food.", "A man is eating a piece of bread.") with the bundled
#: all-MiniLM-L6-v2, measured with this encoder and with sentence-transformers 6.2
#: (SentenceTransformer(folder).encode(..., normalize_embeddings=True)): both 0.75534.
MINILM_EATING_COS = 0.7553


@pytest.fixture(scope="module")
def minilm() -> TransformerEncoder:
    enc = make_encoder("minilm", device="cpu")
    assert isinstance(enc, TransformerEncoder)
    return enc


@pytest.fixture(scope="module")
def glove() -> GloveAverageEncoder:
    return GloveAverageEncoder()


# -- pooling and batching (no model) ----------------------------------------------


def test_mean_pooling_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, -100.0]], [[2.0, 0.0], [4.0, 6.0], [6.0, 3.0]]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    expected = torch.tensor([[2.0, 3.0], [4.0, 3.0]])  # (1+3)/2, (2+4)/2 ; (2+4+6)/3, (0+6+3)/3
    assert torch.allclose(pool(hidden, mask, "mean"), expected)


def test_cls_pooling_takes_first_token():
    hidden = torch.arange(12, dtype=torch.float32).reshape(2, 3, 2)
    mask = torch.tensor([[1, 0, 0], [1, 1, 1]])
    assert torch.equal(pool(hidden, mask, "cls"), torch.tensor([[0.0, 1.0], [6.0, 7.0]]))


def test_pool_rejects_unknown_mode():
    with pytest.raises(ValueError, match="'mean' or 'cls'"):
        pool(torch.zeros(1, 2, 3), torch.ones(1, 2), "max")


def test_token_budget_batches_cover_all_and_respect_budget():
    lengths = np.array([5, 300, 12, 12, 7, 256, 40, 3, 90, 12])
    batches = token_budget_batches(lengths, max_rows=3, max_tokens=100)
    seen = np.concatenate(batches)
    assert sorted(seen.tolist()) == list(range(len(lengths)))
    assert lengths[seen].tolist() == sorted(lengths.tolist(), reverse=True)  # longest first
    for b in batches:
        assert len(b) <= 3
        assert len(b) == 1 or lengths[b].max() * len(b) <= 100  # a too-long text goes alone


def test_read_pooling_mode(tmp_path):
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "modules.json").write_text(
        json.dumps([{"path": "", "type": "x.Transformer"}, {"path": "1_Pooling", "type": "x.Pooling"}])
    )
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_cls_token": True}))
    assert read_pooling_mode(tmp_path) == "cls"
    (tmp_path / "modules.json").unlink()
    assert read_pooling_mode(tmp_path) == "mean"


# -- the bundled transformer ------------------------------------------------------


def test_minilm_known_cosine(minilm):
    v = minilm.encode(["A man is eating food.", "A man is eating a piece of bread."])
    assert v.dtype == np.float32 and v.shape == (2, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert abs(float(v[0] @ v[1]) - MINILM_EATING_COS) < 0.01


def test_length_sorted_batches_keep_input_order(minilm):
    texts = [
        "short",
        "a much longer sentence about vectors, indexes and the way they are searched " * 3,
        "medium length text here",
        "x",
        "another fairly long one, with several clauses, so that it needs more tokens than most",
        "",
    ]
    batched = minilm.encode(texts, batch_size=2)
    one_by_one = np.vstack([minilm.encode([t]) for t in texts])
    assert np.abs(batched - one_by_one).max() < 1e-5


def test_progress_reaches_total(minilm):
    calls = []
    minilm.encode(["a", "b c", "d e f"], batch_size=1, progress=lambda d, t, m: calls.append((d, t)))
    assert calls[-1] == (3, 3) and len(calls) == 3


def test_empty_input_gives_empty_matrix(minilm):
    assert minilm.encode([]).shape == (0, 384)


def test_encode_rejects_a_bare_string(minilm):
    with pytest.raises(ValueError, match="not one string"):
        minilm.encode("hello")


def test_prefixes_change_the_vector():
    enc = make_encoder("minilm", device="cpu", query_prefix="query: ", passage_prefix="passage: ")
    q = enc.encode(["binary search"], kind="query")
    p = enc.encode(["binary search"], kind="passage")
    assert float(q[0] @ p[0]) < 0.999
    assert enc.config()["query_prefix"] == "query: "


def test_make_encoder_caches_models(minilm):
    assert make_encoder("minilm", device="cpu") is minilm
    assert make_encoder("minilm", device="cpu", pooling="cls") is not minilm


def test_config_differs_when_options_differ(minilm):
    cls = make_encoder("minilm", device="cpu", pooling="cls")
    short = make_encoder("minilm", device="cpu", max_length=64)
    configs = [json.dumps(e.config(), sort_keys=True) for e in (minilm, cls, short)]
    assert len(set(configs)) == 3
    assert TfidfSvdEncoder(dim=8).config() != TfidfSvdEncoder(dim=16).config()


def test_max_length_is_capped_at_the_model_limit():
    assert make_encoder("minilm", device="cpu", max_length=10_000).max_length == 512


# -- bad models -------------------------------------------------------------------


def test_missing_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        TransformerEncoder(tmp_path / "nope")


def test_folder_without_config_or_weights_errors(tmp_path):
    with pytest.raises(ValueError, match=r"no config\.json"):
        TransformerEncoder(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match=r"no weights.*safetensors"):
        TransformerEncoder(tmp_path)


def test_uncached_hub_id_errors():
    with pytest.raises(ValueError, match="not a local folder and is not in the offline hub cache"):
        make_encoder("densescope-test/no-such-model")


def test_bad_options_error():
    with pytest.raises(ValueError, match="pooling"):
        make_encoder("minilm", pooling="max")
    with pytest.raises(ValueError, match="dim"):
        TfidfSvdEncoder(dim=0)


# -- TF-IDF + SVD -----------------------------------------------------------------

CORPUS = [
    "sort a list in place",
    "return a sorted copy of the list",
    "open a file for reading",
    "read the whole file as text",
    "join path components",
    "split a path into head and tail",
]


def test_tfidf_encode_before_fit_errors():
    with pytest.raises(ValueError, match=r"not fitted yet: call fit"):
        TfidfSvdEncoder(dim=4).encode(["anything"])


def test_tfidf_fit_caps_dim_and_gives_unit_rows():
    enc = make_encoder("tfidf-svd", dim=100)
    assert enc.needs_fit and enc.fit(CORPUS) is enc
    assert enc.dim == len(CORPUS) - 1
    x = enc.encode([*CORPUS, "zzz qqq"])
    assert x.shape == (len(CORPUS) + 1, enc.dim) and x.dtype == np.float32
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    assert enc.last_stats_["n_no_known_term"] == 1
    assert enc.config()["fit"] is not None
    assert enc.config() != TfidfSvdEncoder(dim=100).fit(CORPUS[:-1]).config()


def test_tfidf_is_not_shared_between_calls():
    assert make_encoder("tfidf-svd") is not make_encoder("tfidf-svd")


# -- GloVe average ----------------------------------------------------------------


def test_glove_one_word_is_that_words_unit_vector(glove):
    row = glove.vocab["python"]
    expected = glove.vectors[row] / np.linalg.norm(glove.vectors[row])
    assert np.allclose(glove.encode(["Python!"])[0], expected, atol=1e-6)


def test_glove_text_without_known_words_gets_the_fallback(glove):
    x = glove.encode(["qqqzzzxx", "the cat"])
    assert np.allclose(x[0], glove.fallback)
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    assert glove.last_stats_["n_no_known_word"] == 1


def test_glove_limit_vocab_changes_config(glove):
    assert GloveAverageEncoder(limit_vocab=1000).config() != glove.config()


def test_registry_lists_the_default():
    names = [e["name"] for e in list_encoders()]
    assert DEFAULT_ENCODER in names and {"glove-avg", "tfidf-svd"} <= set(names)
    with pytest.raises(ValueError, match="non-empty"):
        make_encoder("")


def test_unloadable_folder_errors(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="no hidden_size"):
        TransformerEncoder(tmp_path)
    # A plausible config but broken weights: the folder opens (weights load lazily) and the
    # first encode says which folder could not be loaded.
    (tmp_path / "config.json").write_text('{"model_type": "bert", "hidden_size": 8}')
    enc = TransformerEncoder(tmp_path)
    with pytest.raises(ValueError, match="cannot load the model in"):
        enc.encode(["a text"])


def test_a_generic_model_folder_is_named_by_the_model_it_holds(tmp_path):
    from core.encode.transformer import local_model_name

    named = tmp_path / "bge-small-en"
    named.mkdir()
    assert local_model_name(named) == "bge-small-en"
    generic = tmp_path / "pkg" / "model"
    generic.mkdir(parents=True)
    (generic / "README.md").write_text("# all-MiniLM-L6-v2\nmodel = SentenceTransformer('sentence-transformers/x-y')\n")
    assert local_model_name(generic) == "sentence-transformers/x-y"
    (generic / "README.md").write_text("---\ntags: []\n---\n# e5-base\nText.\n")
    assert local_model_name(generic) == "e5-base"
    (generic / "README.md").unlink()
    assert local_model_name(generic) == "pkg"
