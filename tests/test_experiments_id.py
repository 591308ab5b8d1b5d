"""Workspace glue of the intrinsic-dimension and insertion-order experiments, and their figures."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from core.analysis.intrinsic import PCAID, LocalMLE
from core.experiments.insertion_order import (
    OrderStudyParams,
    check_order_inputs,
    custom_to_base,
    estimate_build_seconds,
    estimate_study_seconds,
    eval_sizes,
    gap_sentence,
    hub_table,
    latest_order_run,
    load_custom_order,
    load_order_run,
    order_diagnostics,
    order_gaps,
    order_run_params,
    order_study_for_workspace,
    per_query_recall,
    prepare_order_study,
    read_order_column,
    recall_vs_lid_table,
    summarize_order_rows,
)
from core.experiments.intrinsic import (
    category_lid_summary,
    estimate_id,
    lid_by_category,
    lid_for_workspace,
    lid_is_cached,
    pca_id_at,
)
from core.index.exact import knn_graph, to_distances
from core.store.artifacts import ArtifactCache
from core.store.runs import RunStore
from core.workspace import Workspace
from figures.intrinsic import calibration_figure, estimates_bar, lid_by_category_box, lid_histogram
from figures.order import in_degree_figure, recall_vs_ef_figure, recall_vs_lid_figure

SYNTH = {"n": 600, "dim": 32, "intrinsic_dim": 4, "noise": 0.0, "n_clusters": 3, "seed": 0}
SMALL = OrderStudyParams(backends=("faiss", "hnswlib"), orders=("original", "random", "lid-desc"), seeds=(0, 1),
                         ef_search=(5, 10, 40), n_queries=50, lid_k=50)


@pytest.fixture
def ws(tmp_path):
    return Workspace.open("synthetic", dataset_params=SYNTH, cache=ArtifactCache(tmp_path / "artifacts"))


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs.sqlite")


# ----------------------------------------------------------------------- LID


def test_lid_is_computed_once_then_loaded_from_the_artifact(ws):
    assert not lid_is_cached(ws, 50)
    first = lid_for_workspace(ws, 50)
    assert not first.cached and lid_is_cached(ws, 50)
    second = lid_for_workspace(ws, 50)
    assert second.cached
    np.testing.assert_array_equal(first.lid, second.lid)
    np.testing.assert_array_equal(first.neighbours_used, second.neighbours_used)
    # the same numbers as the estimator on the workspace's exact kNN graph
    D, _ = knn_graph(ws.embeddings(), 50, ws.metric)
    expected = LocalMLE(k=50).fit(knn_distances=to_distances(D, ws.metric)).dimension_pw_
    np.testing.assert_allclose(first.lid, expected, rtol=1e-6)
    assert ws.cache.list("lid") and ws.cache.list("knn")


def test_lid_k_not_below_n_is_a_clear_error(ws):
    with pytest.raises(ValueError, match=r"k=600 neighbours needs at least 601 items.*choose k <= 599"):
        lid_for_workspace(ws, 600)
    with pytest.raises(ValueError, match="at least 2 neighbours"):
        lid_for_workspace(ws, 1)


def test_estimate_id_rows_and_pca_reads_the_true_dimension(ws, store):
    with store.recording("id", ws.dataset.name, ws.encoder_name, {"k": 50}) as rec:
        res = estimate_id(ws, 50, recorder=rec)
    est = res.estimates.set_index("estimator")["dimension"]
    assert list(est.index) == ["LocalMLE (mean LID)", "Levina–Bickel", "TwoNN", "PCA-ID"]
    assert est["PCA-ID"] == 4  # noise-free points on a 4-dimensional subspace
    assert 2.5 < est["LocalMLE (mean LID)"] < 5 and 2.5 < est["TwoNN"] < 6
    rows = store.rows(rec.run_id)
    assert len(rows) == 4 and set(rows["n"]) == {600} and set(rows["ambient_dim"]) == {32}
    assert store.get_run(rec.run_id).status == "done"
    assert ws.cache.list("id-global") and ws.cache.list("pca-spectrum")  # a revisit loads, not recomputes
    pd.testing.assert_frame_equal(estimate_id(ws, 50).estimates, res.estimates)


def test_duplicates_are_counted(tmp_path):
    from core.data.dataset import Dataset

    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 8)).astype(np.float32)
    x[100:110] = x[0]  # 11 copies of one point
    ds = Dataset("dups", [f"i{j}" for j in range(200)], vectors=x, metric="l2")
    w = Workspace(ds, cache=ArtifactCache(tmp_path))
    lid = lid_for_workspace(w, 10)
    copies = [0, *range(100, 110)]
    assert np.isnan(lid.lid[copies]).all()  # their 10 nearest neighbours are all copies
    # points whose 10 neighbours are the copies (all tied) have no estimate either
    assert lid.n_degenerate == int(np.isnan(lid.lid).sum()) >= 11
    assert lid.n_with_duplicates >= 11 and (lid.neighbours_used[copies] == 0).all()


@pytest.mark.parametrize("threshold", [0.5, 0.9, 0.99, 1.0])
def test_pca_id_at_matches_the_estimator(ws, threshold):
    x = ws.embeddings()
    ratio = PCAID().fit(x).explained_variance_ratio_
    assert pca_id_at(ratio, threshold) == PCAID(threshold).fit(x).dimension_


def test_lid_by_category_keeps_the_largest_and_orders_by_median():
    lid = np.array([1.0, 2.0, 3.0, 10.0, 11.0, np.nan, 5.0])
    labels = ["a", "a", "a", "b", "b", "b", "c"]
    frame = lid_by_category(lid, labels, top=2)
    assert list(frame["category"].cat.categories) == ["b", "a"]
    assert len(frame) == 5  # c left out (smallest), NaN dropped
    summary = category_lid_summary(frame)
    assert list(summary["category"]) == ["b", "a"]
    assert list(summary["median"]) == [10.5, 2.0]
    assert lid_by_category(lid, None).empty


# ---------------------------------------------------------------- order study


def test_order_study_rows_artifacts_and_reuse(ws, store):
    inputs = prepare_order_study(ws, SMALL)
    with store.recording("order", ws.dataset.name, ws.encoder_name, order_run_params(ws, SMALL, inputs)) as rec:
        rows = list(order_study_for_workspace(ws, SMALL, recorder=rec, inputs=inputs))
    n_builds = 2 * (1 + 2 + 1)
    assert len(rows) == n_builds * 3 and not any(r["reused"] for r in rows)
    assert {r["n_base"] for r in rows} == {550} and {r["n_queries"] for r in rows} == {50}
    assert len(ws.cache.list("per-query-recall")) == len(rows)
    # recall is measured against the cached exact kNN: per-query recall averages to the row
    run = load_order_run(rec.run_id, store)
    assert len(run.rows) == len(rows) and run.study_key == inputs.study_key
    for _, row in run.rows.iterrows():
        pq = per_query_recall(ws, row)
        assert pq.shape == (50,)
        assert pq.mean() == pytest.approx(row["recall_at_k"])
    # the same study again builds nothing and gives the same rows
    again = list(order_study_for_workspace(ws, SMALL))
    assert all(r["reused"] for r in again)
    assert [r["recall_at_k"] for r in again] == [r["recall_at_k"] for r in rows]
    assert latest_order_run(ws, store).id == rec.run_id


def test_order_run_params_identify_the_workspace(ws):
    inputs = prepare_order_study(ws, SMALL)
    params = order_run_params(ws, SMALL, inputs)
    assert params["embeddings_key"] == ws.embeddings_key
    assert params["ef_search"] == [5, 10, 40] and params["n_base"] == 550
    assert OrderStudyParams.from_dict(params) == SMALL


def test_recall_vs_lid_table_from_the_artifacts(ws):
    rows = pd.DataFrame(order_study_for_workspace(ws, SMALL))
    table = recall_vs_lid_table(ws, rows, "faiss", 5)
    assert set(table["order"]) == {"original", "random", "lid-desc"}
    assert table.groupby("order")["n_queries"].sum().eq(50).all()
    assert table["recall_mean"].between(0, 1).all()


def test_custom_order_maps_dataset_rows_to_base_positions(ws):
    base_rows = np.array([0, 2, 3, 5])  # rows 1 and 4 held out
    np.testing.assert_array_equal(custom_to_base([5, 4, 3, 2, 1, 0], 6, base_rows), [3, 2, 1, 0])
    with pytest.raises(ValueError, match="repeats 1 ids"):
        custom_to_base([0, 0, 1, 2, 3, 4], 6, base_rows)
    params = OrderStudyParams(orders=("custom",), backends=("faiss",), ef_search=(10,), n_queries=50, lid_k=20)
    order = np.arange(600)[::-1]
    rows = list(order_study_for_workspace(ws, params, custom_order=order))
    assert [r["order"] for r in rows] == ["custom"]
    sha = order_run_params(ws, params, prepare_order_study(ws, params, custom_order=order))["custom_order_sha"]
    np.testing.assert_array_equal(load_custom_order(ws, sha), order)


def test_bad_order_inputs_are_clear(ws):
    with pytest.raises(ValueError, match="has 599 entries but the base has 600"):
        check_order_inputs(ws, OrderStudyParams(orders=("custom",)), np.arange(599))
    with pytest.raises(ValueError, match="needs a column of row ids"):
        check_order_inputs(ws, OrderStudyParams(orders=("custom",)))
    with pytest.raises(ValueError, match="LID k=600"):
        check_order_inputs(ws, OrderStudyParams(lid_k=600))
    with pytest.raises(ValueError, match="orders must be among"):
        OrderStudyParams(orders=("sideways",))
    with pytest.raises(ValueError, match="efSearch must be"):
        OrderStudyParams(ef_search=(0,))
    plain = Workspace.open("synthetic", dataset_params={**SYNTH, "n_clusters": 0}, cache=ws.cache)
    with pytest.raises(ValueError, match="no categories"):
        check_order_inputs(plain, OrderStudyParams(orders=("category",)))


def test_one_category_row_says_so(ws):
    one = Workspace.open("synthetic", dataset_params={**SYNTH, "n_clusters": 1}, cache=ws.cache)
    params = OrderStudyParams(orders=("category",), backends=("hnswlib",), seeds=(0,), ef_search=(10,),
                              n_queries=50, lid_k=20)
    (row,) = order_study_for_workspace(one, params)
    assert "one category only" in row["note"]


def test_read_order_column_formats(tmp_path):
    np.testing.assert_array_equal(read_order_column(b"row\n2\n0\n1\n"), [2, 0, 1])
    np.testing.assert_array_equal(read_order_column(b"2\n0\n1\n"), [2, 0, 1])
    buf = io.BytesIO()
    np.save(buf, np.array([1, 0]))
    np.testing.assert_array_equal(read_order_column(buf.getvalue()), [1, 0])
    path = tmp_path / "order.csv"
    path.write_text("0\n1\n")
    np.testing.assert_array_equal(read_order_column(str(path)), [0, 1])
    with pytest.raises(ValueError, match="2 columns"):
        read_order_column(b"0,1\n1,0\n")
    with pytest.raises(ValueError, match="integer row ids"):
        read_order_column(b"a\nb\nc\n")


def test_eval_sizes_match_the_eval_set(ws):
    for nq in (None, 50):
        n_base, n_q, _ = eval_sizes(ws, nq)
        ev = ws.eval_set(nq, 0)
        assert (n_base, n_q) == (ev.xb.shape[0], ev.xq.shape[0])


def test_diagnostics_are_cached(ws):
    first = order_diagnostics(ws, SMALL, "faiss", "lid-desc", None, 10)
    assert not first.cached and first.in_degree.shape == (550,)
    assert first.in_degree.sum() > 0 and first.never_returned.dtype == np.int64
    again = order_diagnostics(ws, SMALL, "faiss", "lid-desc", None, 10)
    assert again.cached
    np.testing.assert_array_equal(first.in_degree, again.in_degree)
    hubs = hub_table(ws, first, prepare_order_study(ws, SMALL).base_rows, top=3)
    assert list(hubs.columns) == ["id", "in_degree", "category"] and hubs["in_degree"].is_monotonic_decreasing
    lib = order_diagnostics(ws, SMALL, "hnswlib", "random", 1, 10)
    assert lib.in_degree is None and lib.n_base == 550


def test_time_estimate_scales_with_n_and_counts_builds():
    assert estimate_build_seconds(0.1, 1000, 1000) == pytest.approx(0.1)
    fifty_k = estimate_build_seconds(0.11, 1000, 50_000)
    assert 15 < fifty_k < 40  # the ~20 s measured for a faiss build of 50k GloVe vectors
    params = OrderStudyParams(backends=("faiss", "hnswlib"), orders=("original", "random"), seeds=(0, 1, 2))
    assert estimate_study_seconds(params, {"faiss": 2.0, "hnswlib": 1.0}) == pytest.approx(4 * 2.0 + 4 * 1.0)


# ------------------------------------------------------------ summaries by hand

HAND_ROWS = pd.DataFrame([
    {"backend": "faiss", "order": "original", "seed": None, "ef_search": 10, "recall_at_k": 0.80},
    {"backend": "faiss", "order": "original", "seed": None, "ef_search": 40, "recall_at_k": 0.95},
    {"backend": "faiss", "order": "random", "seed": 0, "ef_search": 10, "recall_at_k": 0.70},
    {"backend": "faiss", "order": "random", "seed": 1, "ef_search": 10, "recall_at_k": 0.74},
    {"backend": "faiss", "order": "random", "seed": 0, "ef_search": 40, "recall_at_k": 0.95},
    {"backend": "faiss", "order": "random", "seed": 1, "ef_search": 40, "recall_at_k": 0.95},
    {"backend": "hnswlib", "order": "original", "seed": None, "ef_search": 5, "recall_at_k": 0.60},
    {"backend": "hnswlib", "order": "random", "seed": 0, "ef_search": 5, "recall_at_k": 0.66},
])


def test_summary_and_gaps_by_hand():
    summary = summarize_order_rows(HAND_ROWS)
    rnd = summary[(summary["backend"] == "faiss") & (summary["order"] == "random") & (summary["ef_search"] == 10)]
    assert rnd[["mean", "min", "max", "n_builds"]].iloc[0].tolist() == pytest.approx([0.72, 0.70, 0.74, 2])
    gaps = order_gaps(HAND_ROWS).set_index(["backend", "ef_search"])
    assert gaps.loc[("faiss", 10), "best_order"] == "original"
    assert gaps.loc[("faiss", 10), "gap_points"] == pytest.approx(8.0)
    assert gaps.loc[("faiss", 40), "gap_points"] == pytest.approx(0.0)
    assert gaps.loc[("hnswlib", 5), "best_order"] == "random"
    text = gap_sentence(order_gaps(HAND_ROWS), "faiss")
    assert "8.0 points at efSearch 10 (original 80.0% vs random 72.0%)" in text
    assert "All orders tie (within 0.05 points) at efSearch 40" in text
    assert order_gaps(HAND_ROWS[HAND_ROWS["order"] == "original"]).empty  # one order: no gap


# ------------------------------------------------------------------- figures


def test_recall_vs_ef_figure_panels_lines_and_bands():
    fig = recall_vs_ef_figure(summarize_order_rows(HAND_ROWS), k=10)
    names = [(t.name, t.xaxis) for t in fig.data]
    assert ("original", "x") in names and ("random", "x") in names and ("original", "x2") in names
    bands = [t for t in fig.data if t.fill == "toself"]
    assert [b.name for b in bands] == ["random min–max"]  # only the seeded order on faiss has a spread
    assert list(bands[0].y) == pytest.approx([0.74, 0.95, 0.95, 0.70])
    assert [a.text for a in fig.layout.annotations if "efSearch <" in (a.text or "")] == ["efSearch < k=10"]
    assert {a.text for a in fig.layout.annotations} >= {"faiss", "hnswlib"}


def test_recall_vs_lid_and_in_degree_figures():
    table = pd.DataFrame([
        {"order": "random", "lid_lo": 1, "lid_hi": 2, "lid_mean": 1.5, "n_queries": 5, "recall_mean": 0.9,
         "spearman_rho": -0.4},
        {"order": "random", "lid_lo": 2, "lid_hi": 3, "lid_mean": 2.5, "n_queries": 5, "recall_mean": 0.7,
         "spearman_rho": -0.4},
    ])
    fig = recall_vs_lid_figure(table, k=10, backend="faiss", ef_search=10)
    assert fig.data[0].name == "random (ρ = -0.40)" and list(fig.data[0].y) == [0.9, 0.7]
    deg = in_degree_figure(np.array([0, 2, 2, 3]))
    assert list(deg.data[0].y) == [1, 0, 2, 1]


def test_intrinsic_figures():
    est = pd.DataFrame({"estimator": ["A", "B"], "dimension": [3.0, float("nan")], "setting": ["k=1", "k=2"]})
    bar = estimates_bar(est, ambient_dim=32)
    assert list(bar.data[0].text) == ["3.0", "n/a"] and "32 dimensions" in bar.layout.title.text
    hist = lid_histogram(np.array([1.0, 2.0, np.nan, 3.0]), k=5)
    assert list(hist.data[0].x) == [1.0, 2.0, 3.0]
    assert {a.text for a in hist.layout.annotations} == {"mean 2.0", "median 2.0"}
    box = lid_by_category_box(lid_by_category(np.array([1.0, 2.0, 5.0]), ["a", "a", "b"]))
    assert [t.name for t in box.data] == ["b", "a"]
    cal = calibration_figure([{"true_dim": 4, "local_mle": 3.9, "levina_bickel": 4.1, "twonn": 4.0, "pca": 4,
                               "n": 100, "dim": 64},
                              {"true_dim": 8, "local_mle": 7.0, "levina_bickel": 7.5, "twonn": 7.8, "pca": 8,
                               "n": 100, "dim": 64}])
    line = cal.data[0]
    assert line.name == "estimate = truth" and list(line.x) == list(line.y)
    assert [t.name for t in cal.data[1:]] == ["LocalMLE (mean LID)", "Levina–Bickel", "TwoNN", "PCA-ID"]
