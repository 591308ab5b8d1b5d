"""Two app processes behind one proxy share one DENSESCOPE_HOME: the artifact cache and the run store.

Two Python processes run the engine's entry points at the same moment against the same home: both
compute and save the same embeddings' kNN graph and PCA map, both save and read one artifact over and
over (as two servers computing the same thing at once), and both record runs with rows. Afterwards
every run is there with its rows, every artifact loads and equals what was computed, and no process
saw a corrupt artifact or an error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from core.store.artifacts import ArtifactCache
from core.store.runs import RunStore

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 25

WORKER = textwrap.dedent('''
    import json, sys, time
    from pathlib import Path

    import numpy as np

    from core.analysis.projection import project
    from core.data.dataset import Dataset
    from core.store.artifacts import ArtifactCache, take_process_notices
    from core.store.runs import RunStore
    from core.workspace import Workspace

    me, rounds, ready, go = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ds = Dataset(name="shared", ids=[f"p{i}" for i in range(600)], vectors=x, metric="cosine")
    shared = np.arange(200_000, dtype=np.float32)  # what both processes compute for the same key
    store, cache = RunStore(), ArtifactCache()
    ready.touch()
    deadline = time.time() + 60  # never wait forever (a cleaned-up tmp folder loses the go file)
    while not go.exists() and time.time() < deadline:
        time.sleep(0.005)
    misses = 0
    for r in range(rounds):
        ws = Workspace(ds, cache=ArtifactCache())  # a new workspace each round: the graph comes from disk
        D, I = ws.knn(10)
        coords = project(ws, "pca", 2).coords
        cache.save("shared", "samekey", shared, {"by": me})
        hit = cache.load("shared", "samekey")
        if hit is None:
            misses += 1  # the other process was between its two writes: a miss, never a wrong array
        elif not np.array_equal(hit[0], shared):
            raise SystemExit("a cached array differs from what was saved")
        with store.recording("shared-home", "shared", "none", {"process": me, "round": r}) as rec:
            rec.add({"round": r, "neighbour": int(I[0, 0])})
            rec.add({"round": r, "x": float(coords[0, 0])})
    print("RESULT " + json.dumps({"notices": take_process_notices(), "misses": misses,
                                  "first_neighbours": I[:5].tolist()}))
''')


def test_two_processes_share_the_cache_and_the_run_store(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "DENSESCOPE_HOME": str(home), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    results = _run_together(tmp_path, WORKER, [("a", str(ROUNDS)), ("b", str(ROUNDS))], env)
    for r in results:
        assert r["notices"] == []  # nobody met a corrupt artifact
    assert results[0]["first_neighbours"] == results[1]["first_neighbours"]

    store = RunStore(home / "runs.sqlite")
    runs = store.list_runs("shared-home")
    assert len(runs) == 2 * ROUNDS  # no lost run
    assert {(run.params["process"], run.params["round"]) for run in runs} == {
        (me, r) for me in "ab" for r in range(ROUNDS)}
    assert {run.status for run in runs} == {"done"}
    for run in runs:
        rows = store.rows(run.id)
        assert len(rows) == 2 and list(rows["round"]) == [run.params["round"]] * 2

    cache = ArtifactCache(home / "artifacts")
    hit = cache.load("shared", "samekey")
    assert hit is not None and np.array_equal(hit[0], np.arange(200_000, dtype=np.float32))
    for record in cache.list():  # every artifact on disk loads with its checksum
        assert cache.load(record["kind"], record["key"]) is not None, record["kind"]
    assert cache.take_notices() == []


HAMMER = textwrap.dedent('''
    import json, sys, time
    from pathlib import Path

    import numpy as np

    from core.store.artifacts import ArtifactCache, take_process_notices

    role, seconds, ready, go = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    cache, shared = ArtifactCache(), np.arange(200_000, dtype=np.float32)
    ready.touch()
    deadline = time.time() + 60  # never wait forever (a cleaned-up tmp folder loses the go file)
    while not go.exists() and time.time() < deadline:
        time.sleep(0.002)
    calls, misses, errors, t0 = 0, 0, [], time.time()
    while time.time() - t0 < seconds:
        calls += 1
        try:
            if role == "writer":
                cache.save("shared", "samekey", shared)
            else:
                hit = cache.load("shared", "samekey")
                misses += hit is None
                if hit is not None and not np.array_equal(hit[0], shared):
                    errors.append("differs")
        except Exception as exc:
            errors.append(repr(exc))
    print("RESULT " + json.dumps({"calls": calls, "misses": misses, "errors": errors[:5],
                                  "notices": take_process_notices()}))
''')


def _run_together(tmp_path, script, argvs, env):
    go = tmp_path / "go"
    procs, readies = [], []
    for i, argv in enumerate(argvs):
        ready = tmp_path / f"ready-{i}"
        readies.append(ready)
        procs.append(subprocess.Popen([sys.executable, "-c", script, *argv, str(ready), str(go)], cwd=ROOT, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    deadline = time.time() + 120
    while not all(r.exists() for r in readies):
        assert all(p.poll() is None for p in procs), [p.communicate()[1][-2000:] for p in procs]
        assert time.time() < deadline, "the workers did not start"
        time.sleep(0.02)
    go.touch()  # all start at once
    results = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err[-3000:]
        results.append(json.loads(out.split("RESULT ", 1)[1]))
    return results


def test_a_reader_never_breaks_a_write_of_another_process(tmp_path):
    # One process rewrites an artifact (as a second server computing the same map) while another
    # reads it: the reader must not take the array between the writer's two files for a broken
    # write and delete it (the writer then failed, and the artifact was lost).
    home = tmp_path / "home"
    env = {**os.environ, "DENSESCOPE_HOME": str(home), "PYTHONPATH": str(ROOT)}
    writer, reader = _run_together(tmp_path, HAMMER, [("writer", "3"), ("reader", "3")], env)
    assert writer["errors"] == [] and reader["errors"] == []
    assert writer["notices"] == [] and reader["notices"] == []
    assert writer["calls"] > 10 and reader["calls"] > reader["misses"]  # reads found the artifact
    hit = ArtifactCache(home / "artifacts").load("shared", "samekey")
    assert hit is not None and np.array_equal(hit[0], np.arange(200_000, dtype=np.float32))
