"""AppTest for the Compression page, and the pure figures it draws."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from pagetest import open_view, page_text
from streamlit.testing.v1 import AppTest

from core.index.metrics import pareto_frontier
from core.store.runs import RunStore
from figures.compression import recall_vs_memory_figure, recall_vs_qps_figure

ROOT = Path(__file__).resolve().parents[1]
PARAMS = {"n": 2000, "dim": 32, "intrinsic_dim": 8, "noise": 0.01, "n_clusters": 4, "seed": 0}
SPEC = {"dataset": "synthetic", "params": PARAMS, "encoder": "given-vectors", "encoder_options": {}}
CHEAP = ["flat", "sq", "pq", "binary"]


@pytest.fixture(autouse=True)
def fresh_caches(fresh_home):
    """Each test starts from an empty home: no workspace, artifact or run left by another test."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield fresh_home
    st.cache_resource.clear()


def open_page(spec: dict = SPEC) -> AppTest:
    return open_view("compression.py", spec)




def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def run_cheap(at: AppTest) -> AppTest:
    at.multiselect(key="sweep_methods").set_value(CHEAP)
    at.multiselect(key="sweep_quick_sq_qtype").set_value(["int8", "int4"])
    at.number_input(key="sweep_queries").set_value(50)
    at.run()
    ok(at)
    plan = "6 configurations (5 builds, 4 method families) on 1,950 base vectors of 32 dims, 50 queries"
    assert plan in page_text(at)
    at.button(key="sweep_run").click().run()
    return ok(at)


def test_page_runs_a_sweep_draws_both_charts_and_saves_the_run():
    at = open_page()
    text = page_text(at)
    assert "2,000 given vectors of 32 dims take 256 kB as float32" in text and "press **Run**" in text
    assert "31 configurations (25 builds, 8 method families) on 1,800 base vectors" in text  # plan, estimate
    assert not at.get("plotly_chart")
    run_cheap(at)
    charts = at.get("plotly_chart")
    assert len(charts) == 3  # memory, speed, per-query recall of one configuration
    (run,) = RunStore().list_runs(kind="sweep")
    rows = RunStore().rows(run.id)
    assert run.status == "done" and len(rows) == 6
    assert list(rows["method"]) == ["flat", "sq", "sq", "pq", "binary", "binary"]
    text = page_text(at)
    assert "Here 6 configurations ran (run #" in text and "The smallest configuration within 1 point" in text
    assert f"Run #{run.id}" in text
    (table,) = [df.value for df in at.dataframe if "pareto" in df.value]
    assert len(table) == 6 and table["pareto"].any()
    assert table.loc[table["configuration"] == "Flat (exact)", "recall_at_k"].item() == 1  # plain names (issue 21)
    # the budget question, answered in words from the rows
    # it opens on a budget that has an answer: the smallest configuration reaching recall 0.9
    ok_rows = rows[rows["status"] == "ok"]
    smallest = ok_rows[ok_rows["recall_at_k"] >= 0.9]["total_bytes_per_vector"].min()
    assert at.number_input(key="sweep_budget_bytes").value == pytest.approx(np.ceil(smallest * 10 - 1e-9) / 10)
    assert any(s.value.startswith("Under ") and "fit" in s.value for s in at.success), [w.value for w in at.warning]
    at.number_input(key="sweep_budget_bytes").set_value(40.0)
    at.slider(key="sweep_budget_recall").set_value(0.9)
    at.run()
    ok(at)
    answer = [s.value for s in at.success]
    assert answer and "configuration(s) fit; fastest:" in answer[0]
    assert "Scalar quantization · int8 numbers" in page_text(at)  # the configuration in plain words
    at.slider(key="sweep_budget_recall").set_value(1.0)
    at.number_input(key="sweep_budget_bytes").set_value(2.0)
    at.run()
    ok(at)
    assert "no configuration reaches recall@10 >= 1 within 2 B/vector" in page_text(at)
    # counting the index alone moves the re-ranking binary codes to 4 B/vector
    at.radio(key="sweep_bytes").set_value("the index alone").run()
    ok(at)
    assert len(at.get("plotly_chart")) == 3  # memory, speed, and the per-query drill-down
    # query by query: per-query recall averages to the row's recall@k exactly
    pq_label = next(label for label in at.selectbox(key="sweep_drill").options if label.startswith("pq"))
    at.selectbox(key="sweep_drill").set_value(pq_label).run()
    ok(at)
    (worst,) = [df.value for df in at.dataframe if "missed" in df.value]
    assert len(worst) == 10 and worst["recall"].is_monotonic_increasing
    assert worst["open"].str.startswith("/query?").all() and "methods=flat%2Cpq" in worst["open"].iloc[0]
    assert (worst["missed"].str.len() > 0).all()  # the worst queries missed some exact neighbours
    from core.experiments.compression import drilldown
    from core.workspace import Workspace

    row = RunStore().rows(run.id).set_index("label").loc[pq_label]
    ws = Workspace.open("synthetic", dataset_params=PARAMS)
    drill = drilldown(ws, RunStore().get_run(run.id), {**row.to_dict(), "label": pq_label})
    assert drill.recall.mean() == pytest.approx(row["recall_at_k"], abs=1e-12)
    assert drill.recall_ties.mean() == pytest.approx(row["recall_at_k_ties"], abs=1e-12)
    assert "find fewer than half of their exact top-10" in drill.sentence()
    # both recall definitions: the choice is stated
    at.radio(key="sweep_recall_def").set_value("by distance (ann-benchmarks)").run()
    ok(at)
    assert "Shown: recall by distance (ann-benchmarks)." in page_text(at)


def test_with_qrels_the_page_plots_task_quality_against_memory_and_prices_the_budget_answer():
    spec = {"dataset": "stdlib-docs", "params": {"limit": 300, "seed": 0}, "encoder": "tfidf-svd",
            "encoder_options": {}}
    at = open_page(spec)
    if any(b.key == "sweep_encode_now" for b in at.button):  # the page offers to encode first
        at.button(key="sweep_encode_now").click().run()
    ok(at)
    at.multiselect(key="sweep_methods").set_value(CHEAP)
    at.run()
    at.button(key="sweep_run").click().run()
    ok(at)
    text = page_text(at)
    assert "What compression costs the search task" in text
    assert "Not built: training the encoder itself" in text
    assert "points of nDCG@10 for" in text  # the frontier's costs against exact search
    charts = at.get("plotly_chart")
    assert len(charts) == 4
    at.radio(key="sweep_quality").set_value("MRR@10").run()
    ok(at)
    assert "points of MRR@10 for" in page_text(at)
    at.number_input(key="sweep_budget_bytes").set_value(1e5)
    at.slider(key="sweep_budget_recall").set_value(0.0)
    at.run()
    assert "Task quality: " in page_text(at)


def test_quality_figure_has_the_exact_reference_line_and_its_own_frontier():
    from figures.compression import quality_vs_memory_figure

    rows = pd.DataFrame([
        {"method": "flat", "family": "exact", "label": "flat", "status": "ok", "k": 10, "recall_at_k": 1.0,
         "ndcg_at_10": 0.44, "bytes_per_vector": 1536.0},
        {"method": "sq", "family": "scalar", "label": "int8", "status": "ok", "k": 10, "recall_at_k": 0.99,
         "ndcg_at_10": 0.43, "bytes_per_vector": 384.0},
        {"method": "binary", "family": "binary", "label": "bits", "status": "ok", "k": 10, "recall_at_k": 0.6,
         "ndcg_at_10": 0.39, "bytes_per_vector": 48.0},
    ])
    fig = quality_vs_memory_figure(rows)
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.title.text == "nDCG@10"
    assert [s.y0 for s in fig.layout.shapes] == [0.44]  # exact search as a reference line
    assert any("exact search 0.440" in a.text for a in fig.layout.annotations)
    (front,) = [t for t in fig.data if t.name == "Pareto frontier (nDCG@10)"]
    assert list(front.y)[:3] == [0.39, 0.43, 0.44]
    empty = quality_vs_memory_figure(rows.assign(ndcg_at_10=np.nan))
    assert "needs relevance judgments" in empty.layout.annotations[0].text


def test_a_new_visit_opens_on_the_latest_sweep_and_a_link_reopens_a_chosen_one():
    run_cheap(open_page())
    (first,) = RunStore().list_runs(kind="sweep")
    again = open_page()
    assert f"Run #{first.id}" in page_text(again) and len(again.get("plotly_chart")) == 3  # no click
    assert again.query_params["sweep_run"] in ([str(first.id)], str(first.id))
    assert len(RunStore().list_runs(kind="sweep")) == 1
    run_cheap(again)  # a newer run replaces the shown one
    second = RunStore().list_runs(kind="sweep")[0]
    assert second.id != first.id and f"Run #{second.id}" in page_text(again)
    # a copied link with the first run reopens it; a bad value is said and the latest shown
    link = AppTest.from_file(str(ROOT / "views" / "compression.py"), default_timeout=120)
    link.session_state["ws_spec"] = SPEC
    link.query_params["sweep_run"] = str(first.id)
    link.run()
    assert f"Run #{first.id}" in page_text(ok(link))
    for bad in ("abc", "999999", "-1"):
        link = AppTest.from_file(str(ROOT / "views" / "compression.py"), default_timeout=120)
        link.session_state["ws_spec"] = SPEC
        link.query_params["sweep_run"] = bad
        link.run()
        assert f"Run #{second.id}" in page_text(ok(link)) and "showing the latest instead" in page_text(link)


def test_bad_parameters_are_explained_and_block_the_run():
    at = open_page()
    at.multiselect(key="sweep_methods").set_value(["hnsw_flat"])
    at.run()
    # a typed value outside the range names the parameter and its range
    at.multiselect(key="sweep_quick_hnsw_flat_ef_search").set_value([16, "200000"]).run()
    ok(at)
    assert "hnsw_flat: ef_search must be an integer in [1, 100000], got 200000" in page_text(at)
    assert at.button(key="sweep_run").disabled
    at.multiselect(key="sweep_quick_hnsw_flat_ef_search").set_value([16, "100"]).run()
    ok(at)
    assert "2 configurations (1 build, 1 method family)" in page_text(at) and not at.button(key="sweep_run").disabled
    at.multiselect(key="sweep_quick_hnsw_flat_ef_search").set_value([]).run()
    ok(at)
    assert "hnsw_flat: ef_search needs at least one value (an integer in [1, 100000])" in page_text(at)
    assert at.button(key="sweep_run").disabled
    at.multiselect(key="sweep_methods").set_value([]).run()
    ok(at)
    assert "Pick at least one method." in page_text(at) and at.button(key="sweep_run").disabled


def test_thorough_shows_its_time_estimate_before_running():
    at = open_page()
    at.selectbox(key="sweep_preset").set_value("thorough").run()
    ok(at)
    text = page_text(at)
    assert "configurations (" in text and "a cost model" in text
    # every parameter of the full grid is on offer and picked
    assert at.multiselect(key="sweep_thorough_hnsw_flat_ef_search").value == [16, 32, 64, 128, 256, 512]


def test_a_workspace_without_embeddings_offers_to_encode():
    spec = {"dataset": "stdlib-docs", "params": {"limit": 200, "seed": 0}, "encoder": "tfidf-svd",
            "encoder_options": {}}
    at = open_page(spec)
    assert "is not encoded with **tfidf-svd** yet" in page_text(at)
    at.button(key="sweep_encode_now").click().run()
    ok(at)
    assert "200 TF-IDF+SVD vectors of" in page_text(at)


# ----------------------------------------------------------------------------- figures


def rows_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "method": ["flat", "sq", "pq", "binary", "hnsw_flat", "pq"],
        "family": ["exact", "scalar", "pq", "binary", "graph", "pq"],
        "label": ["flat", "sq int8", "pq m=8", "binary", "hnsw", "pq m=99"],
        "status": ["ok", "ok", "ok", "ok", "ok", "skipped"],
        "k": 10,
        "recall_at_k": [1.0, 0.97, 0.6, 0.3, 0.99, np.nan],
        "bytes_per_vector": [128.0, 32.0, 8.0, 4.0, 272.0, np.nan],
        "rerank_bytes_per_vector": [0.0, 0.0, 0.0, 128.0, 0.0, np.nan],
        "total_bytes_per_vector": [128.0, 32.0, 8.0, 132.0, 272.0, np.nan],
        "qps": [1e4, 2e4, 8e4, 2e5, 5e4, np.nan],
        "factory": ["Flat", "SQ8", "PQ8x8np", "BFlat", "HNSW16,Flat", "PQ99x8np"],
        "note": ["", "", "", "", "", ""],
    })


def test_memory_figure_log_axis_families_and_a_step_frontier():
    rows = rows_frame()
    fig = recall_vs_memory_figure(rows)
    assert fig.layout.xaxis.type == "log" and "recall@10" in fig.layout.yaxis.title.text
    points = [t for t in fig.data if "markers" in t.mode]
    assert sum(len(t.x) for t in points) == 5  # the skipped row is not drawn
    assert {t.name for t in points} == {"Flat (exact)", "Scalar quantization", "PQ", "Binary codes (sign bits)",
                                        "HNSW-Flat"}  # one line per method, named in plain words
    assert {t.legendgrouptitle.text for t in points} == {"Exact search", "Scalar quantization",
                                                         "Product quantization", "Binary codes", "Graph (HNSW)"}
    (front,) = [t for t in fig.data if t.name == "Pareto frontier"]
    assert front.line.shape == "hv"
    expected = rows[pareto_frontier(rows)].sort_values("bytes_per_vector")
    assert list(front.x[: len(expected)]) == list(expected["bytes_per_vector"])
    assert list(front.x) == [4.0, 8.0, 32.0, 128.0, 272.0]  # extended to the largest point
    hover = next(t for t in points if t.name == "PQ").hovertext[0]
    assert "pq m=8" in hover and "PQ8x8np" in hover and "recall@10: 0.600" in hover
    # counting re-rank vectors moves binary off the frontier
    total = recall_vs_memory_figure(rows, x="total_bytes_per_vector")
    (front,) = [t for t in total.data if t.name == "Pareto frontier"]
    assert list(front.x) == [8.0, 32.0, 128.0, 272.0]


def test_qps_figure_and_empty_rows():
    fig = recall_vs_qps_figure(rows_frame())
    assert fig.layout.yaxis.type == "log" and fig.layout.xaxis.title.text == "recall@10"
    (front,) = [t for t in fig.data if t.name == "Pareto frontier"]
    assert front.line.shape == "vh" and list(front.x) == [0.3, 0.6, 0.99, 1.0]
    empty = recall_vs_memory_figure(rows_frame().iloc[5:])
    assert not empty.data and "no finished configurations" in empty.layout.annotations[0].text


def test_take_it_home_exports_the_budget_answer_as_a_zip():
    import io
    import json
    import zipfile

    at = run_cheap(open_page())
    assert "The .zip holds the index (or its parts), ids.json" in page_text(at)
    picked = at.selectbox(key="sweep_export_pick").value
    at.button(key="sweep_export_go").click().run()
    ok(at)
    text = page_text(at)
    assert "Exported " in text and "recall@10 of this build" in text and "(the sweep row: the same)" in text
    from core.workspace import Workspace

    ws = Workspace.open(SPEC["dataset"], SPEC["encoder"], dataset_params=PARAMS)
    (run,) = RunStore().list_runs(kind="sweep")
    data, _, snippet = at.session_state[f"sweep_export_{ws.embeddings_key}_{run.id}_{picked}"]
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(data)).read(next(n for n in names if n.endswith("manifest.json"))))
    assert manifest["label"] == picked and "search.py" in manifest["files"]
    assert "def search(xq, k=10)" in snippet
    assert any("def search" in c.value for c in at.code)
