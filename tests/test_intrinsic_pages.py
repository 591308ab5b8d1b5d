"""AppTest for the Intrinsic dimension and HNSW insertion order pages, and their CLI commands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from pagetest import open_view, page_text
from streamlit.testing.v1 import AppTest

from core.cli.main import main
from core.store.runs import RunStore

ROOT = Path(__file__).resolve().parents[1]
PARAMS = {"n": 600, "dim": 32, "intrinsic_dim": 4, "noise": 0.0, "n_clusters": 3, "seed": 0}
SPEC = {"dataset": "synthetic", "params": PARAMS, "encoder": "given-vectors", "encoder_options": {}}
CLI_DATA = ["--dataset", "synthetic", *[a for key, v in PARAMS.items() for a in ("--param", f"{key}={v}")]]


@pytest.fixture(autouse=True)
def fresh_caches(fresh_home):
    """Each test starts from an empty home: no workspace, artifact or run left by another test."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield fresh_home
    st.cache_resource.clear()


def open_page(name: str, spec: dict = SPEC) -> AppTest:
    return open_view(name, spec)




def click(at: AppTest, key: str) -> AppTest:
    at.button(key=key).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# ---------------------------------------------------------------- intrinsic dimension


def test_intrinsic_page_estimates_saves_a_run_and_reopens_instantly():
    at = open_page("intrinsic.py")
    assert "press **Estimate**" in page_text(at) and not at.get("plotly_chart")
    assert at.slider(key="id_k").value == 100
    click(at, "id_estimate")
    text = page_text(at)
    assert "These given vectors have **32** dimensions; these **600** vectors use about" in text
    assert "**4** principal components hold 99.0% of the variance" in text  # the true dimension
    assert "Saved as run #" in text and "highest median LID" in text
    assert len(at.get("plotly_chart")) == 4  # estimates, PCA curve, LID histogram, LID by category
    (run,) = RunStore().list_runs(kind="id")
    rows = RunStore().rows(run.id)
    assert run.status == "done" and list(rows["estimator"]) == [
        "LocalMLE (mean LID)", "Levina–Bickel", "TwoNN", "PCA-ID"]
    # the threshold slider re-reads the cached spectrum
    at.slider(key="id_pca_threshold").set_value(0.8).run()
    assert not at.exception and "hold 80.0% of the variance" in page_text(at)
    # a new visit loads the artifact without a click and without saving another run
    again = open_page("intrinsic.py")
    assert "loaded from the cache" in page_text(again) and len(again.get("plotly_chart")) == 4
    assert len(RunStore().list_runs(kind="id")) == 1


def test_intrinsic_page_calibration_panel():
    at = open_page("intrinsic.py")
    at.selectbox(key="id_cal_n").set_value(1000)
    at.selectbox(key="id_cal_dim").set_value(256)
    click(at, "id_calibrate")
    assert len(at.get("plotly_chart")) == 1
    assert "at true dimension **32**" in page_text(at)
    table = at.dataframe[0].value
    assert list(table["true_dim"]) == [4, 8, 16, 32] and list(table["pca"]) == [4, 8, 16, 32]


def test_intrinsic_page_one_category_and_no_category():
    one = open_page("intrinsic.py", {**SPEC, "params": {**PARAMS, "n_clusters": 1}})
    click(one, "id_estimate")
    assert "one category (**cluster-0**)" in page_text(one).replace("\\", "")
    none = open_page("intrinsic.py", {**SPEC, "params": {**PARAMS, "n_clusters": 0}})
    click(none, "id_estimate")
    assert "has no categories" in page_text(none) and len(none.get("plotly_chart")) == 3


def test_intrinsic_page_caps_k_below_n():
    at = open_page("intrinsic.py", {**SPEC, "params": {**PARAMS, "n": 40}})
    assert at.slider(key="id_k").max == 39 and at.slider(key="id_k").value == 39
    click(at, "id_estimate")
    assert "each item's 39 nearest neighbours" in page_text(at)


# ------------------------------------------------------------------- insertion order


def test_order_page_runs_shows_charts_and_saves_a_run():
    at = open_page("order.py")
    text = page_text(at)
    assert "Each of the **540** base vectors of **synthetic**" in text and "builds dominate" in text
    assert "category" in at.multiselect(key="order_orders").options
    at.multiselect(key="order_orders").set_value(["original", "random", "lid-desc", "lid-asc", "category"])
    at.number_input(key="order_seeds").set_value(2)
    at.text_input(key="order_efs").input("5,10,40")
    at.number_input(key="order_queries").set_value(50)
    at.run()
    assert "efSearch 5 is below k = 10" in page_text(at)
    click(at, "order_run")
    text = page_text(at)
    assert "the best insertion order beats the worst by" in text
    assert "faiss keeps only 5 candidates" in text  # efSearch < k explained
    charts = at.get("plotly_chart")
    assert len(charts) == 3  # recall vs efSearch, recall vs LID, one order query by query
    (run,) = RunStore().list_runs(kind="order")
    # query by query: the chosen order's per-query recall (mean over seeds) averages to its row means
    (worst,) = [df.value for df in at.dataframe if "lid" in df.value and "open" in df.value]
    assert len(worst) == 10 and worst["recall"].is_monotonic_increasing and worst["lid"].notna().all()
    from core.experiments.insertion_order import order_drilldown
    from core.workspace import Workspace

    saved = RunStore().rows(run.id)
    order, backend, ef = at.selectbox(key="order_drill_order").value, at.selectbox(key="order_lid_backend").value, \
        int(at.selectbox(key="order_lid_ef").value)
    ws = Workspace.open("synthetic", dataset_params=PARAMS)
    drill = order_drilldown(ws, RunStore().get_run(run.id), saved, backend, order, ef)
    sel = saved[(saved["backend"] == backend) & (saved["order"] == order) & (saved["ef_search"] == ef)]
    assert drill.recall.mean() == pytest.approx(sel["recall_at_k"].mean(), abs=1e-12)
    rows = RunStore().rows(run.id)
    assert run.status == "done" and len(rows) == 2 * (1 + 2 + 1 + 1 + 2) * 3
    assert set(rows["order"]) == {"original", "random", "lid-desc", "lid-asc", "category"}
    # diagnostics of one build
    click(at, "order_diagnose")
    assert len(at.get("plotly_chart")) == 4 and at.metric[0].label == "Never returned"
    assert "nodes have no in-link at level 0" in page_text(at)
    # a new visit opens on the saved run, with no click and nothing recomputed; the URL names it
    again = open_page("order.py")
    assert f"Run #{run.id}" in page_text(again) and len(again.get("plotly_chart")) == 3
    assert again.query_params["order_run"] in ([str(run.id)], str(run.id))
    assert len(RunStore().list_runs(kind="order")) == 1


def test_order_page_bad_input_is_explained_and_blocks_the_run():
    at = open_page("order.py", {**SPEC, "params": {**PARAMS, "n_clusters": 0}})
    assert "category" not in at.multiselect(key="order_orders").options  # no labels
    at.text_input(key="order_efs").input("10,x").run()
    assert not at.exception
    assert "efSearch must be whole numbers" in page_text(at) and at.button(key="order_run").disabled
    at.text_input(key="order_efs").input("10").run()
    at.multiselect(key="order_orders").set_value([]).run()
    assert "Pick at least one insertion order" in page_text(at) and at.button(key="order_run").disabled


def test_order_page_one_category_says_so():
    at = open_page("order.py", {**SPEC, "params": {**PARAMS, "n_clusters": 1}})
    at.multiselect(key="order_orders").set_value(["original", "category"])
    at.number_input(key="order_seeds").set_value(1)
    at.multiselect(key="order_backends").set_value(["hnswlib"])
    at.text_input(key="order_efs").input("10")
    at.run()
    assert "one category only" in page_text(at)
    click(at, "order_run")
    assert "one category only: the category order is the original order" in page_text(at)


# ----------------------------------------------------------------------------- CLI


def test_cli_id_writes_rows_and_saves_a_run(tmp_path, capsys):
    out = tmp_path / "id.csv"
    assert main(["id", *CLI_DATA, "--k", "50", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "600 items in 32 dimensions" in printed and "PCA-ID" in printed
    rows = pd.read_csv(out)
    assert len(rows) == 4 and rows.loc[rows["estimator"] == "PCA-ID", "dimension"].item() == 4
    (run,) = RunStore().list_runs(kind="id")
    assert run.params["k"] == 50 and run.n_rows == 4


def test_cli_order_writes_rows_saves_a_run_and_reuses_builds(tmp_path, capsys):
    out = tmp_path / "order.json"
    args = ["order", *CLI_DATA, "--backend", "faiss", "--orders", "original,lid-desc,category", "--seeds", "2",
            "--efs", "10,40", "--queries", "50", "--lid-k", "50"]
    assert main([*args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "550 base vectors, 50 queries" in printed and "4 builds" in printed
    rows = pd.read_json(out)
    assert len(rows) == 8 and set(rows["backend"]) == {"faiss"}
    assert main(args) == 0
    assert "(4 reused from cache)" in capsys.readouterr().out
    assert [r.n_rows for r in RunStore().list_runs(kind="order")] == [8, 8]


def test_cli_order_custom_order_file(tmp_path, capsys):
    good = tmp_path / "order.csv"
    good.write_text("row\n" + "\n".join(map(str, np.arange(600)[::-1])) + "\n")
    assert main(["order", *CLI_DATA, "--backend", "hnswlib", "--orders", "original", "--custom-order", str(good),
                 "--efs", "10", "--queries", "50", "--lid-k", "20"]) == 0
    assert "custom" in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(["0", "0", *map(str, range(2, 600))]) + "\n")
    assert main(["order", *CLI_DATA, "--custom-order", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "repeats 1 ids" in err[0] and "misses 1" in err[0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["id", *CLI_DATA, "--k", "10000"], "k=10000 neighbours needs at least 10001 items"),
        (["id", *CLI_DATA, "--pca-threshold", "1.5"], "--pca-threshold must be in (0, 1]"),
        (["order", *CLI_DATA, "--efs", "10,x"], "--efs must be comma-separated integers"),
        (["order", *CLI_DATA, "--orders", "sideways"], "orders must be among"),
        (["order", *CLI_DATA, "--lid-k", "600"], "LID k=600"),
        (["order", "--dataset", "synthetic", "--param", "n=300", "--orders", "category"], "has no categories"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]


def test_order_page_recall_against_intrinsic_dimension_runs_saves_and_reopens():
    at = open_page("order.py")
    assert "Recall against intrinsic dimension" in page_text(at) and "No saved study yet" in page_text(at)
    at.text_input(key="vsid_ks").input("2,16").run()
    at.number_input(key="vsid_n").set_value(400)
    at.number_input(key="vsid_dim").set_value(32)
    click(at, "vsid_run")
    (run,) = RunStore().list_runs(kind="order-vs-id")
    rows = RunStore().rows(run.id)
    assert run.status == "done" and len(rows) == 2 * 2 * 2  # dims x backends x efSearch
    table = next(df.value for df in at.dataframe if "nominal ID" in df.value.columns)
    assert list(table["nominal ID"]) == [2, 16] and list(table["PCA-99% ID"]) == [2, 16]
    assert "recall@10 goes from" in page_text(at)
    again = open_page("order.py")  # opens on the saved study, no click
    assert f"Run #{run.id}" in page_text(again) and "No saved study yet" not in page_text(again)


def test_cli_order_vs_id_prints_the_table_and_saves_a_run(capsys):
    assert main(["order", "--vs-id", "--ks", "2,8", "--n", "300", "--dim", "16", "--queries", "50",
                 "--backend", "faiss", "--efs", "10,40"]) == 0
    out = capsys.readouterr().out
    assert "nominal ID" in out and "PCA-99% ID" in out and "recall@10 faiss ef=10" in out
    (run,) = RunStore().list_runs(kind="order-vs-id")
    assert run.n_rows == 4
