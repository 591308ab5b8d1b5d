import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.store.runs import SCHEMA, RunStore, export_rows

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs.sqlite")


def test_run_lifecycle(store):
    rid = store.start_run("sweep", "stdlib-docs", "minilm", {"k": 10}, environment={"cpu": "x"})
    store.add_rows(rid, [{"method": "flat", "recall_at_k": 1.0}, {"method": "pq", "recall_at_k": np.float32(0.5)}])
    store.finish_run(rid, "done")
    run = store.get_run(rid)
    assert run.status == "done" and run.n_rows == 2 and run.params == {"k": 10}
    rows = store.rows(rid)
    assert list(rows["method"]) == ["flat", "pq"]
    assert rows["recall_at_k"].tolist() == [1.0, 0.5]


def test_wal_mode_is_on(store):
    con = sqlite3.connect(store.path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_nan_is_stored_as_null(store):
    rid = store.start_run("sweep", "d", "e", {}, environment={})
    store.add_rows(rid, [{"x": float("nan"), "y": np.float64("inf")}])
    rows = store.rows(rid)
    assert rows["x"].isna().all() and rows["y"].isna().all()


def test_recording_marks_failure_and_keeps_rows(store):
    with pytest.raises(RuntimeError), store.recording("order", "d", "e", {}) as rec:
        rec.add({"i": 1})
        raise RuntimeError("boom")
    run = store.list_runs()[0]
    assert run.status == "failed" and "boom" in run.message and run.n_rows == 1


def test_delete_removes_rows(store):
    rid = store.start_run("id", "d", "e", {}, environment={})
    store.add_rows(rid, [{"a": 1}])
    store.delete_run(rid)
    assert store.list_runs() == []
    with pytest.raises(ValueError, match="no run"):
        store.get_run(rid)


WRITER = """
import sys
from core.store.runs import RunStore
path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = RunStore(path)
rid = s.start_run("sweep", tag, "e", {}, environment={})
for i in range(n):
    s.add_rows(rid, [{"i": i, "tag": tag}])
s.finish_run(rid)
"""


def test_two_processes_write_at_once(tmp_path):
    """The app and a CLI writing runs at the same time: both finish, no row is lost.

    Plain subprocesses (not multiprocessing's spawn, which would re-run whatever script
    AppTest last left as ``__main__``).
    """
    path = str(tmp_path / "runs.sqlite")
    RunStore(path)
    root = Path(__file__).resolve().parents[1]
    procs = {
        tag: subprocess.Popen([sys.executable, "-c", WRITER, path, tag, "150"], cwd=root,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for tag in ("app", "cli")
    }
    for tag, p in procs.items():
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, f"writer {tag}: {err[-2000:]}"
    store = RunStore(path)
    runs = store.list_runs()
    assert sorted(r.dataset for r in runs) == ["app", "cli"]
    for r in runs:
        rows = store.rows(r.id)
        assert r.status == "done" and rows["i"].tolist() == list(range(150))


def test_export_formats(tmp_path, store):
    import pandas as pd

    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    for suffix in (".csv", ".parquet", ".json"):
        assert export_rows(df, tmp_path / f"out{suffix}").exists()
    with pytest.raises(ValueError, match=r"use \.csv"):
        export_rows(df, tmp_path / "out.xlsx")


# -- a run's life: owner, heartbeat, interrupted when the owner is gone ---------------------------------

KILLED_WRITER = """
import os, signal, sys
from core.store.runs import RunStore
s = RunStore(sys.argv[1])
rid = s.start_run("sweep", "d", "e", {}, environment={})
s.add_rows(rid, [{"i": 0}, {"i": 1}])
print(rid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""

TERMINATED_CLI = """
import os, signal, sys, time
from core.cli.main import stop_on_sigterm
from core.store.runs import RunStore
stop_on_sigterm()
s = RunStore(sys.argv[1])
try:
    with s.recording("order", "d", "e", {}) as rec:
        rec.add({"i": 0})
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)
except KeyboardInterrupt:
    sys.exit(130)
"""


def run_child(source: str, db) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", source, str(db)], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)


def test_a_run_killed_with_sigkill_is_interrupted_with_its_rows(tmp_path):
    db = tmp_path / "runs.sqlite"
    done = run_child(KILLED_WRITER, db)
    assert done.returncode == -9, done.stderr
    rid = int(done.stdout.split()[0])
    store = RunStore(db)
    (run,) = store.list_runs()
    assert run.id == rid and run.status == "interrupted" and run.n_rows == 2
    assert "ended without finishing" in run.message and "2 row(s) it saved are kept" in run.message
    assert list(store.rows(rid)["i"]) == [0, 1]


def test_sigterm_is_handled_like_ctrl_c(tmp_path):
    db = tmp_path / "runs.sqlite"
    done = run_child(TERMINATED_CLI, db)
    assert done.returncode == 130, done.stderr
    (run,) = RunStore(db).list_runs()
    assert run.status == "interrupted" and run.n_rows == 1 and "stopped by the user" in run.message


def test_leaving_the_page_is_an_interruption_not_a_failure(tmp_path):
    class StopException(BaseException):  # what Streamlit raises in the script thread on Stop / rerun
        pass

    store = RunStore(tmp_path / "runs.sqlite")
    with pytest.raises(StopException), store.recording("sweep", "d", "e", {}) as rec:
        rec.add({"i": 0})
        raise StopException
    with pytest.raises(RuntimeError), store.recording("sweep", "d", "e", {}):
        raise RuntimeError("boom")
    failed, stopped = store.list_runs()
    assert stopped.status == "interrupted" and "page was left" in stopped.message and stopped.n_rows == 1
    assert failed.status == "failed" and failed.message == "RuntimeError: boom"


def test_a_live_owner_keeps_its_run_running_and_a_reused_pid_does_not(tmp_path):
    import sqlite3

    store = RunStore(tmp_path / "runs.sqlite")
    live = store.start_run("sweep", "d", "e", {}, environment={})
    reused = store.start_run("sweep", "d", "e", {}, environment={})
    legacy = store.start_run("sweep", "d", "e", {}, environment={})
    with sqlite3.connect(store.path) as con:
        con.execute("UPDATE runs SET owner_start = 'not-this-process' WHERE id = ?", (reused,))
        con.execute("UPDATE runs SET owner_pid = NULL, owner_host = NULL WHERE id = ?", (legacy,))
    assert sorted(store.reap_orphans()) == [reused, legacy]
    status = {r.id: r.status for r in store.list_runs()}
    assert status == {live: "running", reused: "interrupted", legacy: "interrupted"}


def test_an_old_database_gains_the_owner_columns(tmp_path):
    import sqlite3

    db = tmp_path / "old.sqlite"
    with sqlite3.connect(db) as con:
        con.executescript(SCHEMA)
        con.execute("INSERT INTO runs (kind, dataset, encoder, params, environment, status, started)"
                    " VALUES ('sweep', 'd', 'e', '{}', '{}', 'running', 1.0)")
    (run,) = RunStore(db).list_runs()
    assert run.status == "interrupted" and "recorded no owner" in run.message


def test_compare_matches_configurations_not_measured_counts_and_says_what_changed_most():
    import pandas as pd

    from core.store.compare import change_summary, compare_runs

    a = pd.DataFrame([
        {"method": "flat", "m": None, "status": "ok", "recall_at_k": 1.0, "latency_queries": 200, "threads": 2},
        {"method": "pq", "m": 8, "status": "ok", "recall_at_k": 0.50, "latency_queries": 200, "threads": 2},
        {"method": "pq", "m": 16, "status": "ok", "recall_at_k": 0.70, "latency_queries": 200, "threads": 2},
    ])
    b = a.assign(latency_queries=150, threads=1, recall_at_k=[1.0, 0.62, 0.71])
    table = compare_runs(a, b, "#1", "#2")
    assert len(table) == 3  # matched despite different latency_queries and threads
    assert sorted(table["Δ recall_at_k"].round(3).tolist()) == [0.0, 0.01, 0.12]
    sentence = change_summary(table, "#1", "#2")
    assert sentence.startswith("recall_at_k changed most for method=pq m=8: 0.5 → 0.62 (+0.12)")
    assert "(3 configurations in both runs)" in sentence


def test_a_store_opened_while_another_process_switches_it_to_wal_retries_instead_of_failing(tmp_path):
    """Two processes opening a new store at once: SQLite fails one's WAL switch at once ("database is
    locked", no busy wait, since waiting could deadlock); the step is retried until the lock is gone."""
    import sqlite3

    from core.store.runs import retry_when_locked

    calls = []

    def step():
        calls.append(1)
        if len(calls) < 3:
            raise sqlite3.OperationalError("database is locked")
        return "done"

    assert retry_when_locked(step, pause_s=0.0) == "done" and len(calls) == 3

    def damaged():
        raise sqlite3.OperationalError("no such table: runs")

    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        retry_when_locked(damaged)  # only a lock is waited out

    def always_locked():
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(sqlite3.OperationalError, match="locked"):
        retry_when_locked(always_locked, within_s=0.05, pause_s=0.01)


def test_stores_opened_at_the_same_moment_in_many_threads_all_set_up(tmp_path):
    """Before the fix most such runs failed an opener: "database is locked" (the WAL switch) or "duplicate
    column name" (two openers adding the same column to a new store)."""
    import threading

    from core.store.runs import RunStore

    for round_ in range(6):
        path = tmp_path / f"runs-{round_}.sqlite"
        errors, start = [], threading.Barrier(6)

        def open_it(path=path, errors=errors, start=start):
            try:
                start.wait()
                RunStore(path)
            except Exception as exc:  # collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert RunStore(path).list_runs() == []
