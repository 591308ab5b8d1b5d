"""Unit tests of core.experiments.query_comparison: hand cases, then one query on a small synthetic set."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from core.experiments.query_comparison import (
    DEFAULT_METHODS,
    IndexCache,
    compare_query,
    exact_reference,
    exact_scores,
    method_defaults,
    overlap,
    overlap_frame,
    passes,
    recall_for_query,
    relevant_rows,
    result_frame,
    score_rows,
    summary_line,
    survivor_count,
    threshold_range,
    with_threshold,
)
from core.index.defaults import split_params
from figures.query import score_curves_figure

# 1-D points on a line: with l2, the query at 0 has exact order 0, 1, 2, ... by |value|.
LINE = np.array([[0.0], [1.0], [-2.0], [3.0], [-4.0], [5.0]], dtype=np.float32)


def test_overlap_hand_cases():
    assert overlap([1, 2, 3], [3, 2, 9], 3) == pytest.approx(2 / 3)
    assert overlap([1, 2], [1, 2], 2) == 1.0
    assert overlap([1, -1, -1], [2, -1, -1], 3) == 0.0  # faiss's "no result" never matches
    assert overlap([], [1], 4) == 0.0
    with pytest.raises(ValueError, match="k must be a positive integer"):
        overlap([1], [1], 0)


def test_threshold_direction_follows_the_metric():
    scores = np.array([0.9, 0.5, 0.2])
    assert passes(scores, 0.5, "cosine").tolist() == [True, True, False]
    assert survivor_count(scores, 0.5, "ip") == 2
    assert passes(scores, 0.5, "l2").tolist() == [False, True, True]  # distances: smaller is closer
    assert survivor_count(scores, 0.1, "l2") == 0


def test_exact_scores_match_numpy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 8)).astype(np.float32)
    q = rng.standard_normal(8).astype(np.float32)
    np.testing.assert_allclose(exact_scores(x, q, "ip"), x @ q, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(exact_scores(x, q, "l2"), ((x - q) ** 2).sum(1), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="the query has 3 dims but the base has 8"):
        exact_scores(x, q[:3], "ip")


def test_exact_reference_ranks_and_top_k_on_a_line():
    ref = exact_reference(LINE, np.zeros((1, 1), np.float32), 3, "l2")
    assert ref.top_rows.tolist() == [0, 1, 2]
    assert ref.kth == pytest.approx(4.0)
    assert ref.ranks(np.array([5, 0, 3])).tolist() == [6, 1, 4]
    assert ref.in_top_k(np.array([0, 2, 3])).tolist() == [True, True, False]
    assert ref.count_passing(9.0) == 4 and ref.top_k_passing(1.0) == 2


def test_exact_reference_leaves_the_query_item_out():
    ref = exact_reference(LINE, LINE[0:1], 2, "l2", exclude_row=0)
    assert ref.top_rows.tolist() == [1, 2]
    assert ref.n == 5
    assert ref.ranks(np.array([1, 2, 3])).tolist() == [1, 2, 3]
    assert not ref.in_top_k(np.array([0]))[0]
    assert ref.count_passing(100.0) == 5  # the item itself is not counted
    with pytest.raises(ValueError, match="only 5 items can be returned"):
        exact_reference(LINE, LINE[0:1], 6, "l2", exclude_row=0)


def test_ties_share_a_rank_and_count_as_top_k():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [-1.0, 0.0]], dtype=np.float32)
    q = np.array([[0.6, 0.8]], dtype=np.float32)
    ref = exact_reference(x, q, 2, "ip")  # scores 0.6, 0.8, 1.0, -0.6
    assert ref.ranks(np.array([2, 1, 0, 3])).tolist() == [1, 2, 3, 4]
    tied = exact_reference(np.array([[1.0], [1.0], [1.0], [0.0]], np.float32), np.ones((1, 1), np.float32), 1, "ip")
    assert tied.ranks(np.array([0, 1, 2, 3])).tolist() == [1, 1, 1, 4]
    assert tied.in_top_k(np.array([0, 1, 2, 3])).tolist() == [True, True, True, False]


def test_recall_for_one_query():
    assert recall_for_query(np.array([True, False, True, True]), 4) == 0.75
    assert recall_for_query(np.array([True, True, True]), 2) == 1.0  # ties cannot push it above 1
    assert recall_for_query(np.zeros(0, bool), 5) == 0.0


def test_relevant_rows_from_qrels():
    ds = SimpleNamespace(ids=["a", "b", "c"], qrels={"q1": {"b": 2, "c": 0, "zz": 1}})
    assert relevant_rows(ds, "q1") == {1: 2}  # unjudged-relevant and unknown docs dropped
    assert relevant_rows(ds, "q2") == {}
    assert relevant_rows(ds, None) == {}


def test_method_defaults_fit_the_data():
    assert method_defaults("binary", 60, 16)["rerank"] == 60  # 100 capped at n
    ivf = method_defaults("ivf_pq", 2648, 384)  # the demo: a query opens answered, not on nprobe 1
    assert ivf["nprobe"] == max(1, round(ivf["nlist"] / 8)) and ivf["nprobe"] > 1
    assert 48 % method_defaults("pq", 1000, 48)["m"] == 0


# ------------------------------------------------------------------ compare_query


@pytest.fixture(scope="module")
def clustered():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((8, 16)).astype(np.float32)
    x = centres[rng.integers(8, size=600)] + 0.3 * rng.standard_normal((600, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    q = x[7:8] + 0.05 * rng.standard_normal((1, 16)).astype(np.float32)
    return x, q / np.linalg.norm(q)


def choices_for(names, n, d):
    return [(m, *split_params(m, method_defaults(m, n, d))) for m in names]


def test_compare_query_flat_is_exact_and_the_cache_is_reused(clustered):
    x, q = clustered
    cache = IndexCache()
    calls = []
    choices = choices_for(DEFAULT_METHODS, *x.shape)
    results = compare_query(x, q, choices, 10, "cosine", cache=cache, embeddings_key="k1",
                            progress=lambda done, total, msg: calls.append((done, total)), threshold=0.5)
    assert [r.method for r in results] == list(DEFAULT_METHODS)
    assert all(r.ok for r in results), [r.error for r in results]
    flat = results[0]
    assert flat.recall == 1.0 and flat.found == 10
    assert flat.in_exact.all() and flat.exact_ranks.tolist() == list(range(1, 11))
    np.testing.assert_allclose(flat.scores, flat.exact_scores, rtol=1e-6)
    assert all(r.latency_ms > 0 and r.rows.size == 10 and not r.reused for r in results)
    for a in results:
        assert 0.0 <= a.recall <= 1.0 and a.survivors == survivor_count(a.exact_scores, 0.5, "cosine")
        assert a.overlap == {b.method: overlap(a.rows, b.rows, 10) for b in results if b is not a}
    assert results[1].overlap["flat"] == flat.overlap["hnsw_flat"] == results[1].recall
    assert calls[0] == (0, 4) and calls[-1] == (4, 4)
    assert len(cache) == 4

    again = compare_query(x, q, choices, 10, "cosine", cache=cache, embeddings_key="k1")
    assert all(r.reused for r in again) and len(cache) == 4
    other = compare_query(x, q, choices[:1], 10, "cosine", cache=cache, embeddings_key="k2")
    assert not other[0].reused  # another workspace's embeddings: another index


def test_compare_query_leaves_the_query_item_out_and_marks_relevant(clustered):
    x, _ = clustered
    results = compare_query(x, x[7:8], choices_for(["flat", "hnsw_flat"], *x.shape), 5, "cosine",
                            exclude_row=7, relevant={7: 1, 3: 2})
    for r in results:
        assert 7 not in r.rows.tolist() and r.rows.size == 5
    flat = results[0]
    assert flat.recall == 1.0
    expected = [2 if row == 3 else 0 for row in flat.rows]
    assert flat.relevance.tolist() == expected


def test_compare_query_reports_a_method_that_cannot_run(clustered):
    x, q = clustered
    choices = [("flat", {}, {}), ("binary", {"center": False}, {"rerank": 5}), ("pq", {"m": 5}, {})]
    results = compare_query(x, q, choices, 10, "cosine")
    assert results[0].ok
    assert "rerank=5 must be 0 or at least k=10" in results[1].error
    assert "m to divide d" in results[2].error
    assert results[0].overlap == {}  # no overlap with methods that did not run
    assert summary_line(results[1]).startswith("could not run")


def test_compare_query_rejects_bad_input(clustered):
    x, q = clustered
    with pytest.raises(ValueError, match="the query has 3 dims but the base has 16"):
        compare_query(x, q[:, :3], [("flat", {}, {})], 10, "cosine")
    with pytest.raises(ValueError, match="at least one method"):
        compare_query(x, q, [], 10, "cosine")
    with pytest.raises(ValueError, match="k=601"):
        compare_query(x, q, [("flat", {}, {})], 601, "cosine")


def test_tables_and_figure(clustered):
    x, q = clustered
    n = x.shape[0]
    from core.data.dataset import Dataset

    ds = Dataset(name="t", ids=[f"d{i}" for i in range(n)], texts=[f"text <b>{i}</b>\n  of item" for i in range(n)],
                 labels=["lab"] * n)
    results = compare_query(x, q, choices_for(["flat", "hnsw_flat", "binary"], *x.shape), 4, "cosine")
    ref = exact_reference(x, q, 4, "cosine")
    lo, hi, default = threshold_range(ref, results)
    assert lo <= default <= hi and default == pytest.approx(float(ref.scores[ref.top_rows[1]]))
    shown = with_threshold(results, default, "cosine")
    frame = result_frame(shown[0], ds, default, "cosine")
    assert list(frame.columns) == ["rank", "id", "score", "exact score", "in exact top-k", "exact rank",
                                   "passes cut-off", "text"]
    assert frame["passes cut-off"].sum() == shown[0].survivors == 2
    assert frame["text"][0].startswith("[lab] text <b>")  # plain text: st.dataframe never renders HTML
    judged = result_frame(shown[0], ds, judged=True)
    assert "relevant" in judged.columns and "passes cut-off" not in judged.columns
    no_text = result_frame(shown[0], Dataset(name="v", ids=ds.ids, vectors=x))
    assert "text" not in no_text.columns
    matrix = overlap_frame(shown)
    assert matrix.shape == (3, 3) and np.allclose(np.diag(matrix.values), 1.0)
    rows = score_rows(shown, ref)
    assert set(rows["method"]) == {"exact top-k", "flat", "hnsw_flat", "binary"} and len(rows) == 16
    fig = score_curves_figure(rows, threshold=default)
    assert len(fig.data) == 4 and fig.data[-1].name == "exact top-k"  # drawn last: on top, never hidden
    (cut,) = fig.layout.shapes
    assert cut.line.dash == "dashdot" and cut.line.color not in {t.line.color for t in fig.data}
