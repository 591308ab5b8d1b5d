"""The default sweep on tiny and odd shapes never takes the process down (issue 19).

Native libraries abort rather than raise on some inputs (faiss 1.15.1's OPQ on fewer vectors than
dimensions frees an invalid pointer), so the sweep runs in a child process: an abort fails this test
with the shape it died on, instead of killing the test runner.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: (n, d): n from 2 to 2d, d from 1 to 1,024; n < d, d not a multiple of 8, n just under and at d.
SHAPES = [(2, 1), (3, 2), (5, 7), (12, 3), (40, 13), (64, 100), (100, 64), (270, 384), (300, 512), (383, 384),
          (384, 384), (90, 1024), (257, 9), (600, 300)]

CHILD = r"""
import json, sys
import numpy as np
from core.analysis.sweep import run_sweep
from core.experiments.compression import sweep_configs
from core.index.exact import exact_search

out = []
for n, d in json.loads(sys.argv[1]):
    print(f"shape {n}x{d}", file=sys.stderr, flush=True)
    rng = np.random.default_rng(n * 1000 + d)
    x = rng.standard_normal((n + 1, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    xb, xq = x[:n], x[n:]
    k = min(10, n)
    _, gt = exact_search(xb, xq, k, "cosine")
    configs = sweep_configs("quick", None, None, n=n, d=d)
    rows = list(run_sweep(xb, xq, gt, metric="cosine", configs=configs, k=k, latency_queries=1, threads=1))
    out.append({"n": n, "d": d, "rows": [{"label": r["label"], "status": r["status"], "reason": r.get("reason")}
                                         for r in rows]})
print(json.dumps(out))
"""


@pytest.mark.parametrize("shapes", [SHAPES[:7], SHAPES[7:]], ids=["small", "n-near-d"])
def test_the_default_sweep_survives_tiny_and_odd_shapes(shapes):
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(shapes)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=900)
    died_on = [line for line in done.stderr.splitlines() if line.startswith("shape ")][-1:]
    assert done.returncode == 0, f"the sweep process ended with {done.returncode} on {died_on}: {done.stderr[-2000:]}"
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert [(r["n"], r["d"]) for r in results] == [tuple(s) for s in shapes]
    for result in results:
        assert result["rows"], result
        for row in result["rows"]:
            assert row["status"] in ("ok", "skipped", "failed"), row
            if row["status"] != "ok":
                assert row["reason"], row  # a skip says why
        if result["n"] < result["d"]:
            opq = [r for r in result["rows"] if r["label"].startswith("OPQ")]
            assert all(r["status"] == "skipped" and "rotation" in r["reason"] for r in opq), opq
