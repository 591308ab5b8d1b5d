"""Learned compression methods: learned BEBR (reconstruction, SDC/ADC/Hamming against brute force) and
task-aware PQ (the training/evaluation split, a fixture built to reward it), through the registry and the sweep.

Each test trains on small seeded data in its own DENSESCOPE_HOME, so the model cache starts empty.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from core.analysis.sweep import Config, run_sweep, synthetic_embeddings
from core.data.dataset import Dataset, Queries
from core.experiments.compression import plan_sweep, sweep_for_workspace, training_judgments
from core.index import registry
from core.index.binary import bebr_decode, bebr_encode
from core.index.exact import exact_search
from core.index.learned_bebr import LearnedBinarizer, model_of
from core.index.metrics import ndcg_at_k
from core.index.task_pq import Judged
from core.workspace import Workspace


@pytest.fixture(autouse=True)
def own_home(tmp_path, monkeypatch):
    monkeypatch.setenv("DENSESCOPE_HOME", str(tmp_path))


def unit(a: np.ndarray) -> np.ndarray:
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


# ---------------------------------------------------------------- learned BEBR


def test_learned_binarization_reconstructs_better_than_the_training_free_one_at_equal_bits():
    x = synthetic_embeddings(600, d=32, seed=0, rank=10)
    for bits in (2, 4):
        mean = x.mean(axis=0)
        codes, scales = bebr_encode(x - mean, bits)
        free = ((bebr_decode(codes, scales, 32) + mean - x) ** 2).sum(axis=1).mean()
        model = LearnedBinarizer(bits, 0, "quick", 0).fit(x)
        learned = ((model.decode(model.encode(x)) - x) ** 2).sum(axis=1).mean()
        # the training-free codes also store one fp32 scale per vector and level: more bytes, still worse
        assert learned < 0.9 * free, (bits, learned, free)
        assert np.allclose(model.rotation_ @ model.rotation_.T, np.eye(32), atol=1e-4)  # R stays orthogonal


@pytest.mark.parametrize("metric", ["cosine", "l2"])
@pytest.mark.parametrize("nq", [3, 40])  # the lookup-table path and the decode + matmul path
def test_sdc_and_adc_scores_match_brute_force_on_the_decoded_codes(metric, nq):
    x = synthetic_embeddings(400 + nq, d=24, seed=1, rank=8)
    xb, xq = x[:400], x[400:]
    built = registry.build("bebr_learned", xb, metric, {"bits": 2, "hidden": 8})
    model = model_of(built)
    xhat = model.decode(built.arrays["codes"]).astype(np.float64)
    for distance, q in (("sdc", model.decode(model.encode(xq))), ("adc", xq)):
        D, I = registry.search(built, xq, 10, {"distance": distance})
        q = q.astype(np.float64)
        if metric == "l2":
            brute = ((q[:, None, :] - xhat[None]) ** 2).sum(-1)
            order = np.argsort(brute, axis=1)[:, :10]
            assert np.allclose(D, np.take_along_axis(brute, I, 1), atol=1e-4)
        else:
            brute = q @ xhat.T
            order = np.argsort(-brute, axis=1)[:, :10]
            # D is <q', x̂> up to a constant per query: <q', m> (sdc) or <q, m> (adc), m the base mean
            shift = (q @ model.mean_.astype(np.float64))[:, None]
            assert np.allclose(D + shift, np.take_along_axis(brute, I, 1), atol=1e-4)
        assert np.allclose(np.take_along_axis(brute, I, 1), np.take_along_axis(brute, order, 1), atol=1e-5)


def test_hamming_distances_count_the_differing_bits_of_the_same_codes():
    x = synthetic_embeddings(300, d=20, seed=2, rank=6)
    xb, xq = x[:290], x[290:]
    built = registry.build("bebr_learned", xb, "cosine", {"bits": 2})
    model = model_of(built)
    D, I = registry.search(built, xq, 5, {"distance": "hamming"})
    qbits = np.unpackbits(model.encode(xq).reshape(len(xq), -1), axis=1)
    bbits = np.unpackbits(built.arrays["codes"].reshape(len(xb), -1), axis=1)
    brute = (qbits[:, None, :] != bbits[None]).sum(-1)
    assert np.array_equal(D, np.take_along_axis(brute, I, 1))
    assert np.array_equal(np.sort(D, axis=1), np.sort(brute, axis=1)[:, :5])


def test_training_is_seeded_cached_and_reports_progress():
    x = synthetic_embeddings(500, d=16, seed=3, rank=6)
    heard = []
    first = registry.build("bebr_learned", x, "cosine", {"bits": 2}, seed=7,
                           progress=lambda done, total, message: heard.append(message))
    assert heard and heard[0].startswith("training learned BEBR") and first.train_s > 0
    again = registry.build("bebr_learned", x, "cosine", {"bits": 2}, seed=7)
    assert "loaded from the artifact cache" in again.note and again.train_s == pytest.approx(first.train_s)
    assert np.array_equal(again.arrays["codes"], first.arrays["codes"])
    bytes_per_vector = registry.index_bytes(first) / 500
    assert bytes_per_vector == pytest.approx(2 * 2 + 4 * (16 + 16 * 16 + 2 * 16) / 500)  # codes + the model


# ---------------------------------------------------------------- task-aware PQ


def low_variance_fixture(n: int = 2000, d: int = 16, nq: int = 600, seed: int = 0):
    """Base vectors whose odd dimensions hardly vary (a unit vector scaled by 0.1) beside high-variance even
    ones; queries look only along the odd ones, and each query's judged passage is the one it was made
    from. Reconstruction-optimal PQ spends its centroids on the even dimensions; the queries need the odd."""
    rng = np.random.default_rng(seed)
    xb = rng.standard_normal((n, d)).astype(np.float32)
    xb[:, 1::2] = 0.1 * unit(rng.standard_normal((n, d // 2)))
    rows = rng.choice(n, nq, replace=False)
    xq = np.zeros((nq, d), np.float32)
    xq[:, 1::2] = 10 * xb[rows][:, 1::2] + 0.01 * rng.standard_normal((nq, d // 2))
    return xb, xq, [{int(r): 1.0} for r in rows]


def test_task_aware_pq_beats_plain_pq_where_the_relevant_directions_have_low_variance():
    xb, xq, rel = low_variance_fixture()
    train, test = slice(0, 300), slice(300, 600)
    judged = Judged(xq[train], rel[train])
    plain = registry.build("pq", xb, "ip", {"m": 4})
    task = registry.build("pq_task", xb, "ip", {"m": 4}, judged=judged)
    assert registry.index_bytes(task) == registry.index_bytes(plain)  # equal bytes: same codes, same codebooks
    ndcg_plain = ndcg_at_k(registry.search(plain, xq[test], 10)[1], rel[test], 10)
    ndcg_task = ndcg_at_k(registry.search(task, xq[test], 10)[1], rel[test], 10)
    assert ndcg_task > ndcg_plain + 0.2, (ndcg_task, ndcg_plain)
    assert "none of the evaluation queries" in task.note and task.train_s > 0


def test_task_aware_pq_never_keeps_a_stage_that_ranks_the_held_back_queries_worse_than_plain_pq():
    xb, xq, rel = low_variance_fixture(seed=1)
    rng = np.random.default_rng(0)
    shuffled = [{int(rng.integers(0, len(xb))): 1.0} for _ in rel[:300]]  # judgments unrelated to the queries
    task = registry.build("pq_task", xb, "ip", {"m": 4}, judged=Judged(xq[:300], shuffled))
    found = re.search(r"plain PQ ([0-9.]+), query-weighted codes ([0-9.]+), kept ([0-9.]+) \((.+?)\)", task.note)
    plain, weighted, kept = (float(v) for v in found.groups()[:3])
    assert kept == max(plain, weighted, kept) and kept >= plain
    if found.group(4) == "plain PQ":
        plain_pq = registry.build("pq", xb, "ip", {"m": 4})
        assert np.array_equal(registry.search(task, xq, 10)[1], registry.search(plain_pq, xq, 10)[1])


def judged_workspace(n: int = 600, nq: int = 80, d: int = 16) -> Workspace:
    xb, xq, rel = low_variance_fixture(n=n, d=d, nq=nq, seed=2)
    ids = [f"d{i}" for i in range(n)]
    qids = [f"q{i}" for i in range(nq)]
    qrels = {q: {f"d{next(iter(r))}": 1} for q, r in zip(qids, rel, strict=True)}
    return Workspace.open(Dataset("judged", ids, vectors=xb, queries=Queries(qids, vectors=xq), qrels=qrels,
                                  metric="ip"))


def test_task_aware_pq_never_trains_on_evaluation_queries(monkeypatch):
    ws = judged_workspace()
    plan = plan_sweep(ws, methods=["pq_task", "pq"], overrides={"pq_task": {"m": [4]}, "pq": {"m": [4]}})
    assert plan.nq == 40 and "the other 40 train task-aware PQ" in plan.source
    ev = ws.eval_set(plan.n_queries, plan.seed)
    judged = training_judgments(ws, ev)
    train_ids = {q for q in ws.dataset.queries.ids if q not in set(ev.query_ids)}
    assert len(judged.relevance) == len(train_ids) == 40 and not train_ids & set(ev.query_ids)
    seen = []
    real_build = registry.build

    def spy(method, xb, metric="cosine", params=None, **kw):
        if method == "pq_task":
            seen.append(kw["judged"].xq.copy())
        return real_build(method, xb, metric, params, **kw)

    monkeypatch.setattr("core.analysis.sweep.build", spy)
    rows = {r["method"]: r for r in sweep_for_workspace(ws, plan=plan, latency_queries=5)}
    assert rows["pq_task"]["status"] == "ok" and rows["pq_task"]["train_s"] > 0 and rows["pq_task"]["nq"] == 40
    (trained_on,) = seen
    evaluated = {tuple(v) for v in ev.xq.tolist()}
    assert trained_on.shape[0] == 40 and not any(tuple(v) in evaluated for v in trained_on.tolist())


# ---------------------------------------------------------------- the sweep and its guards


def test_learned_methods_run_through_the_sweep_and_their_rows_carry_training_seconds():
    xb, xq, rel = low_variance_fixture(n=600, nq=120, seed=3)
    _, gt = exact_search(xb, xq[60:], 10, "ip")
    configs = [Config.make("bebr_learned", {"bits": b}, {"distance": dist}) for b in (1, 2)
               for dist in ("sdc", "adc", "hamming")] + [Config.make("pq", {"m": 4}), Config.make("pq_task", {"m": 4})]
    rows = list(run_sweep(xb, xq[60:], gt, metric="ip", configs=configs, qrels=rel[60:], latency_queries=5,
                          train_judged=Judged(xq[:60], rel[:60])))
    assert [r["status"] for r in rows] == ["ok"] * len(configs), [r["reason"] for r in rows]
    for r in rows:
        if r["method"] != "pq":
            assert r["train_s"] > 0 and r["bytes_per_vector"] > 0 and r["qps"] > 0 and np.isfinite(r["ndcg_at_10"])
    skipped = list(run_sweep(xb, xq[60:], gt, metric="ip", configs=[Config.make("pq_task", {"m": 4})]))
    assert skipped[0]["status"] == "skipped" and "judged training queries" in skipped[0]["reason"]


@pytest.mark.parametrize("n", [1, 2, 5, 40])
def test_tiny_bases_never_crash_the_learned_methods(n):
    rng = np.random.default_rng(n)
    xb = unit(rng.standard_normal((n, 9)))
    xq = unit(rng.standard_normal((3, 9)))
    k = min(3, n)
    _, gt = exact_search(xb, xq, k, "cosine")
    configs = [Config.make("bebr_learned", {"bits": 2}, {"distance": d}) for d in ("sdc", "hamming")]
    configs.append(Config.make("pq_task", {"m": 3}))
    rows = list(run_sweep(xb, xq, gt, metric="cosine", configs=configs, k=k, latency_queries=2,
                          train_judged=Judged(xq, [{0: 1.0}] * 3)))
    statuses = {r["method"]: r["status"] for r in rows}
    assert statuses["pq_task"] == "skipped" and "256 k-means centroids" in rows[-1]["reason"]
    assert statuses["bebr_learned"] == ("skipped" if n < 2 else "ok")
    with pytest.raises(ValueError, match="task-aware PQ needs at least 10 training queries"):
        registry.build("pq_task", unit(rng.standard_normal((300, 9))), "cosine", {"m": 3},
                       judged=Judged(xq, [{0: 1.0}] * 3))
    with pytest.raises(ValueError, match="pq_task: trains on judged training queries"):
        registry.build("pq_task", unit(rng.standard_normal((300, 9))), "cosine", {"m": 3})


def test_task_aware_pq_exports_with_the_same_training_split_and_the_same_recall(tmp_path):
    from core.experiments.export import export_configuration

    ws = judged_workspace()
    plan = plan_sweep(ws, methods=["pq_task"], overrides={"pq_task": {"m": [4]}})
    (row,) = sweep_for_workspace(ws, plan=plan, latency_queries=5)
    cfg = Config.make("pq_task", {"m": 4, "schedule": "quick"})
    done = export_configuration(ws, cfg, tmp_path / "out", n_queries=plan.n_queries, seed=plan.seed,
                                row_recall=row["recall_at_k"])
    assert done.recall == pytest.approx(row["recall_at_k"]) and (tmp_path / "out" / "manifest.json").exists()
