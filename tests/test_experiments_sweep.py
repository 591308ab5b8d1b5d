"""The compression sweep on a workspace (`core.experiments.compression`), its CLI command, and the
known answers of issue 3 on MiniLM embeddings of stdlib-docs."""

from __future__ import annotations

import math
import sys

import faiss
import numpy as np
import pandas as pd
import pytest

from core.analysis.sweep import Config, estimate_memory_bytes
from core.cli.main import main
from core.data.dataset import Dataset, Queries
from core.experiments import compression
from core.experiments.compression import (
    MemoryRefusal,
    embeddings_sentence,
    latest_sweep_run,
    load_sweep_run,
    param_choices,
    parse_param_values,
    plan_sweep,
    summary_sentence,
    sweep_for_workspace,
    sweep_run_params,
)
from core.store.runs import RunStore
from core.workspace import Workspace

PARAMS = {"n": 2000, "dim": 32, "intrinsic_dim": 8, "noise": 0.01, "n_clusters": 4, "seed": 0}
CLI_DATA = ["--dataset", "synthetic", *[a for key, v in PARAMS.items() for a in ("--param", f"{key}={v}")]]
K = 10


@pytest.fixture
def ws(fresh_home):
    return Workspace.open("synthetic", dataset_params=PARAMS)


def run(ws, **kw) -> list[dict]:
    kw.setdefault("k", K)
    kw.setdefault("n_queries", 50)
    kw.setdefault("latency_queries", 10)
    return list(sweep_for_workspace(ws, **kw))


def direct_recall(I: np.ndarray, gt: np.ndarray, k: int) -> float:
    return float(np.mean([len(set(a[:k]) & set(b[:k])) / k for a, b in zip(I.tolist(), gt.tolist(), strict=True)]))


# ---------------------------------------------------------------- the glue


def test_rows_on_a_held_out_split_with_cached_ground_truth(ws, monkeypatch):
    rows = run(ws, methods=["flat", "sq", "hnsw_flat"], overrides={"sq": {"qtype": ["int8"]}})
    assert [r["label"] for r in rows] == [
        "flat", "sq qtype=int8", "hnsw_flat M=16 ef_construction=40 ef_search=16",
        "hnsw_flat M=16 ef_construction=40 ef_search=64"]
    assert all(r["status"] == "ok" for r in rows)
    flat = rows[0]
    assert flat["recall_at_k"] == 1.0 and flat["n"] == 1950 and flat["nq"] == 50 and flat["d"] == 32
    assert flat["bytes_per_vector"] == pytest.approx(4 * 32, rel=0.01)
    assert flat["metric"] == "l2" and flat["queries"] == "held-out sample (seed 0)"
    assert math.isnan(flat["ndcg_at_10"])  # no qrels on held-out items
    # a second sweep reuses the cached ground truth instead of searching exactly again
    import core.index.exact

    monkeypatch.setattr(core.index.exact, "exact_search", lambda *a, **k: pytest.fail("ground truth recomputed"))
    assert run(ws, methods=["flat"])[0]["recall_at_k"] == 1.0


def test_recall_equals_a_direct_faiss_computation_on_the_workspace_arrays(ws):
    (row,) = run(ws, methods=["ivf_flat"], overrides={"ivf_flat": {"nlist": [16], "nprobe": [2]}})
    ev = ws.eval_set(50)
    index = faiss.index_factory(32, "IVF16,Flat", faiss.METRIC_L2)
    index.train(ev.xb)
    index.add(ev.xb)
    index.nprobe = 2
    _, I = index.search(ev.xq, K)
    _, gt = faiss.knn(ev.xq, ev.xb, K, metric=faiss.METRIC_L2)
    assert row["recall_at_k"] == pytest.approx(direct_recall(I, gt, K), abs=1e-12)


def test_the_preset_is_merged_parameter_by_parameter_with_the_overrides(ws):
    plan = plan_sweep(ws, methods=["hnsw_flat", "pq", "ivf_flat"],
                      overrides={"hnsw_flat": {"ef_search": [8, 32]}, "pq": {"m": ["d/4"]}}, n_queries=50)
    labels = [c.label for c in plan.configs]
    assert labels == [
        "hnsw_flat M=16 ef_construction=40 ef_search=8", "hnsw_flat M=16 ef_construction=40 ef_search=32",
        "pq m=8", "ivf_flat nlist=44 nprobe=2", "ivf_flat nlist=44 nprobe=8"]  # sqrt(1950) = 44
    assert plan.preset == "quick" and plan.n_base == 1950 and plan.nq == 50 and plan.estimate_s > 0
    thorough = plan_sweep(ws, preset="thorough", methods=["sq"], n_queries=50)
    assert [c.params["qtype"] for c in thorough.configs] == ["fp16", "int8", "int4"]
    assert "3 configurations (3 builds, 1 method family)" in thorough.describe()
    params = sweep_run_params(ws, plan)
    assert params["embeddings_key"] == ws.embeddings_key and params["configurations"] == 5


def test_k_larger_than_the_base_is_a_clear_error(ws):
    with pytest.raises(ValueError, match=r"recall@5000 needs at least 5000 base vectors, but synthetic has 1,800 "
                                         r"once 200 queries are held out; choose k <= 1800"):
        plan_sweep(ws, methods=["flat"], k=5000)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        plan_sweep(ws, methods=["flat"], k=0)


def test_bad_methods_and_parameters_name_what_is_wrong(ws):
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        plan_sweep(ws, methods=["flat", "nope"])
    with pytest.raises(ValueError, match=r"hnsw_flat: ef_search must be an integer in \[1, 100000\], got 0"):
        plan_sweep(ws, methods=["hnsw_flat"], overrides={"hnsw_flat": {"ef_search": [0]}})
    with pytest.raises(ValueError, match="has no parameter 'efSearch'"):
        plan_sweep(ws, methods=["hnsw_flat"], overrides={"hnsw_flat": {"efSearch": [16]}})
    with pytest.raises(ValueError, match="pick at least one method"):
        plan_sweep(ws, methods=[])
    with pytest.raises(ValueError, match="unknown preset"):
        plan_sweep(ws, preset="fast")


def test_memory_refusal_shows_the_estimate(ws, monkeypatch):
    monkeypatch.setattr(compression, "available_memory_bytes", lambda: 1 << 20)
    with pytest.raises(MemoryRefusal, match=r"smallest estimate is 65 MiB \(flat\) but only 1 MiB is free"):
        plan_sweep(ws, methods=["flat", "hnsw_flat"])
    # between the two estimates: the larger configuration is skipped with its estimate, the other runs
    flat = estimate_memory_bytes(Config.make("flat"), 1950, 32)
    hnsw = estimate_memory_bytes(Config.make("hnsw_flat", {"M": 16, "ef_construction": 40}), 1950, 32)
    assert flat < hnsw
    monkeypatch.setattr(compression, "available_memory_bytes", lambda: (flat + hnsw) // 2)
    plan = plan_sweep(ws, methods=["flat", "hnsw_flat"], n_queries=50)
    assert len(plan.over_memory) == 2 and "2 configuration(s) over it will be skipped" in plan.memory_sentence()
    rows = list(sweep_for_workspace(ws, plan=plan, latency_queries=10))
    assert [r["status"] for r in rows] == ["ok", "skipped", "skipped"]
    assert "estimated memory 65 MiB exceeds the limit" in rows[1]["reason"]


def test_available_memory_reads_proc_meminfo_or_falls_back(tmp_path, monkeypatch):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       32000000 kB\nMemFree:         1000 kB\nMemAvailable:    2048 kB\n")
    assert compression.available_memory_bytes(str(meminfo)) == 2048 * 1024
    monkeypatch.setitem(sys.modules, "psutil", None)  # `import psutil` raises ImportError
    assert compression.available_memory_bytes(str(tmp_path / "missing")) is None


def test_rows_are_saved_as_they_arrive_and_read_back(ws):
    store = RunStore()
    plan = plan_sweep(ws, methods=["flat", "sq", "binary"], n_queries=50)
    with store.recording("sweep", ws.dataset.name, ws.encoder_name, sweep_run_params(ws, plan)) as rec:
        rows = list(sweep_for_workspace(ws, plan=plan, recorder=rec, latency_queries=10))
    assert rec.n_rows == len(rows) == 1 + 3 + 2
    latest = latest_sweep_run(ws)
    assert latest.id == rec.run_id and latest.status == "done"
    back = load_sweep_run(rec.run_id)
    assert back.k == K and list(back.rows["label"]) == [r["label"] for r in rows]
    assert back.rows["recall_at_k"].dtype == float and back.rows["ndcg_at_10"].isna().all()
    assert back.rows["recall_at_k"].tolist() == pytest.approx([r["recall_at_k"] for r in rows])
    # another kind of run is not a sweep
    other = store.start_run("id", ws.dataset.name, ws.encoder_name, {})
    with pytest.raises(ValueError, match="is a id run, not a compression sweep"):
        load_sweep_run(other)


def test_an_interrupted_sweep_keeps_its_rows(ws):
    store = RunStore()
    plan = plan_sweep(ws, methods=["flat", "sq"], n_queries=50)
    with pytest.raises(KeyboardInterrupt), store.recording("sweep", "synthetic", "given-vectors",
                                                           sweep_run_params(ws, plan)) as rec:
        for i, _ in enumerate(sweep_for_workspace(ws, plan=plan, recorder=rec, latency_queries=10)):
            if i == 1:
                raise KeyboardInterrupt
    run_ = store.get_run(rec.run_id)
    assert run_.status == "interrupted" and run_.n_rows == 2
    assert latest_sweep_run(ws).id == rec.run_id


def test_dataset_queries_and_qrels_give_ndcg_and_mrr(fresh_home):
    rng = np.random.default_rng(0)
    xb = rng.standard_normal((300, 16)).astype(np.float32)
    xq = (xb[:20] + 0.01 * rng.standard_normal((20, 16))).astype(np.float32)
    ids = [f"d{i}" for i in range(300)]
    ds = Dataset("tiny", ids, vectors=xb, queries=Queries([f"q{i}" for i in range(20)], vectors=xq),
                 qrels={f"q{i}": {f"d{i}": 1} for i in range(20)}, metric="l2")
    ws = Workspace.open(ds)
    (flat,) = run(ws, methods=["flat"], n_queries=None)
    assert flat["queries"] == "dataset queries" and flat["n"] == 300 and flat["nq"] == 20
    assert flat["ndcg_at_10"] == pytest.approx(1.0) and flat["mrr_at_10"] == pytest.approx(1.0)


def test_param_choices_and_typed_values():
    (m,) = param_choices("quick", "pq", n=1000, d=50)
    assert m.default == [5] and 5 in m.options and m.free and "integer in [1, 4096]" in m.help
    qtype = param_choices("thorough", "sq", n=1000, d=50)[0]
    assert qtype.default == ["fp16", "int8", "int4"] and not qtype.free
    assert parse_param_values("hnsw_flat", "ef_search", [16, "1,000", "32"]) == [16, 1000, 32]
    with pytest.raises(ValueError, match=r"hnsw_flat: ef_search must be an integer in \[1, 100000\], got 'lots'"):
        parse_param_values("hnsw_flat", "ef_search", ["lots"])
    with pytest.raises(ValueError, match=r"ivf_flat: nprobe must be an integer in \[1, 1048576\], got 0"):
        parse_param_values("ivf_flat", "nprobe", ["0"])
    with pytest.raises(ValueError, match="needs at least one value"):
        parse_param_values("pq", "m", [])


def test_sentences_use_the_live_numbers():
    assert embeddings_sentence(3336, 384, "minilm") == "3,336 MiniLM vectors of 384 dims take 5.1 MB as float32"
    assert embeddings_sentence(99_000, 50, "given-vectors") == "99,000 given vectors of 50 dims take 19.8 MB as float32"
    rows = pd.DataFrame({"label": ["flat", "sq int8", "binary"], "status": ["ok", "ok", "skipped"], "k": 10, "d": 8,
                         "recall_at_k": [1.0, 0.995, np.nan], "bytes_per_vector": [32.0, 8.0, np.nan],
                         "qps": [100.0, 300.0, np.nan]})
    assert summary_sentence(rows, bold=False) == (
        "The smallest configuration within 1 point of the best recall@10 (1.000) is sq int8: 8.0 B/vector (4.0× "
        "smaller than float32), recall@10 0.995; the fastest is sq int8 at 300 queries/s (recall@10 0.995, "
        "8.0 B/vector).")
    assert summary_sentence(rows.iloc[2:]) == ""


# ----------------------------------------------------------------------------- CLI


def test_cli_sweep_writes_rows_and_saves_a_run(fresh_home, tmp_path, capsys):
    out = tmp_path / "sweep.csv"
    assert main(["sweep", *CLI_DATA, "--methods", "flat,sq,binary", "--queries", "50", "--grid",
                 "sq.qtype=int8,int4", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2,000 given vectors" not in printed and "1,950 given vectors of 32 dims take 250 kB" in printed
    assert "plan (quick): 5 configurations (4 builds, 3 method families)" in printed
    assert "5 of 5 configurations ran" in printed and "Pareto-optimal" in printed
    rows = pd.read_csv(out)
    assert list(rows["label"]) == ["flat", "sq qtype=int8", "sq qtype=int4", "binary center=False rerank=0",
                                   "binary center=False rerank=100"]
    assert rows.loc[0, "recall_at_k"] == 1.0
    (saved,) = RunStore().list_runs(kind="sweep")
    assert saved.status == "done" and saved.n_rows == 5 and saved.params["overrides"] == {"sq": {"qtype": [
        "int8", "int4"]}}


def test_cli_thorough_prints_the_estimate_before_running(fresh_home, capsys):
    assert main(["sweep", *CLI_DATA, "--preset", "thorough", "--methods", "sq", "--queries", "20",
                 "--out", str(fresh_home / "t.json")]) == 0
    printed = capsys.readouterr().out
    plan_at, done_at = printed.index("plan (thorough): 3 configurations"), printed.index("configurations ran")
    assert plan_at < done_at and "about" in printed[plan_at:done_at]
    assert len(pd.read_json(fresh_home / "t.json")) == 3


def test_cli_list_methods(capsys):
    assert main(["sweep", "--list-methods"]) == 0
    printed = capsys.readouterr().out
    assert "hnsw_flat" in printed and "ef_search (search: an integer in [1, 100000]" in printed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--methods", "flat,nope"], "unknown method 'nope'"),
        (["--methods", "hnsw_flat", "--grid", "hnsw_flat.ef_search=16,0"],
         "hnsw_flat: ef_search must be an integer in [1, 100000], got 0"),
        (["--methods", "hnsw_flat", "--grid", "hnsw_flat.efSearch=16"], "has no parameter 'efSearch'"),
        (["--grid", "hnsw_flat=16"], "--grid expects METHOD.PARAM=V1,V2"),
        (["--grid", "sq.qtype=int3"], "sq: qtype must be one of 'fp16', 'int8', 'int4', got 'int3'"),
        (["--k", "5000"], "recall@5000 needs at least 5000 base vectors"),
        (["--queries", "0"], "the number of queries must be a positive integer"),
        (["--out", "rows.txt"], "--out must end in .csv, .parquet or .json"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(argv, message, fresh_home, capsys):
    assert main(["sweep", *CLI_DATA, *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert RunStore().list_runs(kind="sweep") == []  # refused before a run was started


# ------------------------------------------------------- known answers: MiniLM on stdlib-docs


@pytest.fixture(scope="module")
def minilm():
    """MiniLM embeddings of stdlib-docs (encoded once into the test home, ~70 s the first time)
    and a sweep of Flat, fp16 and int8 on its own queries."""
    ws = Workspace.open("stdlib-docs", "minilm")
    rows = list(sweep_for_workspace(ws, methods=["flat", "sq"], overrides={"sq": {"qtype": ["fp16", "int8"]}},
                                    k=K, latency_queries=20))
    return ws, {r["label"]: r for r in rows}


@pytest.mark.slow
def test_minilm_flat_is_exact_and_scalar_quantization_keeps_recall(minilm):
    ws, rows = minilm
    flat, fp16, int8 = rows["flat"], rows["sq qtype=fp16"], rows["sq qtype=int8"]
    assert flat["n"] == ws.dataset.n == 2648 and flat["nq"] == 2392 and flat["d"] == 384  # Python 3.11
    assert flat["queries"] == "dataset queries"
    assert flat["recall_at_k"] == 1.0
    assert fp16["recall_at_k"] >= 0.99
    assert int8["recall_at_k"] >= 0.95
    assert fp16["bytes_per_vector"] == pytest.approx(2 * 384, rel=0.01)
    assert int8["bytes_per_vector"] == pytest.approx(384, rel=0.01)
    # stdlib-docs has qrels: nDCG@10 and MRR@10 are measured, and Flat's are the encoder's own quality
    assert 0 < flat["ndcg_at_10"] <= 1 and 0 < flat["mrr_at_10"] <= 1
    assert abs(fp16["ndcg_at_10"] - flat["ndcg_at_10"]) < 0.01


@pytest.mark.slow
def test_minilm_recall_equals_a_direct_faiss_computation(minilm):
    ws, rows = minilm
    ev = ws.eval_set()
    _, gt = faiss.knn(ev.xq, ev.xb, K, metric=faiss.METRIC_INNER_PRODUCT)
    for label, factory in (("sq qtype=int8", "SQ8"), ("sq qtype=fp16", "SQfp16"), ("flat", "Flat")):
        index = faiss.index_factory(384, factory, faiss.METRIC_INNER_PRODUCT)
        index.train(ev.xb)
        index.add(ev.xb)
        _, I = index.search(ev.xq, K)
        assert rows[label]["recall_at_k"] == pytest.approx(direct_recall(I, gt, K), abs=1e-12), label
