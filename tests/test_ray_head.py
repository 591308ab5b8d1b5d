"""The command line against a real Ray head: ``encode`` and ``sweep --ray-address`` give the in-process results.

Every other Ray test starts its own instance inside the pytest process; here a head is
started the way a cluster is (``ray start --head``, a separate process tree) and the CLI
connects to it from subprocesses, as a user would. The head lives in its own session
(``start_new_session``) and its temp folder is a short private folder under /tmp (Ray's
unix sockets allow ~107 characters). It is stopped by signalling exactly the processes of
that session (SIGTERM, then SIGKILL): not ``ray stop``, which stops every Ray process on
the machine, including instances other tests or users may be running.

Run with ``-s`` to see the measured times (head start, connect, encode and sweep through
the head against in-process); docs/SCALING.md quotes them.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.scale.session import MAX_TEMP_DIR_CHARS
from core.scale.sweep import comparable
from core.store.artifacts import ArtifactCache

pytestmark = pytest.mark.ray

#: Ray's own default places for state (as in test_distributed.py): none may appear because of us.
RAY_DEFAULT_PLACES = [Path.home() / ".ray", Path(tempfile.gettempdir()) / "ray", Path("/tmp/ray")]
STDLIB = {"limit": 120, "seed": 0}
WORKSPACE = ["--dataset", "stdlib-docs", "--limit", "120", "--seed", "0", "--encoder", "tfidf-svd"]
#: Two build groups (two Ray tasks at once on 2 CPUs); HNSW streams two rows from one build.
METHODS = ["flat", "hnsw_flat"]
SWEEP = ["--methods", ",".join(METHODS), "--queries", "20"]
#: Row columns compared between the two sweeps: the measured quality and sizes.
RECALL_COLUMNS = ("recall_at_k", "ndcg_at_10", "mrr_at_10", "bytes_per_vector", "total_bytes_per_vector")


def _ray_executable() -> str | None:
    beside = Path(sys.executable).with_name("ray")
    return str(beside) if beside.is_file() else shutil.which("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mtimes(paths):
    return {p: (p.stat().st_mtime if p.exists() else None) for p in paths}


def _session_members(sid: int) -> list[int]:
    """Live (not zombie) processes of session ``sid`` (Linux ``/proc``): the head's whole process tree,
    workers included (Ray gives workers their own process groups, so a process group alone would miss them)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            if os.getsid(pid) != sid:
                continue
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state not in ("Z", "X"):
            members.append(pid)
    return members


def _signal_all(pids, sig) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _env(home: Path) -> dict:
    env = dict(os.environ)
    env.update(
        DENSESCOPE_HOME=str(home),
        RAY_AUTH_MODE="disabled",
        RAY_USAGE_STATS_ENABLED="0",
        OMP_WAIT_POLICY="PASSIVE",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    env.pop("RAY_ADDRESS", None)
    return env


@dataclass
class Head:
    """A Ray head started with ``ray start --head`` in its own session ``sid``."""

    address: str
    sid: int
    temp_dir: Path
    times: dict = field(default_factory=dict)

    def session_dir(self) -> Path:
        sessions = [p for p in self.temp_dir.glob("session_*") if p.is_dir() and not p.is_symlink()]
        assert len(sessions) == 1, sessions
        return sessions[0]

    def stop(self, grace_s: float = 3.0, wait_s: float = 15.0) -> list[int]:
        """SIGTERM every process of the head's session, SIGKILL what is left after ``grace_s``;
        remove the temp folder. Returns the processes still alive after ``wait_s`` (none expected)."""
        members = _session_members(self.sid)
        _signal_all(members, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while _session_members(self.sid) and time.monotonic() < deadline:
            time.sleep(0.1)
        _signal_all(_session_members(self.sid), signal.SIGKILL)  # gcs_server ignores SIGTERM for a while
        deadline = time.monotonic() + wait_s
        while _session_members(self.sid) and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        return _session_members(self.sid)


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    """A 2-CPU Ray head on a free port of 127.0.0.1, stopped (its session's processes only) at the end."""
    ray = _ray_executable()
    if ray is None:
        pytest.skip("the `ray` executable is not installed (pip install 'ray[data]')")
    before = _mtimes(RAY_DEFAULT_PLACES)
    temp_dir = Path(tempfile.mkdtemp(prefix="dsh", dir="/tmp"))
    assert len(str(temp_dir)) <= MAX_TEMP_DIR_CHARS
    port = _free_port()
    cmd = [
        ray, "start", "--head", "--port", str(port), "--node-ip-address", "127.0.0.1",
        "--temp-dir", str(temp_dir), "--num-cpus", "2", "--include-dashboard=false", "--disable-usage-stats",
    ]  # fmt: skip
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        env=_env(tmp_path_factory.mktemp("head-home")),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # the head's daemons keep this session id: stopped by it
    )
    node = Head(f"127.0.0.1:{port}", proc.pid, temp_dir)
    try:
        try:
            out, _ = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        node.times["head start (ray start --head)"] = time.perf_counter() - t0
        assert proc.returncode == 0, f"`ray start --head` failed:\n{out}"
        assert _session_members(node.sid), f"`ray start --head` left no process running:\n{out}"
        yield node
    finally:
        left = node.stop()
        assert not left, f"processes of the Ray head still running after SIGKILL: {left}"
        assert _mtimes(RAY_DEFAULT_PLACES) == before
        if node.times:
            print("\nreal Ray head (seconds): " + ", ".join(f"{k} {v:.1f}" for k, v in node.times.items()))


def _cli(home: Path, *args: str, timeout: float = 240) -> tuple[subprocess.CompletedProcess, int, float]:
    """``python -m core ARGS`` in a subprocess: (result, its pid, wall seconds)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", *args],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    seconds = time.perf_counter() - t0
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), proc.pid, seconds


def _workspace(home: Path, monkeypatch):
    """The CLI's workspace (``WORKSPACE``) opened in this process, in ``home``."""
    from core.workspace import Workspace

    monkeypatch.setenv("DENSESCOPE_HOME", str(home))
    return Workspace.open("stdlib-docs", "tfidf-svd", dataset_params=dict(STDLIB))


def _embeddings(home: Path, stdout: str) -> tuple[str, np.ndarray, dict]:
    """The embeddings artifact ``encode`` says it wrote: (key, array, meta), read through the cache."""
    m = re.search(r"-> (\S+\.npy)", stdout)
    assert m, stdout
    path = Path(m.group(1))
    assert path.is_relative_to(home), path
    hit = ArtifactCache(home / "artifacts").load("embeddings", path.stem)
    assert hit is not None, f"no valid embeddings artifact at {path}"
    return path.stem, hit[0], hit[1]


def _same(a, b) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


@pytest.fixture(scope="module")
def homes(tmp_path_factory):
    """A home for the runs through the head and one for the in-process runs."""
    return tmp_path_factory.mktemp("via-head"), tmp_path_factory.mktemp("in-process")


def _driver_pids(head: Head) -> set[int]:
    """Processes that connected to the head as drivers (Ray writes a log per driver in the session)."""
    logs = head.session_dir() / "logs"
    return {int(p.stem.rsplit("_", 1)[1]) for p in logs.glob("python-core-driver-*_*.log")}


# ---------------------------------------------------------------------------- tests


def test_a_session_connects_to_the_head_and_leaves_it_running(head, tmp_path):
    """`ray_session(address)` joins the head (1 node, 2 CPUs), starts nothing, and only disconnects."""
    script = (
        "import json, time\n"
        "t0 = time.perf_counter()\n"
        "from core.scale.session import ray_session\n"
        f"with ray_session({head.address!r}) as s:\n"
        "    connect_s = time.perf_counter() - t0\n"
        "    info = dict(s.info, started=s.started, temp_dir=s.temp_dir, connect_s=connect_s)\n"
        "print(json.dumps(info, default=str))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", script], env=_env(tmp_path), capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout.strip().splitlines()[-1])
    head.times["connect (import + ray.init)"] = info["connect_s"]
    assert info["nodes"] == 1 and info["cpus"] == 2, info
    assert info["started"] is False and info["temp_dir"] is None, info
    assert info["address"].endswith(f":{head.address.rsplit(':', 1)[1]}"), info
    assert not (tmp_path / "ray").exists()  # no local instance under this home
    assert _session_members(head.sid)  # the head outlives its driver


def test_encode_through_the_head_equals_in_process(head, homes, monkeypatch):
    via, local = homes
    r, pid, seconds = _cli(via, "encode", *WORKSPACE, "--ray-address", head.address)
    assert r.returncode == 0, r.stderr
    head.times["encode via head (CLI)"] = seconds
    assert "encoded 120 passages" in r.stdout, r.stdout
    key, x, meta = _embeddings(via, r.stdout)

    ws = _workspace(local, monkeypatch)  # in-process, in a home of its own
    t0 = time.perf_counter()
    x0 = ws.embeddings()
    head.times["encode in-process (in pytest)"] = time.perf_counter() - t0
    assert key == ws.embeddings_key  # the same artifact (dataset, sample, encoder config)
    assert x.shape == x0.shape == (120, x0.shape[1]) and x.dtype == np.float32
    assert float(np.abs(x - x0).max()) <= 1e-5
    assert float((1 - (x * x0).sum(axis=1)).max()) <= 1e-6
    assert meta["backend"] == "ray" and meta["cluster"].startswith("Ray: 1 node, 2 CPUs"), meta
    # it ran on that head (Ray logged this process as one of its drivers), not on a local instance
    assert pid in _driver_pids(head)
    assert not (via / "ray").exists()


def test_sweep_through_the_head_equals_in_process(head, homes, monkeypatch):
    from core.experiments.compression import plan_sweep, sweep_for_workspace

    via, _ = homes  # the embeddings encoded through the head: both sweeps search the same vectors
    out = via / "rows-head.parquet"  # exact floats (JSON keeps 10 digits)
    r, pid, seconds = _cli(via, "sweep", *WORKSPACE, *SWEEP, "--out", str(out), "--ray-address", head.address)
    assert r.returncode == 0, r.stderr
    head.times["sweep via head (CLI)"] = seconds
    assert "sweeping on Ray: 1 node, 2 CPUs" in r.stderr
    rows = pd.read_parquet(out).to_dict("records")

    ws = _workspace(via, monkeypatch)  # as `sweep` plans it without --ray-address, in this process
    t0 = time.perf_counter()
    plan = plan_sweep(ws, preset="quick", methods=METHODS, overrides={}, k=10, n_queries=20, seed=0)
    rows0 = list(sweep_for_workspace(ws, plan=plan))
    head.times["sweep in-process (in pytest)"] = time.perf_counter() - t0

    by, by0 = {row["label"]: row for row in rows}, {row["label"]: row for row in rows0}
    assert sorted(by) == sorted(by0) and len(by) == 3, sorted(by)
    for label, row in by.items():
        assert row["status"] == "ok", row
        a, b = comparable(row), comparable(by0[label])
        assert [c for c in RECALL_COLUMNS if not _same(a.get(c), b.get(c))] == [], label
    assert by["flat"]["recall_at_k"] == 1.0
    assert pid in _driver_pids(head)


def test_an_address_with_no_head_fails_at_once_with_one_line(head, tmp_path):
    """A wrong port is a clear error (exit 2), not minutes of Ray retrying."""
    port = _free_port()  # nothing listens there
    # Ray alone retries such an address for minutes (measured: over 200 s); killed at 90 s, this fails
    r, _, _ = _cli(tmp_path, "encode", "--dataset", "stdlib-docs", "--limit", "30", "--encoder", "tfidf-svd",
                   "--ray-address", f"127.0.0.1:{port}", timeout=90)  # fmt: skip
    assert r.returncode == 2, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: no Ray cluster answers at 127.0.0.1:{port}"), r.stderr
    assert "Traceback" not in r.stderr
