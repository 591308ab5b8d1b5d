"""Per-query recall of an insertion-order run as a colour of the Embedding map."""

from __future__ import annotations

import numpy as np
import pytest
import streamlit as st
from pagetest import open_view, page_text

from core.experiments.insertion_order import (
    OrderStudyParams,
    order_run_params,
    order_study_for_workspace,
    prepare_order_study,
)
from core.experiments.map_recall import (
    NO_RUN_MESSAGE,
    RECALL_COLOUR,
    item_recall,
    latest_recall_run,
    recall_colour,
    recall_configurations,
)
from core.store.runs import RunStore
from core.workspace import Workspace

PARAMS = {"n": 400, "dim": 16, "intrinsic_dim": 4, "noise": 0.0, "n_clusters": 3, "seed": 0}
SPEC = {"dataset": "synthetic", "params": PARAMS, "encoder": "given-vectors", "encoder_options": {}}
STUDY = OrderStudyParams(backends=("hnswlib",), orders=("original", "random"), seeds=(0, 1),
                         ef_search=(5, 20), n_queries=40, lid_k=20, M=8, ef_construction=32)


# ------------------------------------------------------------------ pure mapping


def test_held_out_rows_get_their_own_recall_others_nan():
    out = recall_colour(6, np.array([4, 1]), [0.5, 1.0])
    assert out.shape == (6,)
    assert out[4] == 0.5 and out[1] == 1.0
    assert np.isnan(out[[0, 2, 3, 5]]).all()


def test_relevant_rows_get_the_mean_recall_of_their_queries():
    relevant = [np.array([0, 2]), np.array([2]), np.array([], dtype=np.int64), np.array([5, 5])]
    out = recall_colour(6, relevant, [0.2, 0.6, 0.9, 1.0])
    assert out[0] == pytest.approx(0.2)
    assert out[2] == pytest.approx(0.4)  # mean of 0.2 and 0.6
    assert out[5] == pytest.approx(1.0)  # a repeated row counts once per query
    assert np.isnan(out[[1, 3, 4]]).all()


def test_relevant_rows_as_plain_lists_and_bad_input():
    out = recall_colour(3, [[1], [1, 2]], np.array([0.0, 1.0]))
    assert out[1] == pytest.approx(0.5) and out[2] == 1.0 and np.isnan(out[0])
    with pytest.raises(ValueError, match="recall values"):
        recall_colour(3, np.array([0, 1]), [0.5])
    with pytest.raises(ValueError, match=r"0\.\.2"):
        recall_colour(3, np.array([0, 3]), [0.5, 0.5])


# ------------------------------------------------------------------ workspace and page


def run_study(ws) -> int:
    inputs = prepare_order_study(ws, STUDY)
    with RunStore().recording("order", ws.dataset.name, ws.encoder_name, order_run_params(ws, STUDY, inputs)) as rec:
        for _ in order_study_for_workspace(ws, STUDY, recorder=rec, inputs=inputs):
            pass
    return rec.run_id


@pytest.fixture
def home(fresh_home):
    st.cache_resource.clear()
    st.cache_data.clear()
    yield fresh_home
    st.cache_resource.clear()


def test_item_recall_of_held_out_queries(home):
    ws = Workspace.open("synthetic", dataset_params=PARAMS)
    assert latest_recall_run(ws) is None
    run_id = run_study(ws)
    run = latest_recall_run(ws)
    assert run is not None and run.run.id == run_id
    configs = recall_configurations(run)
    assert set(configs) == {(b, o, e) for b in ("hnswlib",) for o in ("original", "random") for e in (5, 20)}
    rec = item_recall(ws, run, "hnswlib", "random", 20)
    ev = ws.eval_set(STUDY.n_queries, STUDY.query_seed)
    assert rec.mapping == "held-out" and rec.n_queries == 40 and rec.n_seeds == 2 and rec.k == STUDY.k
    ok = np.isfinite(rec.values)
    assert ok.sum() == 40 and set(np.flatnonzero(ok)) == set(ev.query_rows.tolist())
    assert ((rec.values[ok] >= 0) & (rec.values[ok] <= 1)).all()


def test_map_page_without_a_run_says_to_run_the_study(home):
    at = open_view("map.py", SPEC)
    assert RECALL_COLOUR in at.selectbox(key="map_colour").options
    at.selectbox(key="map_colour").set_value(RECALL_COLOUR).run()
    assert not at.exception, [e.value for e in at.exception]
    assert NO_RUN_MESSAGE in page_text(at)
    assert len(at.get("plotly_chart")) == 1


def test_map_page_colours_by_per_query_recall(home):
    ws = Workspace.open("synthetic", dataset_params=PARAMS)
    run_id = run_study(ws)
    at = open_view("map.py", SPEC)
    at.selectbox(key="map_colour").set_value(RECALL_COLOUR).run()
    assert not at.exception, [e.value for e in at.exception]
    pick = at.selectbox(key="map_recall_config")
    assert len(pick.options) == 4
    pick.set_value(("hnswlib", "random", 5)).run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("plotly_chart")) == 1
    text = page_text(at)
    assert f"order run #{run_id}: hnswlib, order random, efSearch 5" in text
    assert "40 of 400 points carry a value" in text
    assert NO_RUN_MESSAGE not in text


def test_item_recall_of_dataset_queries_colours_relevant_passages(monkeypatch):
    """stdlib-docs-like: each query has relevant passages (qrels); seeds are averaged."""
    from types import SimpleNamespace

    import pandas as pd

    import core.experiments.map_recall as mr
    from core.experiments.insertion_order import OrderRun
    from core.workspace import EvalSet

    ev = EvalSet(np.zeros((5, 2), np.float32), np.zeros((3, 2), np.float32), np.arange(5), ["q0", "q1", "q2"],
                 [np.array([1]), np.array([3]), np.array([3])], "dataset queries")
    ws = SimpleNamespace(dataset=SimpleNamespace(n=5, name="docs"), eval_set=lambda *a, **k: ev)
    rows = pd.DataFrame({"backend": ["faiss"] * 2, "order": ["random"] * 2, "seed": [0, 1],
                         "ef_search": [10, 10], "study": ["s", "s"]})
    run = OrderRun(SimpleNamespace(id=7, params={"n_queries": None, "query_seed": 0, "k": 10}), rows)
    per_seed = {0: np.array([1.0, 0.0, 0.5]), 1: np.array([0.0, 0.0, 0.5])}
    monkeypatch.setattr(mr, "per_query_recall", lambda ws, r: per_seed[int(r["seed"])])
    rec = item_recall(ws, run, "faiss", "random", 10)
    assert rec.mapping == "relevant" and rec.n_seeds == 2 and rec.n_queries == 3
    assert rec.values[1] == pytest.approx(0.5)  # q0: mean over seeds of 1.0 and 0.0
    assert rec.values[3] == pytest.approx(0.25)  # q1 (0.0) and q2 (0.5) share passage 3
    assert np.isnan(rec.values[[0, 2, 4]]).all()
    with pytest.raises(ValueError, match="no rows"):
        item_recall(ws, run, "faiss", "random", 99)
