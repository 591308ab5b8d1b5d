"""Isotropy post-processing (all-but-the-top, whitening) as derived spaces: known answers, specs, the sweep."""

from __future__ import annotations

import numpy as np
import pytest

from core.analysis.isotropy import AllButTheTop, Whitening, principal_directions, unit_rows
from core.analysis.spaces import isotropy_score, mean_pairwise_cosine
from core.cli.main import main
from core.experiments.space_workspace import SpaceWorkspace, space_workspace
from core.experiments.spaces import SpaceSpec, compare_spaces
from core.store.runs import RunStore

N, D = 600, 16
SYNTH = {"n": 400, "dim": 24, "intrinsic_dim": 6, "noise": 0.0, "n_clusters": 3, "seed": 0}


@pytest.fixture(scope="module")
def anisotropic():
    """Unit vectors with a large common mean and a few dominant directions (as sentence embeddings have)."""
    rng = np.random.default_rng(0)
    scales = np.r_[[4.0, 2.5, 1.5], np.full(D - 3, 0.3)]
    return unit_rows(rng.standard_normal((N, D)) * scales + 2.0)


def test_all_but_the_top_removes_the_mean_and_the_top_directions(anisotropic):
    x = anisotropic
    abtt = AllButTheTop(3).fit(x)
    out = abtt.transform(x).astype(np.float64)
    assert np.abs(out.mean(axis=0)).max() < 1e-6
    assert np.abs(out @ abtt.components_.T).max() < 1e-5  # nothing left along the removed directions
    _, _, vecs = principal_directions(x)
    assert np.allclose(np.abs(abtt.components_ @ vecs[:3].T), np.eye(3), atol=1e-9)
    # the rest is untouched: the projection on the 4th direction onwards is that of the centred data
    rest = vecs[3:]
    assert np.allclose(out @ rest.T, (x - x.mean(axis=0)) @ rest.T, atol=1e-5)
    after = unit_rows(out)
    assert isotropy_score(after) > isotropy_score(x) + 0.3
    assert mean_pairwise_cosine(x) > 0.5 and abs(mean_pairwise_cosine(after)) < 0.01


def test_whitening_gives_identity_covariance_before_renormalising(anisotropic):
    w = Whitening().fit(anisotropic)
    out = w.transform(anisotropic).astype(np.float64)
    assert out.shape == (N, D)
    assert np.allclose(np.cov(out, rowvar=False), np.eye(D), atol=1e-6)
    assert np.abs(out.mean(axis=0)).max() < 1e-6
    top = Whitening(4).fit(anisotropic).transform(anisotropic).astype(np.float64)
    assert top.shape == (N, 4) and np.allclose(np.cov(top, rowvar=False), np.eye(4), atol=1e-6)
    assert isotropy_score(unit_rows(out)) > isotropy_score(anisotropic)


def test_whitening_drops_directions_without_variance():
    rng = np.random.default_rng(1)
    flat = np.c_[rng.standard_normal((200, 3)), np.zeros((200, 2))]  # 5 dims, 3 of them used
    w = Whitening().fit(flat)
    assert w.components_.shape == (3, 5)
    assert np.allclose(np.cov(w.transform(flat), rowvar=False), np.eye(3), atol=1e-5)


def test_bad_numbers_of_directions_say_why(anisotropic):
    with pytest.raises(ValueError, match="every direction"):
        AllButTheTop(D).fit(anisotropic)
    with pytest.raises(ValueError, match="between 1 and 16"):
        Whitening(17).fit(anisotropic)
    with pytest.raises(ValueError, match="fitted on 16"):
        AllButTheTop(1).fit(anisotropic).transform(anisotropic[:, :8])


@pytest.mark.parametrize(("text", "spec"), [
    ("minilm:abtt=3", SpaceSpec("minilm", "abtt", 3)), ("minilm:whiten", SpaceSpec("minilm", "whiten")),
    ("minilm:whiten=64", SpaceSpec("minilm", "whiten", 64)),
    ("minilm(pooling=cls):abtt=1", SpaceSpec("minilm", "abtt", 1, (("pooling", "cls"),))),
    ("given-vectors:whiten", SpaceSpec("given-vectors", "whiten")),
    ("file:/data/whiten", SpaceSpec("file:/data/whiten")),  # a file named whiten stays a file
])
def test_isotropy_specs_round_trip(text, spec):
    assert SpaceSpec.parse(text) == spec and spec.label == text


@pytest.mark.parametrize(("text", "message"), [
    ("minilm:abtt=0", "abtt needs at least 1"), ("minilm:abtt=x", "whole number of directions to remove"),
    ("minilm:abtt", "abtt needs its number of directions to remove"), ("minilm:whiten=-2", "whiten needs at least 1"),
    ("minilm:whiten=y", "whole number of dimensions"),
])
def test_bad_isotropy_specs_say_why(text, message):
    with pytest.raises(ValueError, match=message):
        SpaceSpec.parse(text)


def test_a_derived_workspace_fits_on_the_base_and_transforms_queries_alike(fresh_home):
    ws = space_workspace("synthetic", "given-vectors:abtt=2", dataset_params=SYNTH)
    assert isinstance(ws, SpaceWorkspace) and ws.encoder_name == "given-vectors:abtt=2"
    plain = space_workspace("synthetic", "given-vectors", dataset_params=SYNTH)
    assert ws.embeddings_key != plain.embeddings_key
    assert ws.metric == "l2"  # vectors are renormalised for cosine only
    x = plain.embeddings()
    assert np.allclose(ws.embeddings(), AllButTheTop(2).fit(x).transform(x), atol=1e-6)
    ev = ws.eval_set(n_queries=40)
    base = plain.eval_set(n_queries=40)
    fit = AllButTheTop(2).fit(base.xb)  # held-out queries: fitted on the base alone
    assert np.allclose(ev.xb, fit.transform(base.xb), atol=1e-6)
    assert np.allclose(ev.xq, fit.transform(base.xq), atol=1e-6)
    assert "fitted on the base only" in ev.source
    with pytest.raises(ValueError, match="at most 23 directions"):
        space_workspace("synthetic", "given-vectors:abtt=24", dataset_params=SYNTH)


def test_the_sweep_runs_on_an_isotropy_space(fresh_home, capsys):
    args = ["sweep", "--dataset", "synthetic", *[f"--param={k}={v}" for k, v in SYNTH.items()],
            "--encoder", "given-vectors:whiten", "--methods", "flat,hnsw_flat", "--queries", "30"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "given-vectors:whiten" in out and "flat" in out
    (run,) = RunStore().list_runs(kind="sweep")
    assert run.encoder == "given-vectors:whiten"
    assert run.params["d"] == 6  # whitening kept the 6 directions the data uses
    assert main(["sweep", "--dataset", "synthetic", *[f"--param={k}={v}" for k, v in SYNTH.items()],
                 "--encoder", "given-vectors:abtt=0"]) == 2
    assert "abtt needs at least 1" in capsys.readouterr().err


def test_compare_spaces_shows_isotropy_rise_after_abtt(fresh_home):
    result = compare_spaces("synthetic", "given-vectors", "given-vectors:abtt=1", k=10, dataset_params=SYNTH)
    assert result.geometry_b.isotropy > result.geometry_a.isotropy
    assert result.geometry_b.mean_cosine < result.geometry_a.mean_cosine


SMALL = {"dataset": "stdlib-docs", "params": {"limit": 200, "seed": 0}, "encoder": "tfidf-svd", "encoder_options": {}}


def test_a_cosine_space_is_renormalised_and_its_queries_get_the_base_fit(fresh_home):
    ws = space_workspace("stdlib-docs", "tfidf-svd:abtt=2", dataset_params=SMALL["params"])
    plain = space_workspace("stdlib-docs", "tfidf-svd", dataset_params=SMALL["params"])
    assert ws.metric == "cosine"
    x, xq = plain.embeddings(), plain.query_embeddings()
    fit = AllButTheTop(2).fit(x)  # the dataset has its own queries: fitted on every base item, queries apart
    assert np.allclose(ws.embeddings(), unit_rows(fit.transform(x)), atol=1e-6)
    assert np.allclose(ws.query_embeddings(), unit_rows(fit.transform(xq)), atol=1e-6)
    assert np.allclose(np.linalg.norm(ws.query_embeddings(), axis=1), 1.0, atol=1e-5)
    ev = ws.eval_set()
    assert ev.source == "dataset queries" and np.array_equal(ev.xq, ws.query_embeddings())
    free = ws.encode_queries(["read a file"])
    assert np.allclose(free, unit_rows(fit.transform(plain.encode_queries(["read a file"]))), atol=1e-6)


def test_isotropy_before_after_measures_both_spaces_and_their_retrieval(fresh_home):
    from core.experiments.isotropy import isotropy_before_after

    table = isotropy_before_after("stdlib-docs", "tfidf-svd:abtt=3", dataset_params=SMALL["params"])
    assert list(table["when"]) == ["before", "after"] and list(table["space"]) == ["tfidf-svd", "tfidf-svd:abtt=3"]
    assert table["isotropy"].iloc[1] > table["isotropy"].iloc[0]
    assert table["ndcg_at_10"].between(0, 1).all() and table["mrr_at_10"].between(0, 1).all()
    with pytest.raises(ValueError, match="not an isotropy post-processing"):
        isotropy_before_after("stdlib-docs", "tfidf-svd:pca=8", dataset_params=SMALL["params"])


def test_compare_spaces_page_shows_isotropy_before_and_after(fresh_home):
    import streamlit as st
    from pagetest import open_view, page_text

    from core.workspace import Workspace

    st.cache_resource.clear()
    st.cache_data.clear()
    Workspace.open("stdlib-docs", "tfidf-svd", dataset_params=SMALL["params"]).embeddings()
    at = open_view("spaces.py", SMALL)
    at.selectbox(key="spaces_A_encoder").set_value("tfidf-svd")
    at.selectbox(key="spaces_B_encoder").set_value("tfidf-svd")
    at.selectbox(key="spaces_B_how").set_value("abtt").run()
    at.number_input(key="spaces_B_dims").set_value(3).run()
    assert not at.exception, [e.value for e in at.exception]
    text = page_text(at)
    assert "Isotropy before and after post-processing" in text
    assert "isotropy of tfidf-svd:abtt=3" in {m.label for m in at.metric}
    (table,) = [df.value for df in at.dataframe if "top PC variance" in df.value]
    assert list(table["space"]) == ["tfidf-svd", "tfidf-svd:abtt=3"] and "nDCG@10" in table
    assert table["isotropy"].iloc[1] > table["isotropy"].iloc[0]
