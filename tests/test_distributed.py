"""Encoding and sweeps on Ray give the in-process results; a dead worker loses no finished row.

One local Ray instance (2 CPUs) serves the whole module and is shut down at its end;
its temp folder and every artifact live in a private DENSESCOPE_HOME.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from core.analysis.sweep import expand_grid, ground_truth, run_sweep, synthetic_embeddings
from core.scale import session as ray_session_module
from core.scale.encode import encode_with_ray
from core.scale.session import describe_cluster, ray_session
from core.scale.sweep import comparable, sweep_with_ray
from core.workspace import Workspace

pytestmark = pytest.mark.ray

N, NQ, D, K = 1000, 60, 64, 10
STDLIB = {"limit": 200, "seed": 0}
# Ray's own default places for state: none of them may appear because of us
RAY_DEFAULT_PLACES = [Path.home() / ".ray", Path(tempfile.gettempdir()) / "ray", Path("/tmp/ray")]


def _mtimes(paths):
    return {p: (p.stat().st_mtime if p.exists() else None) for p in paths}


@pytest.fixture(scope="module")
def ray_home(tmp_path_factory):
    """A private DENSESCOPE_HOME and one local Ray instance with 2 CPUs for the module."""
    if not ray_session_module.ray_available():
        pytest.skip("ray is not installed")
    home = tmp_path_factory.mktemp("rayh")
    mp = pytest.MonkeyPatch()
    mp.setenv("DENSESCOPE_HOME", str(home))
    before = _mtimes(RAY_DEFAULT_PLACES)
    with ray_session(num_cpus=2) as session:
        yield home, session, before
    mp.undo()
    import ray

    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def stdlib(ray_home):
    """200 stdlib-docs passages (opened once for the module)."""
    return Workspace.open("stdlib-docs", "tfidf-svd", dataset_params=STDLIB).dataset


@pytest.fixture(scope="module")
def data():
    x = synthetic_embeddings(N + NQ, D, seed=3, rank=16)
    xb, xq = x[:N], x[N:]
    _, gt = ground_truth(xb, xq, K, "cosine")
    return xb, xq, gt


CONFIGS = expand_grid(
    ["flat", "sq", "pq", "ivf_flat", "hnsw_flat", "binary"],
    {
        "sq": {"qtype": ["int8", "int4"]},
        "pq": {"m": [8]},
        "ivf_flat": {"nlist": [16], "nprobe": [1, 4]},
        "hnsw_flat": {"M": [8], "ef_construction": [20], "ef_search": [8, 16, 32]},
        "binary": {"center": [True], "rerank": [0, 50]},
    },
)
SWEEP = dict(metric="cosine", k=K, latency_queries=10)


def _same(a: dict, b: dict) -> list[str]:
    """Keys whose values differ (NaN equals NaN)."""
    keys = set(a) | set(b)
    return sorted(
        key
        for key in keys
        if not (
            a.get(key) == b.get(key)
            or (
                isinstance(a.get(key), float)
                and isinstance(b.get(key), float)
                and math.isnan(a[key])
                and math.isnan(b[key])
            )
        )
    )


# ---------------------------------------------------------------- session


def test_session_is_local_with_two_cpus_and_its_files_under_home(ray_home):
    home, session, _ = ray_home
    assert session.started and session.address is None
    assert session.temp_dir == home / "ray" and not session.note
    assert any(session.temp_dir.glob("session_*"))
    info = describe_cluster()
    assert info["nodes"] == 1 and info["cpus"] == 2
    assert info["text"].startswith("Ray: 1 node, 2 CPUs")
    assert os.environ["RAY_AUTH_MODE"] == "disabled"
    assert os.environ["RAY_USAGE_STATS_ENABLED"] == "0"
    assert not (Path.home() / ".ray" / "auth_token").exists()


def test_nested_session_reuses_the_running_instance(ray_home):
    import ray

    _, outer, _ = ray_home
    with ray_session() as inner:
        assert inner is outer  # the one shared connection of this process
        assert ray_session_module.ray_users() == 2
    assert ray.is_initialized() and ray_session_module.ray_users() == 1  # the outer run still has Ray


def test_long_home_falls_back_to_a_short_temp_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("DENSESCOPE_HOME", str(tmp_path / ("x" * 80)))
    path, note = ray_session_module.ray_temp_dir()
    assert len(str(path)) <= ray_session_module.MAX_TEMP_DIR_CHARS
    assert "longer than" in note


# ---------------------------------------------------------------- encoding


def test_encode_tfidf_ships_the_fitted_encoder_and_matches_in_process(stdlib):
    local = Workspace(stdlib, "tfidf-svd")
    x0 = local.embeddings().copy()
    ws = Workspace(local.dataset, "tfidf-svd")  # its own fit, on the driver
    x1 = encode_with_ray(ws, force=True)
    assert ws.embeddings_key == local.embeddings_key
    assert x1.shape == x0.shape and x1.dtype == np.float32
    assert float((1 - (x0 * x1).sum(axis=1)).max()) <= 1e-6


def test_encode_minilm_writes_the_same_artifact_as_in_process(stdlib):
    local = Workspace(stdlib, "minilm")
    x0 = local.embeddings().copy()
    meta0 = local.embeddings_meta()
    ws = Workspace(local.dataset, "minilm")
    seen = []
    x1 = encode_with_ray(ws, batch_size=32, force=True, progress=lambda d, t, m: seen.append((d, t)))
    assert float((1 - (x0 * x1).sum(axis=1)).max()) <= 1e-6
    assert seen[-1] == (200, 200)
    # the same artifact (kind, key, meta) the in-process path writes, now from Ray
    fresh = Workspace(local.dataset, "minilm")
    np.testing.assert_array_equal(fresh.embeddings(), x1)
    meta = fresh.embeddings_meta()
    assert meta["backend"] == "ray" and meta["actors"] == 1
    assert {k: meta[k] for k in ("dataset", "fingerprint", "encoder")} == {
        k: meta0[k] for k in ("dataset", "fingerprint", "encoder")
    }
    # cached: no second encode unless forced
    t0 = time.perf_counter()
    np.testing.assert_array_equal(encode_with_ray(fresh), x1)
    assert time.perf_counter() - t0 < 5


def test_encode_refuses_what_could_never_run(stdlib):
    from core.data.dataset import Dataset

    ds = Dataset(name="v", ids=["a", "b", "c", "d"], vectors=np.eye(4, dtype=np.float32), metric="l2")
    with pytest.raises(ValueError, match="nothing to encode"):
        encode_with_ray(Workspace(ds))
    with pytest.raises(ValueError, match="could never start"):
        encode_with_ray(Workspace(stdlib, "tfidf-svd"), threads_per_actor=64, force=True)


# ---------------------------------------------------------------- sweeps


def test_sweep_rows_equal_in_process_rows_except_timings(ray_home, data):
    xb, xq, gt = data
    local = {r["label"]: r for r in run_sweep(xb, xq, gt, configs=CONFIGS, threads=1, **SWEEP)}
    got, streamed = [], []
    for row in sweep_with_ray(xb, xq, gt, configs=CONFIGS, on_row=streamed.append, **SWEEP):
        got.append(row)
    assert [r["label"] for r in got] == [r["label"] for r in streamed]
    assert sorted(r["label"] for r in got) == sorted(local)
    for row in got:
        assert row["status"] == "ok", row
        assert _same(comparable(row), comparable(local[row["label"]])) == [], row["label"]


def test_a_dead_worker_loses_no_finished_row_and_reports_its_configurations(ray_home, data):
    xb, xq, gt = data
    victim = "hnsw_flat M=8 ef_construction=20 ef_search=16"  # the 2nd of its build group

    def crash(cfg):  # runs in the worker
        if cfg.label == victim:
            os._exit(1)

    stored = []
    t0 = time.perf_counter()
    rows = list(sweep_with_ray(xb, xq, gt, configs=CONFIGS, on_row=stored.append, _inject=crash, **SWEEP))
    assert time.perf_counter() - t0 < 60
    assert stored == rows and sorted(r["label"] for r in rows) == sorted(c.label for c in CONFIGS)
    by = {r["label"]: r for r in rows}
    failed = {label for label, r in by.items() if r["status"] == "failed"}
    assert failed == {victim, "hnsw_flat M=8 ef_construction=20 ef_search=32"}
    assert "WorkerCrashedError" in by[victim]["reason"]
    # finished rows kept, including the one measured on the same build before the crash
    assert by["hnsw_flat M=8 ef_construction=20 ef_search=8"]["status"] == "ok"
    assert all(r["status"] == "ok" for label, r in by.items() if label not in failed)
    assert math.isnan(by[victim]["recall_at_k"])


def test_a_hung_task_times_out_instead_of_hanging(ray_home, data):
    xb, xq, gt = data
    configs = [c for c in CONFIGS if c.method in ("flat", "sq")]

    def hang(cfg):
        if cfg.label == "sq qtype=int4":
            time.sleep(600)

    t0 = time.perf_counter()
    rows = list(sweep_with_ray(xb, xq, gt, configs=configs, timeout_s=3, _inject=hang, **SWEEP))
    assert time.perf_counter() - t0 < 40
    by = {r["label"]: r for r in rows}
    assert by["flat"]["status"] == "ok" and by["sq qtype=int8"]["status"] == "ok"
    assert by["sq qtype=int4"]["status"] == "failed" and "timed out" in by["sq qtype=int4"]["reason"]


def test_closing_the_sweep_cancels_the_tasks_left(ray_home, data):
    import ray

    xb, xq, gt = data
    it = sweep_with_ray(xb, xq, gt, configs=CONFIGS, **SWEEP)
    first = next(it)
    assert first["status"] == "ok"
    it.close()
    deadline = time.monotonic() + 20
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ray.available_resources().get("CPU", 0) == 2


def test_bad_input_raises_before_anything_runs(ray_home, data):
    xb, xq, gt = data
    with pytest.raises(ValueError, match="metric"):
        sweep_with_ray(xb, xq, gt, metric="hamming", configs=CONFIGS)
    with pytest.raises(ValueError, match="ground truth"):
        sweep_with_ray(xb, xq, gt[:5], metric="cosine", configs=CONFIGS)
    with pytest.raises(ValueError, match="largest Ray node"):
        list(sweep_with_ray(xb, xq, gt, metric="cosine", configs=CONFIGS, threads=64))


def test_nothing_written_in_rays_default_places(ray_home):
    _, _, before = ray_home
    assert _mtimes(RAY_DEFAULT_PLACES) == before


def test_cli_encode_and_sweep_with_ray_flag(ray_home, capsys):
    """`python -m core encode ... --ray` and `sweep ... --ray` run end to end on the local instance."""
    from core.cli.main import main

    args = ["--dataset", "stdlib-docs", "--limit", "120", "--encoder", "tfidf-svd"]
    assert main(["encode", *args, "--ray"]) == 0
    assert "passages/s" in capsys.readouterr().out
    rc = main(["sweep", *args, "--methods", "flat,sq", "--queries", "20", "--ray"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "configurations ran" in out
