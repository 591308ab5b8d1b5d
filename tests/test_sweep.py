"""The sweep: grids and presets, the run loop (build reuse, skipped and failed rows), helpers, estimates."""

from __future__ import annotations

import dataclasses
import math

import faiss
import numpy as np
import pandas as pd
import pytest

from core.analysis import sweep
from core.analysis.sweep import (
    METRIC_KEYS,
    PRESETS,
    Config,
    estimate_memory_bytes,
    estimate_seconds,
    expand_grid,
    ground_truth,
    preset_configs,
    run_sweep,
    split_queries,
    synthetic_embeddings,
)
from core.index.exact import exact_search
from core.index.metrics import mrr_at_k, pareto_frontier
from core.index.registry import FAMILIES, METHODS

N, NQ, D, K = 1000, 100, 64, 10


@pytest.fixture(scope="module")
def data():
    x = synthetic_embeddings(N + NQ, D, seed=1, rank=16)
    xb, xq = x[:N], x[N:]
    _, gt = ground_truth(xb, xq, K, "cosine")
    return xb, xq, gt


def sweep_rows(data, configs, **kw) -> list[dict]:
    xb, xq, gt = data
    return list(run_sweep(xb, xq, gt, metric="cosine", configs=configs, k=K, latency_queries=10, **kw))


# ---------------------------------------------------------------- grids


def test_expand_grid_is_the_product_of_build_and_search_values():
    configs = expand_grid(["ivf_pq"], {"ivf_pq": {"nlist": [16, 32], "m": [8], "nprobe": [1, 4, 8]}})
    assert len(configs) == 6
    assert configs[0] == Config("ivf_pq", (("nlist", 16), ("m", 8)), (("nprobe", 1),))
    assert configs[0].label == "ivf_pq nlist=16 m=8 nprobe=1"
    assert len({c.build_key for c in configs}) == 2


def test_expand_grid_defaults_to_every_method_and_its_full_grid():
    configs = expand_grid()
    assert {c.method for c in configs} == set(METHODS)
    hnsw = [c for c in configs if c.method == "hnsw_flat"]
    spec = METHODS["hnsw_flat"]
    assert len(hnsw) == math.prod(len(p.grid) for p in spec.params)


def test_relative_grid_values_resolve_to_the_data():
    (pq,) = expand_grid(["pq"], {"pq": {"m": ["d/8"]}}, d=50)
    assert pq.params["m"] == 5  # the divisor of 50 nearest 6.25
    (pca,) = expand_grid(["pca"], {"pca": {"d_out": ["d/4"], "codec": ["sq8"], "rerank": [0]}}, d=384)
    assert pca.params["d_out"] == 96
    (ivf,) = expand_grid(["ivf_flat"], {"ivf_flat": {"nlist": ["sqrt(n)"], "nprobe": [1]}}, n=2150)
    assert ivf.params["nlist"] == 46
    with pytest.raises(ValueError, match="pass d"):
        expand_grid(["pq"], {"pq": {"m": ["d/8"]}})


def test_expand_grid_rejects_bad_values_naming_parameter_and_range():
    with pytest.raises(ValueError, match=r"hnsw_flat: ef_search must be an integer in \[1, 100000\], got 0"):
        expand_grid(["hnsw_flat"], {"hnsw_flat": {"ef_search": [16, 0]}})
    with pytest.raises(ValueError, match="has no parameter 'efSearch'"):
        expand_grid(["hnsw_flat"], {"hnsw_flat": {"efSearch": [16]}})
    with pytest.raises(ValueError, match="at least one value"):
        expand_grid(["pq"], {"pq": {"m": []}})
    with pytest.raises(ValueError, match="unknown method"):
        expand_grid(["nope"])


def test_quick_preset_covers_every_family_and_method_at_one_or_two_settings():
    configs = preset_configs("quick", n=2150, d=384)
    assert {METHODS[c.method].family for c in configs} == set(FAMILIES)
    assert {c.method for c in configs} == set(METHODS)
    per_method = pd.Series([c.method for c in configs]).value_counts()
    assert per_method.max() <= 3
    assert set(PRESETS) == {"quick", "thorough"}
    assert len(preset_configs("thorough")) > 5 * len(configs)


def test_preset_configs_subset_and_unknown():
    assert {c.method for c in preset_configs("quick", ["flat", "sq"], n=10, d=8)} == {"flat", "sq"}
    with pytest.raises(ValueError, match="unknown preset"):
        preset_configs("fast")


# ---------------------------------------------------------------- run loop


def test_rows_are_tidy_and_flat_is_exact(data):
    rows = sweep_rows(data, expand_grid(["flat", "sq"], {"sq": {"qtype": ["int8"]}}))
    assert [r["status"] for r in rows] == ["ok", "ok"]
    flat = rows[0]
    assert flat["recall_at_k"] == 1.0
    assert flat["bytes_per_vector"] == pytest.approx(4 * D, rel=0.01)
    assert flat["compression_ratio"] == pytest.approx(1.0, rel=0.01)
    assert rows[1]["compression_ratio"] == pytest.approx(4.0, rel=0.05)
    for r in rows:
        assert set(METRIC_KEYS) <= set(r)
        assert r["qps"] > 0 and 0 < r["p50_ms"] <= r["p99_ms"]
        assert r["threads"] == faiss.omp_get_max_threads() and r["k"] == K
        assert math.isnan(r["ndcg_at_10"])


def test_sweep_recall_equals_a_direct_faiss_computation(data):
    xb, xq, _ = data
    (row,) = sweep_rows(data, expand_grid(["ivf_flat"], {"ivf_flat": {"nlist": [16], "nprobe": [2]}}))
    index = faiss.index_factory(D, "IVF16,Flat", faiss.METRIC_INNER_PRODUCT)
    index.train(xb)
    index.add(xb)
    index.nprobe = 2
    _, I = index.search(xq, K)
    _, gt = faiss.knn(xq, xb, K, metric=faiss.METRIC_INNER_PRODUCT)
    direct = np.mean([len(set(a) & set(b)) / K for a, b in zip(I.tolist(), gt.tolist(), strict=True)])
    assert row["recall_at_k"] == pytest.approx(direct, abs=1e-12)
    assert row["factory"] == "IVF16,Flat"


def test_one_build_serves_every_search_setting(data, monkeypatch):
    calls = []
    real_build = sweep.build

    def counting_build(method, *args, **kwargs):
        calls.append(method)
        return real_build(method, *args, **kwargs)

    monkeypatch.setattr(sweep, "build", counting_build)
    configs = expand_grid(
        ["hnsw_flat", "binary"],
        {"hnsw_flat": {"M": [8], "ef_construction": [40], "ef_search": [16, 32, 64]}, "binary": {"center": [False]}},
    )
    rows = sweep_rows(data, configs)
    assert calls == ["hnsw_flat", "binary"]
    assert len(rows) == 3 + len(METHODS["binary"].param("rerank").grid)
    hnsw = [r["recall_at_k"] for r in rows if r["method"] == "hnsw_flat"]
    assert hnsw == sorted(hnsw)  # a larger ef_search never hurts here


def test_skipped_rows_carry_reasons(data):
    configs = [
        Config.make("pq", {"m": 48}),  # 48 does not divide 64
        Config.make("ivf_flat", {"nlist": 16}, {"nprobe": 32}),  # more probes than lists
        Config.make("binary", {}, {"rerank": 5}),  # shortlist smaller than k
        Config.make("pca", {"d_out": 128}),  # not a reduction
        Config.make("pq", {"m": 8}),  # runs
    ]
    rows = sweep_rows(data, configs)
    status = [r["status"] for r in rows]
    assert status == ["skipped"] * 4 + ["ok"]
    reasons = [r["reason"] for r in rows]
    assert "m=48 does not divide d=64" in reasons[0]
    assert "nprobe=32 is larger than nlist=16" in reasons[1]
    assert "rerank=5 is smaller than k=10" in reasons[2]
    assert "d_out=128 must be smaller" in reasons[3]
    assert reasons[4] == "" and "faiss recommends >= 39" in rows[4]["note"]
    assert all(math.isnan(r["recall_at_k"]) for r in rows[:4])


def test_too_few_training_points_is_skipped(data):
    xb, xq, _ = data
    small = xb[:200]
    _, gt = exact_search(small, xq, K, "cosine")
    configs = [Config.make("pq", {"m": 8}), Config.make("ivf_flat", {"nlist": 256}, {"nprobe": 1})]
    rows = list(run_sweep(small, xq, gt, metric="cosine", configs=configs, k=K, latency_queries=5))
    assert [r["status"] for r in rows] == ["skipped", "skipped"]
    assert "needs at least 256 training points but the base has n=200" in rows[0]["reason"]
    assert "needs at least 256 training points" in rows[1]["reason"]


def test_the_sweep_continues_after_a_failing_configuration(data, monkeypatch):
    real_build = sweep.build

    def flaky_build(method, *args, **kwargs):
        if method == "sq":
            raise RuntimeError("out of luck")
        return real_build(method, *args, **kwargs)

    monkeypatch.setattr(sweep, "build", flaky_build)
    configs = expand_grid(["sq", "flat"], {"sq": {"qtype": ["int8"]}})
    configs.insert(1, Config.make("binary"))
    monkeypatch.setitem(METHODS, "binary", dataclasses.replace(METHODS["binary"], search=_raise))
    rows = sweep_rows(data, configs)
    assert [r["status"] for r in rows] == ["failed", "failed", "ok"]
    assert rows[0]["reason"] == "build: RuntimeError: out of luck"
    assert rows[1]["reason"].startswith("search: ZeroDivisionError")


def _raise(*args, **kwargs):
    raise ZeroDivisionError("boom")


def test_memory_limit_skips_with_the_estimate(data):
    (row,) = sweep_rows(data, [Config.make("flat")], max_memory_bytes=1 << 20)
    assert row["status"] == "skipped"
    assert "estimated memory" in row["reason"] and "exceeds the limit 1 MiB" in row["reason"]


def test_qrels_give_ndcg_and_mrr(data):
    gt = data[2]
    qrels = [[int(g[0])] for g in gt]  # the exact nearest neighbour is the relevant document
    (row,) = sweep_rows(data, [Config.make("flat")], qrels=qrels)
    assert row["ndcg_at_10"] == pytest.approx(1.0)
    assert row["mrr_at_10"] == pytest.approx(mrr_at_k(gt, qrels, 10))


def test_rerank_bytes_are_reported_apart(data):
    rows = sweep_rows(data, expand_grid(["binary"], {"binary": {"center": [False], "rerank": [0, 50]}}))
    no, yes = rows
    assert no["bytes_per_vector"] == pytest.approx(D / 8, abs=0.1)
    assert no["rerank_bytes_per_vector"] == 0
    assert yes["rerank_bytes_per_vector"] == 4 * D
    assert yes["total_bytes_per_vector"] == pytest.approx(yes["bytes_per_vector"] + 4 * D)
    assert yes["recall_at_k"] > no["recall_at_k"]


def test_progress_reports_every_row(data):
    seen = []
    configs = expand_grid(["flat", "binary"], {"binary": {"center": [False], "rerank": [0, 20]}})
    rows = sweep_rows(data, configs, progress=lambda done, total, msg: seen.append((done, total)))
    assert seen[-1] == (len(rows), len(rows)) == (3, 3)


def test_rows_make_a_dataframe_with_a_frontier(data):
    configs = expand_grid(["flat", "sq", "binary"], {"sq": {"qtype": ["int8", "int4"]}, "binary": {"rerank": [0]}})
    df = pd.DataFrame(sweep_rows(data, configs))
    mask = pareto_frontier(df)
    assert mask[df["method"] == "flat"].all()  # the only recall-1.0 point is on the frontier
    assert mask.sum() >= 2


def test_bad_input_raises_before_running(data):
    xb, xq, gt = data
    configs = [Config.make("flat")]
    with pytest.raises(ValueError, match="larger than the number of base vectors"):
        run_sweep(xb[:5], xq, gt, metric="cosine", configs=configs, k=K)
    with pytest.raises(ValueError, match="ground truth must have shape"):
        run_sweep(xb, xq, gt[:5], metric="cosine", configs=configs, k=K)
    with pytest.raises(ValueError, match="queries have 32 dims but the base has 64"):
        run_sweep(xb, xq[:, :32], gt, metric="cosine", configs=configs, k=K)
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        run_sweep(xb, xq, gt, metric="cosine", configs=configs, k=K, threads=0)
    with pytest.raises(ValueError, match="Config objects"):
        run_sweep(xb, xq, gt, metric="cosine", configs=["flat"], k=K)


def test_threads_are_restored_after_the_sweep(data):
    before = faiss.omp_get_max_threads()
    (row,) = sweep_rows(data, [Config.make("flat")], threads=1)
    assert row["threads"] == 1 and row["latency_threads"] == 1
    assert faiss.omp_get_max_threads() == before


# ---------------------------------------------------------------- helpers and estimates


def test_split_queries_is_seeded_and_disjoint():
    q, b = split_queries(100, 10, seed=3)
    assert len(q) == 10 and len(b) == 90
    assert np.array_equal(np.sort(np.concatenate([q, b])), np.arange(100))
    assert np.all(np.diff(q) > 0)
    assert np.array_equal(q, split_queries(100, 10, seed=3)[0])
    assert not np.array_equal(q, split_queries(100, 10, seed=4)[0])
    with pytest.raises(ValueError, match="n_queries"):
        split_queries(10, 10)


def test_ground_truth_is_exact_search(data):
    xb, xq, _ = data
    D_, I = ground_truth(xb, xq, 5, "l2")
    D2, I2 = exact_search(xb, xq, 5, "l2")
    assert np.array_equal(I, I2) and np.array_equal(D_, D2)


def test_estimates_are_positive_and_ordered():
    quick = preset_configs("quick", n=2150, d=384)
    thorough = preset_configs("thorough")
    assert 0 < estimate_seconds(quick, 2150, 384, 1800) < estimate_seconds(thorough, 2150, 384, 1800)
    flat = estimate_memory_bytes(Config.make("flat"), 100_000, 384)
    pq = estimate_memory_bytes(Config.make("pq", {"m": 32}), 100_000, 384)
    assert flat > pq > 100_000 * 32


def test_ndcg_and_mrr_use_ten_results_even_when_k_is_smaller(data):
    xb, xq, _ = data
    _, gt5 = ground_truth(xb, xq, 5, "cosine")
    relevance = [np.array([int(g[7])]) for g in ground_truth(xb, xq, 10, "cosine")[1]]  # rank 8 is relevant
    rows = list(run_sweep(xb, xq, gt5, metric="cosine", configs=[Config.make("flat")], k=5,
                          qrels=relevance, latency_queries=5))
    # Exact search puts each relevant item at rank 8: MRR@10 = 1/8 although only 5 results are scored for recall.
    assert rows[0]["mrr_at_10"] == pytest.approx(1 / 8)
    assert rows[0]["recall_at_k"] == 1.0
