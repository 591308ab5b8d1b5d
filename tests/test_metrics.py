"""Recall, nDCG, MRR, the metric registry, the Pareto frontier and the budget question: hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.index.metrics import (
    METRICS,
    as_relevance,
    best_under_budget,
    mrr_at_k,
    ndcg_at_k,
    pareto_frontier,
    recall_at_k,
    recall_per_query,
)


def test_recall_hand_case():
    I = np.array([[1, 2, 3], [4, 5, 6]])
    gt = np.array([[1, 2, 9], [7, 8, 6]])
    assert recall_per_query(I, gt, 3).tolist() == pytest.approx([2 / 3, 1 / 3])
    assert recall_at_k(I, gt) == pytest.approx(0.5)


def test_recall_counts_each_true_neighbour_once_and_ignores_missing_results():
    gt = np.array([[1, 2, 3]])
    assert recall_at_k(np.array([[1, 1, 1]]), gt) == pytest.approx(1 / 3)
    assert recall_at_k(np.array([[3, -1, -1]]), gt) == pytest.approx(1 / 3)


def test_recall_uses_only_the_first_k_columns():
    I = np.array([[1, 9, 2, 3]])
    gt = np.array([[1, 2, 3, 4]])
    assert recall_at_k(I, gt, 2) == pytest.approx(0.5)


def test_recall_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="queries"):
        recall_at_k(np.zeros((2, 3), int), np.zeros((3, 3), int))
    with pytest.raises(ValueError, match="k=5"):
        recall_at_k(np.zeros((2, 3), int), np.zeros((2, 3), int), 5)


def test_ndcg_and_mrr_binary_relevance():
    I = np.array([[3, 1, 2]])
    assert ndcg_at_k(I, [[1]], 10) == pytest.approx(1 / math.log2(3))
    assert mrr_at_k(I, [[1]], 10) == pytest.approx(0.5)


def test_ndcg_graded_relevance_uses_linear_gains():
    I = np.array([[2, 1, 5]])
    qrels = [{1: 2, 2: 1}]
    dcg = 1 / math.log2(2) + 2 / math.log2(3)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(I, qrels, 10) == pytest.approx(dcg / idcg)
    assert mrr_at_k(I, qrels, 10) == 1.0


def test_queries_without_judgments_are_left_out_and_dict_form_matches_list_form():
    I = np.array([[5, 6], [1, 2]])
    as_list = [[], [2]]
    as_dict = {1: [2]}
    assert mrr_at_k(I, as_list, 10) == pytest.approx(0.5)
    assert mrr_at_k(I, as_dict, 10) == pytest.approx(0.5)
    assert ndcg_at_k(I, as_dict, 10) == pytest.approx(ndcg_at_k(I, as_list, 10))
    assert math.isnan(mrr_at_k(I, [[], []], 10))


def test_miss_within_cutoff_scores_zero():
    I = np.array([[7, 8, 9]])
    assert mrr_at_k(I, [[1]], 10) == 0.0
    assert ndcg_at_k(I, [[1]], 10) == 0.0


def test_as_relevance_validates():
    with pytest.raises(ValueError, match="2 entries but there are 3 queries"):
        as_relevance([[1], [2]], 3)
    with pytest.raises(ValueError, match="outside"):
        as_relevance({5: [1]}, 3)


def test_metric_registry_directions():
    assert METRICS["recall_at_k"].direction == "max"
    assert METRICS["bytes_per_vector"].direction == "min"
    assert METRICS["qps"].direction == "max"
    assert METRICS["p99_ms"].direction == "min"
    assert all(m.direction in ("min", "max") and m.label for m in METRICS.values())


def frontier_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "label": list("ABCDEFGH"),
            "bytes_per_vector": [10, 20, 20, 40, 80, 80, 5, 1],
            "recall_at_k": [0.5, 0.4, 0.8, 0.8, 1.0, 1.0, np.nan, 0.9],
            "qps": [100, 900, 50, 500, 10, 10, 1, 1],
            "status": ["ok"] * 7 + ["failed"],
        }
    )


def test_pareto_frontier_hand_made_set():
    mask = pareto_frontier(frontier_rows(), "bytes_per_vector", "recall_at_k")
    # A cheapest; B beaten by A; C best at 20 B; D beaten by C; E and F identical optima;
    # G has no recall; H failed.
    assert mask.tolist() == [True, False, True, False, True, True, False, False]


def test_pareto_frontier_follows_the_registry_directions():
    mask = pareto_frontier(frontier_rows(), "qps", "recall_at_k")  # both "max"
    # B fastest; D beats A and C (faster at >= their recall); E and F most accurate
    assert frontier_rows()["label"][mask].tolist() == ["B", "D", "E", "F"]


def test_pareto_frontier_empty_and_unknown_metric():
    assert pareto_frontier(frontier_rows().iloc[:0]).tolist() == []
    with pytest.raises(ValueError, match="unknown metric"):
        pareto_frontier(frontier_rows(), "bytes", "recall_at_k")


def test_best_under_budget_sorts_matches_by_speed():
    answer = best_under_budget(frontier_rows(), max_bytes=40, min_recall=0.8)
    assert answer.rows["label"].tolist() == ["D", "C"]
    assert "fastest: D" in answer.explanation


def test_best_under_budget_explains_an_empty_answer():
    answer = best_under_budget(frontier_rows(), max_bytes=15, min_recall=0.9)
    assert answer.rows.empty
    assert "best within budget is A" in answer.explanation
    assert "smallest reaching it is E at 80.0 B/vector" in answer.explanation


def test_best_under_budget_validates():
    with pytest.raises(ValueError, match="min_recall"):
        best_under_budget(frontier_rows(), 10, 1.5)


def test_quality_cost_says_points_lost_for_memory_saved():
    from core.index.metrics import quality_cost, reference_row

    rows = pd.DataFrame([
        {"method": "flat", "label": "flat", "status": "ok", "ndcg_at_10": 0.436, "bytes_per_vector": 1536.0},
        {"method": "sq", "label": "sq qtype=int8", "status": "ok", "ndcg_at_10": 0.433, "bytes_per_vector": 384.0},
        {"method": "binary", "label": "binary", "status": "ok", "ndcg_at_10": 0.389, "bytes_per_vector": 48.0},
    ])
    ref = reference_row(rows)
    assert ref["label"] == "flat"
    assert quality_cost(rows.iloc[1], ref) == "sq qtype=int8: −0.3 points of nDCG@10 for 4.0× less memory"
    assert quality_cost(rows.iloc[2], ref) == "binary: −4.7 points of nDCG@10 for 32.0× less memory"
    assert quality_cost(rows.iloc[0], ref) == "Flat (exact): ±0.0 points of nDCG@10 for 1.0× less memory"
    # a row with its method's parameters is named in plain words, integers as integers
    ivf = pd.Series({"method": "ivf_flat", "label": "ivf_flat nlist=51 nprobe=2", "nlist": 51.0, "nprobe": 2.0,
                     "ndcg_at_10": 0.4, "bytes_per_vector": 1544.0})
    assert quality_cost(ivf, ref).startswith("IVF-Flat · 51 clusters, 2 clusters searched: −3.6 points")
    assert reference_row(rows[rows["method"] != "flat"]) is None


def test_recall_by_distance_counts_a_tied_duplicate_and_by_id_does_not():
    from core.index.metrics import recall_by_distance_per_query, recall_per_query

    xb = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], dtype=np.float32)  # rows 0 and 1 duplicate
    xq = np.array([[1.0, 0.0]], dtype=np.float32)
    gt = np.array([[0, 2]])  # exact top-2 by id: row 0, then row 2 (score 0)
    returned = np.array([[1, 2]])  # the duplicate of row 0, and row 2
    assert recall_per_query(returned, gt, 2).tolist() == [0.5]
    assert recall_by_distance_per_query(returned, xb, xq, gt, 2, "cosine").tolist() == [1.0]
    assert recall_by_distance_per_query(returned, xb, xq, gt, 2, "l2").tolist() == [1.0]
    worse = np.array([[3, -1]])  # the farthest item and a missing result
    assert recall_by_distance_per_query(worse, xb, xq, gt, 2, "cosine").tolist() == [0.0]
    repeated = np.array([[0, 0]])  # an index that repeats one id gets it counted once
    assert recall_by_distance_per_query(repeated, xb, xq, gt, 2, "ip").tolist() == [0.5]


def _ann_benchmarks_recall(true_distances, run_distances, count, epsilon=1e-3):
    """ann-benchmarks' get_recall_values with knn_threshold, as it is written there (per query)."""
    out = []
    for truth, run in zip(true_distances, run_distances, strict=True):
        t = truth[count - 1] + epsilon  # knn_threshold(data, count, epsilon)
        out.append(sum(1 for d in run[:count] if d <= t) / count)
    return np.array(out)


def test_recall_by_distance_is_ann_benchmarks_knn_rule_on_a_near_tie():
    from core.index.metrics import recall_by_distance_per_query

    # query on the x axis; the exact 2nd neighbour is at angle a, the returned one slightly further
    def at(deg):
        r = np.deg2rad(deg)
        return [np.cos(r), np.sin(r)]

    xb = np.array([at(0), at(10), at(12.5), at(40)], dtype=np.float32)
    xq = np.array([at(0)], dtype=np.float32)
    gt = np.array([[0, 1]])
    # 1 - cos(10°) = 0.01519; 1 - cos(12.5°) = 0.02370: 0.0085 further, beyond the 1e-3 slack
    assert recall_by_distance_per_query(np.array([[0, 2]]), xb, xq, gt, 2, "cosine").tolist() == [0.5]
    # 11° is 1 - cos = 0.01837, 0.0032 further: still out; 10.3° is 0.01612, 0.0009 further: counted
    xb2 = np.array([at(0), at(10), at(10.3), at(40)], dtype=np.float32)
    assert recall_by_distance_per_query(np.array([[0, 2]]), xb2, xq, gt, 2, "cosine").tolist() == [1.0]
    # euclidean: |a - b|, not squared (squared would be 0.0277 vs 0.0305 there, within no slack either)
    xl = np.array([[0.0, 0], [1.0, 0], [1.0009, 0], [5, 0]], dtype=np.float32)
    q = np.array([[0.0, 0]], dtype=np.float32)
    assert recall_by_distance_per_query(np.array([[0, 2]]), xl, q, np.array([[0, 1]]), 2, "l2").tolist() == [1.0]
    xl[2, 0] = 1.0011
    assert recall_by_distance_per_query(np.array([[0, 2]]), xl, q, np.array([[0, 1]]), 2, "l2").tolist() == [0.5]


def test_recall_by_distance_matches_ann_benchmarks_definition_on_random_results():
    from core.index.exact import exact_search
    from core.index.metrics import ann_benchmarks_distance, recall_by_distance_per_query

    rng = np.random.default_rng(0)
    for metric in ("cosine", "l2"):
        xb = rng.standard_normal((400, 8)).astype(np.float32)
        if metric == "cosine":
            xb /= np.linalg.norm(xb, axis=1, keepdims=True)
        xq = xb[:30] + 0.05 * rng.standard_normal((30, 8)).astype(np.float32)
        if metric == "cosine":
            xq /= np.linalg.norm(xq, axis=1, keepdims=True)
        _, gt = exact_search(xb, xq, 10, metric)
        # an "index" that returns the true top-10 with a few swapped for near and far items
        run = gt.copy()
        run[:, 7:] = rng.integers(0, 400, size=(30, 3))
        run = np.array([list(dict.fromkeys(r)) + [-1] * (10 - len(set(r))) for r in run])
        true_d = ann_benchmarks_distance(xb[gt], xq[:, None, :], metric)
        run_d = [[ann_benchmarks_distance(xb[i], xq[q], metric) for i in r if i >= 0] for q, r in enumerate(run)]
        expected = _ann_benchmarks_recall(true_d, run_d, 10)
        got = recall_by_distance_per_query(run, xb, xq, gt, 10, metric)
        assert np.allclose(got, expected), metric


def test_a_cost_counted_without_the_rerank_floats_says_both():
    from core.index.metrics import quality_cost

    ref = pd.Series({"label": "flat", "ndcg_at_10": 0.8, "bytes_per_vector": 1536.0, "total_bytes_per_vector": 1536.0,
                     "rerank_bytes_per_vector": 0.0})
    binary = pd.Series({"label": "binary rerank=100", "ndcg_at_10": 0.79, "bytes_per_vector": 152.0,
                        "total_bytes_per_vector": 1688.0, "rerank_bytes_per_vector": 1536.0})
    text = quality_cost(binary, ref, bytes_col="bytes_per_vector")
    assert "10.1× less memory for the index (0.9× counting the 1,536 B/vector of float vectors" in text
    assert "counting" not in quality_cost(binary, ref, bytes_col="total_bytes_per_vector")
