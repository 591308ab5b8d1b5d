"""Two sweeps on Ray at once in one process (two app sessions are two threads of the server): they share
one Ray connection, and the first to finish does not shut Ray down under the second (issue 19)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, threading, time
import numpy as np
from core.analysis.sweep import expand_grid
from core.index.exact import exact_search
from core.scale import session as ray_sessions
from core.scale.sweep import sweep_with_ray

rng = np.random.default_rng(0)
x = rng.standard_normal((1050, 16)).astype(np.float32)
x /= np.linalg.norm(x, axis=1, keepdims=True)
xb, xq = x[:1000], x[1000:]
_, gt = exact_search(xb, xq, 10, "cosine")
short = expand_grid(["flat"], {})
long = expand_grid(["flat", "sq", "hnsw_flat", "binary"], {"hnsw_flat": {"M": [8, 16], "ef_search": [16, 64]}})
results, errors = {}, []
entered = {"short": threading.Event(), "long": threading.Event()}

def sweep(name, configs, linger):
    other = entered["long" if name == "short" else "short"]

    def progress(done, total, message=""):
        entered[name].set()  # inside Ray: wait until the other run is inside too, so they overlap
        other.wait(120)

    try:
        rows = []
        for row in sweep_with_ray(xb, xq, gt, metric="cosine", configs=configs, k=10, latency_queries=5,
                                  progress=progress):
            rows.append(row)
            time.sleep(linger)
        results[name] = [r["status"] for r in rows]
    except BaseException as exc:
        errors.append(f"{name}: {type(exc).__name__}: {exc}")

threads = [threading.Thread(target=sweep, args=("short", short, 0.0)),
           threading.Thread(target=sweep, args=("long", long, 0.3))]
for t in threads:
    t.start()
for t in threads:
    t.join(600)
import ray
print(json.dumps({"results": results, "errors": errors, "users": ray_sessions.ray_users(),
                  "initialized": ray.is_initialized()}))
"""


def test_two_ray_sweeps_at_once_share_one_connection_and_both_finish(tmp_path):
    from core.scale.session import ray_available

    if not ray_available():
        pytest.skip("ray is not installed")
    env = {**os.environ, "DENSESCOPE_HOME": str(tmp_path / "h"), "RAY_AUTH_MODE": "disabled",
           "RAY_USAGE_STATS_ENABLED": "0", "OMP_WAIT_POLICY": "PASSIVE"}
    done = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["errors"] == [], out
    assert out["results"]["short"] == ["ok"] and len(out["results"]["long"]) > 4
    assert all(s == "ok" for s in out["results"]["long"]), out
    assert out["users"] == 0 and out["initialized"] is False  # closed once the last run left
