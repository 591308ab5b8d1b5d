"""Query-adaptive relevance filtering (core.analysis.relevance_filter, core.experiments.relevance_filter).

The known-answer fixture: with metric ``ip`` and one-hot base vectors, a query vector *is* its row of
scores, so the scores are planted exactly. Every query has its own level; its 1-3 relevant items sit just
above that level and its irrelevant ones just below, while the levels spread far wider than the gap, so no
global raw cut-off (and no single k) separates relevant from irrelevant -- a per-query mapping can.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from core.analysis.relevance_filter import (
    QueryAdaptiveMapper,
    pr_curve,
    precision_at_recall,
    score_features,
    top_k_curve,
)
from core.data.dataset import Dataset, Queries
from core.experiments.relevance_filter import (
    query_mapping,
    relevance_filter,
    split_queries,
    unavailable_reason,
)
from core.workspace import Workspace

N_ITEMS, N_QUERIES = 40, 60


def planted_scores(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(scores (nq, n), relevant (nq, n))``: per query, a level in [0.2, 0.8], its 1-3 relevant items
    in [level + 0.10, level + 0.11], the rest in [level - 0.05, level]."""
    rng = np.random.default_rng(seed)
    scores = np.empty((N_QUERIES, N_ITEMS))
    relevant = np.zeros((N_QUERIES, N_ITEMS), dtype=bool)
    for q in range(N_QUERIES):
        level = rng.uniform(0.2, 0.8)
        n_rel = int(rng.integers(1, 4))
        rel = rng.choice(N_ITEMS, n_rel, replace=False)
        scores[q] = level - rng.uniform(0.0, 0.05, N_ITEMS)
        scores[q, rel] = level + 0.10 + rng.uniform(0.0, 0.01, n_rel)
        relevant[q, rel] = True
    return scores, relevant


def planted_workspace() -> Workspace:
    scores, relevant = planted_scores()
    ids = [f"d{j}" for j in range(N_ITEMS)]
    qids = [f"q{i}" for i in range(N_QUERIES)]
    qrels = {qids[i]: {ids[j]: 1 for j in np.flatnonzero(relevant[i])} for i in range(N_QUERIES)}
    ds = Dataset("planted", ids, vectors=np.eye(N_ITEMS, dtype=np.float32),
                 queries=Queries(qids, vectors=scores.astype(np.float32)), qrels=qrels, metric="ip")
    return Workspace(ds)


def sorted_lists(scores: np.ndarray, relevant: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-scores, axis=1, kind="stable")
    return np.take_along_axis(scores, order, 1), np.take_along_axis(relevant, order, 1)


def test_the_planted_scores_defeat_every_global_raw_cut_off_and_every_k():
    scores, relevant = planted_scores()
    # some query's irrelevant item outscores another query's relevant one: no global cut-off separates them
    assert scores[~relevant].max() > scores[relevant].min()
    assert len({int(r) for r in relevant.sum(axis=1)}) == 3  # 1, 2 and 3 relevant: no single k fits all


def test_the_mapping_reaches_precision_1_on_held_out_queries_where_the_raw_cut_off_cannot(fresh_home):
    result = relevance_filter(planted_workspace(), depth=N_ITEMS, max_k=5, seed=0)
    best = result.best_f1().set_index("method")["best_f1"]
    assert best["mapped threshold"] == pytest.approx(1.0)  # precision 1 at recall 1
    assert best["raw cut-off"] < 0.9 and best["top-k"] < 0.9
    assert result.mapped.precision[result.mapped.recall >= 1.0].max() == pytest.approx(1.0)
    assert result.raw.precision[result.raw.recall >= 1.0].max() < 0.5
    gain = result.precision_gain()
    assert (gain["gain"] >= -1e-12).all() and gain["gain"].max() > 0.3
    # the threshold chosen on the training queries separates the held-out ones too
    at_train = result.at_training_thresholds().set_index("method")
    assert at_train.loc["mapped threshold", "f1"] == pytest.approx(1.0)
    points = result.operating_points(result.train_threshold, cutoff=10.0).set_index("method")
    assert list(points.index) == ["mapped threshold"]  # a raw cut-off above every score keeps nothing: no point
    assert points.loc["mapped threshold", ["precision", "recall"]].tolist() == pytest.approx([1.0, 1.0])
    recall, raw_p, mapped_p = result.gain_at_raw_best()
    assert mapped_p == pytest.approx(1.0) and raw_p < 1.0 and 0 < recall <= 1


def test_training_and_evaluation_queries_are_disjoint_and_the_split_is_seeded(fresh_home):
    result = relevance_filter(planted_workspace(), depth=N_ITEMS, max_k=5, seed=3, test_size=0.4)
    assert not set(result.train_ids) & set(result.test_ids)
    assert len(result.train_ids) + len(result.test_ids) == N_QUERIES and len(result.test_ids) == 24
    assert result.mapper.n_train_queries_ == len(result.train_ids)
    train, test = split_queries(10, 0.5, seed=1)
    assert np.intersect1d(train, test).size == 0 and sorted([*train, *test]) == list(range(10))
    again, _ = split_queries(10, 0.5, seed=1)
    assert np.array_equal(train, again)
    assert not all(np.array_equal(train, split_queries(10, 0.5, seed=s)[0]) for s in range(2, 6))


def test_the_mapping_is_the_logistic_model_on_its_features_and_never_reorders_a_query():
    scores, relevant = planted_scores(seed=1)
    D, y = sorted_lists(scores, relevant)
    mapper = QueryAdaptiveMapper().fit(D, y)
    Z = (score_features(D) - mapper.feature_mean_) / mapper.feature_scale_
    direct = expit(Z @ mapper.coef_ + mapper.intercept_).reshape(D.shape)
    np.testing.assert_allclose(mapper.transform(D), direct, rtol=1e-9, atol=1e-12)
    slope, _ = mapper.mapping(D)
    assert (slope >= 0).all() and (mapper.coef_[:3] >= 0).all()
    assert (np.diff(mapper.transform(D), axis=1) <= 1e-12).all()  # best first stays best first
    cut = mapper.raw_cut_off(D, 0.5)
    np.testing.assert_array_equal(mapper.transform(D) >= 0.5, D >= cut[:, None])


def test_one_query_on_the_query_page_gets_its_own_mapping(fresh_home):
    ws = planted_workspace()
    result = relevance_filter(ws, depth=N_ITEMS, max_k=5, seed=0)
    qi = ws.dataset.queries.ids.index(result.test_ids[0])
    row = ws.dataset.queries.vectors[qi].astype(np.float64)
    qm = query_mapping(result, row, result.train_threshold)
    D = -np.sort(-row)[None, :]
    np.testing.assert_allclose(qm.mapped(D[0]), result.mapper.transform(D)[0], rtol=1e-9)
    truth = np.zeros(N_ITEMS, dtype=bool)
    truth[[ws.dataset.ids.index(d) for d in ws.dataset.qrels[result.test_ids[0]]]] = True
    np.testing.assert_array_equal(qm.keeps(row), truth)
    np.testing.assert_array_equal(qm.keeps(row), row >= qm.raw_cut_off)
    with pytest.raises(ValueError, match="top-40"):
        query_mapping(result, row, 0.5, excluded=0)


def test_curves_on_a_hand_computed_case():
    # pooled candidates: scores 0.9 (rel), 0.8 (irrel), 0.8 (rel), 0.1 (irrel); 3 relevant in all (one never retrieved)
    curve = pr_curve(np.array([0.9, 0.8, 0.8, 0.1]), np.array([1, 0, 1, 0], bool), n_relevant=3)
    np.testing.assert_allclose(curve.threshold, [0.9, 0.8, 0.1])
    np.testing.assert_allclose(curve.precision, [1.0, 2 / 3, 2 / 4])
    np.testing.assert_allclose(curve.recall, [1 / 3, 2 / 3, 2 / 3])
    np.testing.assert_allclose(curve.f1, [0.5, 2 / 3, 2 * 0.5 * (2 / 3) / (0.5 + 2 / 3)])
    np.testing.assert_allclose(precision_at_recall(curve, np.array([0.2, 0.5, 0.9])), [1.0, 2 / 3, np.nan])
    # two queries, top lists best first: q0 relevant at ranks 1, 3; q1 at rank 2; 4 relevant in all
    top = top_k_curve(np.array([[1, 0, 1], [0, 1, 0]], bool), n_relevant=4, max_k=3)
    np.testing.assert_allclose(top.precision, [1 / 2, 2 / 4, 3 / 6])
    np.testing.assert_allclose(top.recall, [1 / 4, 2 / 4, 3 / 4])


def test_without_judgments_it_says_why_and_refuses(fresh_home):
    ds = Dataset("plain", [f"d{i}" for i in range(10)], vectors=np.eye(10, dtype=np.float32))
    reason = unavailable_reason(Workspace(ds))
    assert reason is not None and "relevance judgments" in reason
    with pytest.raises(ValueError, match="not available on plain"):
        relevance_filter(Workspace(ds))


def test_bad_input_gets_a_clear_message():
    with pytest.raises(ValueError, match="both relevant and irrelevant"):
        QueryAdaptiveMapper().fit(np.ones((3, 4)), np.zeros((3, 4), bool))
    with pytest.raises(ValueError, match="not fitted"):
        QueryAdaptiveMapper().transform(np.ones((3, 4)))
    scores, relevant = planted_scores()
    mapper = QueryAdaptiveMapper().fit(*sorted_lists(scores, relevant))
    with pytest.raises(ValueError, match="top-40"):
        mapper.transform(np.ones((2, 10)))
