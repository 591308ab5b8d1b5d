"""Exact-search task quality of a workspace (core.experiments.relevance) and the sweep's task-cost sentences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.data.dataset import Dataset, Queries
from core.experiments.compression import task_quality_costs
from core.experiments.relevance import exact_relevance
from core.workspace import Workspace


def hand_workspace(fresh_home) -> Workspace:
    """Four unit vectors on axes; three queries whose exact top-1 is known by construction."""
    base = np.eye(4, dtype=np.float32)
    queries = np.array([[1, 0.1, 0, 0], [0, 1, 0.1, 0.05], [0, 0.1, 0.2, 1]], dtype=np.float32)
    ds = Dataset(
        name="hand", ids=["a", "b", "c", "d"], vectors=base,
        queries=Queries(ids=["q1", "q2", "q3"], vectors=queries),
        # q1 -> a (rank 1), q2 -> c (rank 2: b is nearer), q3 -> b (rank 3 of 4: d, c come first)
        qrels={"q1": {"a": 1}, "q2": {"c": 1}, "q3": {"b": 1}},
        metric="cosine",
    )
    return Workspace(ds)


def test_exact_relevance_matches_a_hand_computed_case(fresh_home):
    result = exact_relevance(hand_workspace(fresh_home))
    assert result.n_queries == 3 and result.small_sample
    assert result.mrr_at_10 == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert result.ndcg_at_10 == pytest.approx((1 + 1 / np.log2(3) + 1 / np.log2(4)) / 3)
    assert result.success_at_10 == 1.0
    assert "small sample" in result.sentence() and "MRR@10 0.611" in result.sentence()


def test_no_qrels_no_relevance(fresh_home):
    ds = Dataset(name="plain", ids=["a", "b"], vectors=np.eye(2, dtype=np.float32))
    assert exact_relevance(Workspace(ds)) is None


def test_task_quality_costs_follow_the_ndcg_frontier_and_skip_exact_search():
    rows = pd.DataFrame([
        {"method": "flat", "label": "flat", "status": "ok", "ndcg_at_10": 0.40, "bytes_per_vector": 128.0},
        {"method": "sq", "label": "int8", "status": "ok", "ndcg_at_10": 0.40, "bytes_per_vector": 32.0},
        {"method": "pq", "label": "pq", "status": "ok", "ndcg_at_10": 0.30, "bytes_per_vector": 40.0},  # dominated
        {"method": "binary", "label": "bits", "status": "ok", "ndcg_at_10": 0.35, "bytes_per_vector": 4.0},
        {"method": "pq", "label": "broken", "status": "failed", "ndcg_at_10": np.nan, "bytes_per_vector": 1.0},
    ])
    assert task_quality_costs(rows) == [
        "bits: −5.0 points of nDCG@10 for 32.0× less memory",
        "int8: ±0.0 points of nDCG@10 for 4.0× less memory",
    ]
    assert task_quality_costs(rows.assign(ndcg_at_10=np.nan)) == []
