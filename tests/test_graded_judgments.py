"""Graded relevance judgments keep their grades (issue 20): nDCG@10 with grades 0/1/2 is pytrec_eval's
``ndcg_cut_10`` (to 1e-6) through the sweep and the workspace's exact relevance; MRR counts the first
document of grade >= 1."""

from __future__ import annotations

import numpy as np
import pytest

from core.data.dataset import Dataset, Queries
from core.index.metrics import mrr_at_k, ndcg_at_k

pytrec_eval = pytest.importorskip("pytrec_eval")


def test_a_hand_computed_graded_case():
    # qrels d0:2, d1:1, d2:1; ranking d1, d0, d3, d2
    # DCG = 1/log2(2) + 2/log2(3) + 0 + 1/log2(5); IDCG = 2 + 1/log2(3) + 1/log2(4)
    dcg = 1 + 2 / np.log2(3) + 1 / np.log2(5)
    idcg = 2 + 1 / np.log2(3) + 1 / np.log2(4)
    I = np.array([[1, 0, 3, 2]])
    assert ndcg_at_k(I, [{0: 2, 1: 1, 2: 1}], 4) == pytest.approx(dcg / idcg, abs=1e-12)  # 0.85998
    assert ndcg_at_k(I, [{0: 1, 1: 1, 2: 1}], 4) == pytest.approx(0.96747, abs=1e-5)  # binary: higher
    assert mrr_at_k(I, [{0: 2, 1: 1, 2: 1}], 4) == 1.0


def graded_workspace(tmp_path):
    from core.store.artifacts import ArtifactCache
    from core.workspace import Workspace

    rng = np.random.default_rng(0)
    n, d, nq = 300, 16, 40
    x = rng.standard_normal((n, d)).astype(np.float32)
    ids = [f"d{i}" for i in range(n)]
    q = x[:nq] + 0.4 * rng.standard_normal((nq, d)).astype(np.float32)
    qrels = {}
    for i in range(nq):  # grade 2 for the source item, grade 1 for three random others, a few grade-0 rows
        others = rng.choice(np.arange(nq, n), 4, replace=False)
        qrels[f"q{i}"] = {f"d{i}": 2, **{f"d{o}": 1 for o in others[:3]}, f"d{others[3]}": 0}
    ds = Dataset("graded", ids, vectors=x, queries=Queries([f"q{i}" for i in range(nq)], vectors=q), qrels=qrels,
                 metric="cosine")
    return Workspace(ds, cache=ArtifactCache(tmp_path / "a")), qrels


def trec_ndcg_and_mrr(run_ids: np.ndarray, query_ids, doc_ids, qrels) -> tuple[float, float]:
    run = {qid: {doc_ids[int(j)]: float(10 - r) for r, j in enumerate(row) if j >= 0}
           for qid, row in zip(query_ids, run_ids, strict=True)}
    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recip_rank"})
    scores = evaluator.evaluate(run)
    return (float(np.mean([s["ndcg_cut_10"] for s in scores.values()])),
            float(np.mean([s["recip_rank"] for s in scores.values()])))


def test_graded_ndcg_agrees_with_pytrec_eval_through_the_sweep_and_exact_relevance(tmp_path):
    from core.experiments.compression import sweep_for_workspace
    from core.experiments.relevance import exact_relevance

    ws, qrels = graded_workspace(tmp_path)
    ev = ws.eval_set()
    assert ev.qrels[0][0] == 2 and sorted(ev.qrels[0].values()) == [1, 1, 1, 2]  # the grades, grade 0 dropped
    _, I = ws.ground_truth(ev, 10)
    want_ndcg, want_mrr = trec_ndcg_and_mrr(I, ev.query_ids, ws.dataset.ids, qrels)
    got = exact_relevance(ws)
    # pytrec_eval's recip_rank has no cut-off; with k = 10 results per query they are the same here
    assert got.ndcg_at_10 == pytest.approx(want_ndcg, abs=1e-6) and got.mrr_at_10 == pytest.approx(want_mrr, abs=1e-6)
    rows = list(sweep_for_workspace(ws, methods=["flat", "sq"], overrides={"sq": {"qtype": ["int4"]}}, k=10,
                                    latency_queries=2))
    flat = next(r for r in rows if r["method"] == "flat")
    assert flat["ndcg_at_10"] == pytest.approx(want_ndcg, abs=1e-6)
    binary_qrels = {q: {d: int(r > 0) for d, r in rel.items()} for q, rel in qrels.items()}
    binary_ndcg, _ = trec_ndcg_and_mrr(I, ev.query_ids, ws.dataset.ids, binary_qrels)
    assert abs(binary_ndcg - want_ndcg) > 1e-3  # the grades matter on this fixture
