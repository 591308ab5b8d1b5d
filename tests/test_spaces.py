"""Comparing two embedding spaces: known answers on seeded data, the CLI and the page."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pagetest import open_view, page_text

from core.analysis.spaces import (
    chance_agreement,
    isotropy_score,
    linear_cka,
    mean_pairwise_cosine,
    neighbour_agreement,
    random_rotation,
    similarity_spearman,
)
from core.experiments.spaces import SpaceSpec, compare_spaces
from core.index.exact import knn_graph

N, D, K = 1000, 32, 10


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def spaces():
    rng = np.random.default_rng(0)
    scales = np.linspace(3.0, 0.2, D)  # anisotropic, so principal directions are well defined
    x = unit(rng.standard_normal((N, D)) * scales)
    return x, unit(x @ random_rotation(D, seed=1)), unit(rng.standard_normal((N, 24)))


def graph(x):
    return knn_graph(x, K, "cosine")[1]


def test_a_space_against_itself_agrees_fully(spaces):
    x, _, _ = spaces
    assert neighbour_agreement(graph(x), graph(x)).mean() == 1.0
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)
    assert similarity_spearman(x, x)[0] == pytest.approx(1.0, abs=1e-9)


def test_a_rotation_keeps_neighbours_cka_and_isotropy(spaces):
    x, rotated, _ = spaces
    assert neighbour_agreement(graph(x), graph(rotated)).mean() == 1.0
    assert linear_cka(x, rotated) == pytest.approx(1.0, abs=1e-9)
    assert isotropy_score(rotated) == pytest.approx(isotropy_score(x), rel=1e-3)
    assert mean_pairwise_cosine(rotated) == pytest.approx(mean_pairwise_cosine(x), abs=1e-6)


def test_an_unrelated_space_agrees_by_chance_and_cka_is_near_zero(spaces):
    """Chance: each item's k neighbours in B are k of the n-1 others at random, so its overlap is
    ~Binomial(k, k/(n-1))/k; the mean over n items has sd about sqrt(p / (k n)) = 0.001 here. Four sd
    is the tolerance. CKA of two independent d_a, d_b-dimensional Gaussian spaces is about
    sqrt(d_a d_b) / n (0.028 here); we bound it by three times that."""
    x, _, unrelated = spaces
    p = chance_agreement(N, K)
    agreement = neighbour_agreement(graph(x), graph(unrelated)).mean()
    assert abs(agreement - p) < 4 * np.sqrt(p / (K * N))
    assert linear_cka(x, unrelated) < 3 * np.sqrt(D * 24) / N
    assert abs(similarity_spearman(x, unrelated)[0]) < 0.05


def test_cka_matches_a_hand_computation():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    Y = np.array([[2.0], [0.0], [2.0], [0.0]])
    # centred: Xc = X - [.5,.5], Yc = Y - 1 = [1,-1,1,-1]; Yc^T Xc = [2, 0]; ||.||^2 = 4
    # Xc^T Xc = [[1,0],[0,1]] -> ||.||_F = sqrt(2); Yc^T Yc = 4 -> 4; CKA = 4 / (sqrt(2) * 4)
    assert linear_cka(X, Y) == pytest.approx(1 / np.sqrt(2))


def test_agreement_hand_case_ignores_missing_neighbours():
    a = np.array([[1, 2, 3], [0, 2, -1]])
    b = np.array([[3, 2, 9], [2, -1, -1]])
    assert neighbour_agreement(a, b).tolist() == [2 / 3, 1 / 3]
    with pytest.raises(ValueError, match="same items"):
        neighbour_agreement(a, b[:1])


@pytest.mark.parametrize(("text", "spec"), [
    ("minilm", SpaceSpec("minilm")), ("minilm:truncate=128", SpaceSpec("minilm", "truncate", 128)),
    ("tfidf-svd:pca=64", SpaceSpec("tfidf-svd", "pca", 64)), ("/models/e5", SpaceSpec("/models/e5")),
    ("minilm(max_length=128,pooling=cls)", SpaceSpec("minilm", options=(("max_length", 128), ("pooling", "cls")))),
    ("minilm(pooling=mean):pca=64", SpaceSpec("minilm", "pca", 64, (("pooling", "mean"),))),
    ("file:/data/vectors.npy", SpaceSpec("file:/data/vectors.npy")),
])
def test_space_specs(text, spec):
    assert SpaceSpec.parse(text) == spec and spec.label == text


@pytest.mark.parametrize(("text", "message"), [
    ("minilm:crop=3", "unknown derivation"), ("minilm:pca=x", "whole number"), ("minilm:truncate=0", "at least 1"),
    ("", "needs an encoder"), ("minilm(colour=red)", "is not one of pooling"), ("minilm(max_length=x)", "whole number"),
])
def test_bad_space_specs_say_why(text, message):
    with pytest.raises(ValueError, match=message):
        SpaceSpec.parse(text)


SYNTH = {"n": 400, "dim": 24, "intrinsic_dim": 6, "noise": 0.0, "n_clusters": 3, "seed": 0}


def test_a_truncation_to_all_dimensions_is_the_space_itself(fresh_home):
    result = compare_spaces("synthetic", "given-vectors", "given-vectors:truncate=24", k=10, dataset_params=SYNTH)
    assert result.agreement_mean == 1.0 and result.cka == pytest.approx(1.0, abs=1e-9)
    half = compare_spaces("synthetic", "given-vectors", "given-vectors:pca=3", k=10, dataset_params=SYNTH)
    assert half.chance < half.agreement_mean < 1.0 and half.geometry_b.dim == 3
    assert list(half.rows.columns[:2]) == ["id", "agreement"] and len(half.rows) == 400


def test_cli_compare_prints_the_summary_and_writes_rows(fresh_home, tmp_path, capsys):
    from core.cli.main import main
    from core.store.runs import RunStore

    out = tmp_path / "rows.csv"
    args = ["compare", "--dataset", "stdlib-docs", "--limit", "200", "--space-a", "tfidf-svd", "--space-b",
            "tfidf-svd:truncate=32", "--out", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "Neighbour agreement: on average" in text and "Linear CKA" in text and "isotropy" in text
    rows = pd.read_csv(out)
    assert list(rows.columns[:2]) == ["id", "agreement"] and len(rows) == 200
    (run,) = RunStore().list_runs(kind="compare")
    assert run.n_rows == 200 and run.encoder == "tfidf-svd vs tfidf-svd:truncate=32"
    assert main(["compare", "--dataset", "stdlib-docs", "--space-a", "tfidf-svd", "--space-b", "x:crop=1"]) == 2


def test_page_compares_two_spaces_of_a_small_text_dataset(fresh_home):
    import streamlit as st

    st.cache_resource.clear()
    st.cache_data.clear()
    spec = {"dataset": "stdlib-docs", "params": {"limit": 200, "seed": 0}, "encoder": "tfidf-svd",
            "encoder_options": {}}
    at = open_view("spaces.py", spec)
    at.selectbox(key="spaces_A_encoder").set_value("tfidf-svd")
    at.selectbox(key="spaces_B_encoder").set_value("tfidf-svd")
    at.selectbox(key="spaces_B_how").set_value("truncate").run()
    at.number_input(key="spaces_B_dims").set_value(16)
    at.run()
    assert "has not encoded" in page_text(at)  # asks before a long encode
    at.button(key="spaces_encode").click().run()
    assert not at.exception, [e.value for e in at.exception]
    text = page_text(at)
    assert "Neighbour agreement: on average" in text and "How each space fills its dimensions" in text
    assert {m.label for m in at.metric} >= {"neighbour agreement", "linear CKA"}
    assert len(at.get("plotly_chart")) == 2  # agreement histogram, map of A
    at.button(key="spaces_save").click().run()
    assert "Saved as run #" in page_text(at)


def test_a_vector_file_of_the_same_items_is_a_space(fresh_home, tmp_path):
    from core.data.builtin import load_dataset

    ds = load_dataset("synthetic", **SYNTH)
    rotated = ds.vectors @ random_rotation(ds.vectors.shape[1], seed=3)
    np.save(tmp_path / "rotated.npy", rotated)
    result = compare_spaces("synthetic", "given-vectors", f"file:{tmp_path / 'rotated.npy'}", k=10,
                            dataset_params=SYNTH)
    assert result.agreement_mean == 1.0 and result.cka == pytest.approx(1.0, abs=1e-6)
    np.save(tmp_path / "short.npy", rotated[:10])
    with pytest.raises(ValueError, match="has 10 rows but synthetic has 400 items"):
        compare_spaces("synthetic", "given-vectors", f"file:{tmp_path / 'short.npy'}", dataset_params=SYNTH)


def test_prefix_options_keep_their_space_and_static_encoders_refuse_options():
    assert SpaceSpec.parse("e5(query_prefix=query: )").options == (("query_prefix", "query: "),)
    with pytest.raises(ValueError, match="apply to transformer models"):
        compare_spaces("stdlib-docs", "tfidf-svd(pooling=cls)", "tfidf-svd", dataset_params={"limit": 50})


@pytest.mark.slow
def test_a_transformer_with_other_options_is_another_space(fresh_home):
    result = compare_spaces("stdlib-docs", "minilm", "minilm(max_length=16)", k=5,
                            dataset_params={"limit": 60, "seed": 0})
    assert result.b == "minilm(max_length=16)" and result.chance < result.agreement_mean < 1.0


def test_a_comparison_is_computed_once_and_loaded_after(fresh_home, monkeypatch):
    """Another session or server process asking for the same pair loads it from the artifact cache:
    the same numbers, the same rows, nothing measured again."""
    import core.experiments.spaces as spaces_mod

    first = compare_spaces("synthetic", "given-vectors", "given-vectors:pca=3", k=10, dataset_params=SYNTH)

    def measured_again(*args, **kwargs):
        raise AssertionError("the comparison was computed again")

    monkeypatch.setattr(spaces_mod, "_compare", measured_again)
    again = compare_spaces("synthetic", "given-vectors", "given-vectors:pca=3", k=10, dataset_params=SYNTH)
    assert again.summary() == first.summary()
    assert again.geometry_b == first.geometry_b and again.provenance == first.provenance
    pd.testing.assert_frame_equal(again.rows, first.rows)
    other_k = pytest.raises(AssertionError, match="computed again")
    with other_k:  # another k is another comparison
        compare_spaces("synthetic", "given-vectors", "given-vectors:pca=3", k=5, dataset_params=SYNTH)


def test_a_saved_comparison_keeps_its_retrieval_numbers(fresh_home):
    params = {"limit": 80}
    first = compare_spaces("stdlib-docs", "tfidf-svd", "tfidf-svd:truncate=8", k=5, dataset_params=params)
    again = compare_spaces("stdlib-docs", "tfidf-svd", "tfidf-svd:truncate=8", k=5, dataset_params=params)
    assert first.retrieval_a is not None and again.retrieval_a.ndcg_at_10 == first.retrieval_a.ndcg_at_10
    np.testing.assert_array_equal(again.retrieval_b.reciprocal_rank, first.retrieval_b.reciprocal_rank)
    pd.testing.assert_frame_equal(again.disagreeing, first.disagreeing, check_dtype=False)
    assert again.sentences() == first.sentences()
