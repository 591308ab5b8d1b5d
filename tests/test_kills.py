"""Kills (issue 19): a killed `order --jobs 2` leaves no worker behind; a killed export leaves no folder
that looks complete."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def children_of(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").exists(), reason="needs /proc")
def test_a_killed_parallel_order_study_leaves_no_worker(tmp_path):
    env = {**os.environ, "DENSESCOPE_HOME": str(tmp_path / "home"), "OMP_WAIT_POLICY": "PASSIVE"}
    parent = subprocess.Popen(
        [sys.executable, "-m", "core", "order", "--dataset", "synthetic", "--param", "n=40000", "--param", "dim=64",
         "--param", "intrinsic_dim=16", "--backend", "faiss", "--orders", "random", "--seeds", "4",
         "--efs", "10", "--lid-k", "10", "--queries", "50", "--jobs", "2"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        workers: list[int] = []
        t0 = time.time()
        while time.time() - t0 < 240 and len(workers) < 2:  # the workers start after the LID and ground truth
            workers = [c for c in children_of(parent.pid)
                       if "spawn_main" in (Path("/proc") / str(c) / "cmdline").read_bytes().decode(errors="replace")]
            assert parent.poll() is None, "the study ended before its workers started"
            time.sleep(0.2)
        assert len(workers) >= 2, children_of(parent.pid)
        everyone = children_of(parent.pid)
        time.sleep(1.0)  # the workers are building
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        t0 = time.time()
        while time.time() - t0 < 20 and any(alive(p) for p in everyone):
            time.sleep(0.2)
        assert not [p for p in everyone if alive(p)], "processes outlived their parent"
    finally:
        if parent.poll() is None:
            parent.kill()
        for p in children_of(parent.pid):
            os.kill(p, signal.SIGKILL)


def test_an_export_that_dies_midway_leaves_no_folder_that_looks_complete(tmp_path, monkeypatch):
    from core.index import export
    from core.index.registry import build

    x = np.random.default_rng(0).standard_normal((200, 16)).astype(np.float32)
    built = build("sq", x, "l2", {"qtype": "int8"})
    ids = [f"d{i}" for i in range(200)]
    target = tmp_path / "densescope-sq"

    def killed(path):
        raise KeyboardInterrupt  # as if the process were stopped while checksumming the files

    monkeypatch.setattr(export, "_sha256", killed)
    with pytest.raises(KeyboardInterrupt):
        export.write_export(target, built, {}, 10, ids)
    assert not target.exists() and list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    out = export.write_export(target, built, {}, 10, ids)
    assert (target / "manifest.json").exists() and (target / "search.py").exists() and out["n"] == 200
    assert [p.name for p in tmp_path.iterdir()] == ["densescope-sq"]  # no partial folder left beside it
    export.write_export(target, built, {}, 5, ids)  # writing again replaces it whole
    assert [p.name for p in tmp_path.iterdir()] == ["densescope-sq"]
