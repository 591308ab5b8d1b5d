"""The run store: every experiment run and its result rows, in SQLite (WAL mode).

A *run* is an experiment's kind, dataset, encoder, parameters, environment,
start/end time, status and result rows. Rows are appended as they arrive, each
in its own short transaction, so an interrupted run keeps its finished rows and
the app and a CLI can write at the same time (WAL lets readers run beside one
writer; writers wait on ``busy_timeout`` instead of failing).

A run has a life: ``running`` -> ``done`` | ``failed`` | ``interrupted``. A running run records its
owner (host, pid and the process's start time) and a heartbeat (each batch of rows); a run whose
owner is gone is marked ``interrupted`` whenever runs are listed or read, its rows kept, so no run
shows "running" forever after a kill -9, a crash or a restart.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core import config

SCHEMA = """

CREATE TABLE IF NOT EXISTS runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL,
    dataset     TEXT NOT NULL,
    encoder     TEXT NOT NULL,
    params      TEXT NOT NULL,
    environment TEXT NOT NULL,
    status      TEXT NOT NULL,
    message     TEXT NOT NULL DEFAULT '',
    started     REAL NOT NULL,
    finished    REAL
);
CREATE TABLE IF NOT EXISTS rows (
    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    seq    INTEGER NOT NULL,
    data   TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS runs_started ON runs(started);
"""

STATUSES = ("running", "done", "failed", "interrupted")
#: Columns added after the first release: (name, SQL type); added in place to older databases.
OWNER_COLUMNS = (("owner_host", "TEXT"), ("owner_pid", "INTEGER"), ("owner_start", "TEXT"), ("heartbeat", "REAL"))
#: A running run of another host whose heartbeat is older than this is taken as interrupted.
STALE_HEARTBEAT_S = 6 * 3600


def process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None where unknown.

    Together with the pid it tells a live owner from a new process that reuses its pid.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def process_alive(pid: int, start: str | None) -> bool:
    """Whether ``pid`` is still the process that started at ``start``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    now = process_start(pid)
    return start is None or now is None or now == start


@dataclass(frozen=True)
class Run:
    id: int
    kind: str
    dataset: str
    encoder: str
    params: dict
    environment: dict
    status: str
    message: str
    started: float
    finished: float | None
    n_rows: int = 0

    @property
    def seconds(self) -> float | None:
        return None if self.finished is None else self.finished - self.started

    def label(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.started))
        return f"#{self.id} {self.kind} · {self.dataset} · {self.encoder} · {when} · {self.status}"

    def manifest(self) -> dict:
        """What the run is and what it was computed from: its parameters and seeds, the dataset's
        fingerprint and the encoder's configuration (when the experiment recorded them), the package
        versions and machine it ran on."""
        env = dict(self.environment)
        provenance = env.pop("provenance", {})

        def iso(t: float | None) -> str | None:
            return None if t is None else time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(t))

        seeds = {k: v for k, v in self.params.items() if "seed" in k.lower()}
        return {
            "run": self.id, "kind": self.kind, "dataset": self.dataset, "encoder": self.encoder,
            "status": self.status, "message": self.message, "started": iso(self.started),
            "finished": iso(self.finished), "rows": self.n_rows, "params": self.params, "seeds": seeds,
            "dataset_fingerprint": provenance.get("dataset_fingerprint"),
            "encoder_config": provenance.get("encoder_config"),
            "provenance": provenance, "environment": env,
        }


def _json_default(value: object) -> object:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _clean(value: object) -> object:
    """NaN/inf are not JSON: store them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def _dumps(obj: object) -> str:
    if isinstance(obj, dict):
        obj = {k: _json_default(v) if hasattr(v, "tolist") else v for k, v in obj.items()}
    return json.dumps(_clean(obj), default=_json_default, allow_nan=False)


class RunStoreDamaged(ValueError):
    """The run store's file is not a readable SQLite database (truncated, overwritten, corrupted).

    ``str(exc)`` is for the operator (it names the file); ``visitor_message`` says the same without any
    server path. The file is never written to once it is found damaged.
    """

    def __init__(self, path: Path, detail: str) -> None:
        self.path, self.detail = path, detail
        super().__init__(
            f"the run store {path} is damaged ({detail}); it was left as it is. Move it aside (for example "
            f"`mv {path} {path}.damaged`) to start a new one, or restore it from a backup; "
            "saved artifacts (embeddings, indexes) are not affected")
        self.visitor_message = (
            f"The saved runs cannot be read: the run store is damaged ({detail}). It was left untouched; the "
            "server's operator can move it aside or restore it (`densescope runs` says where it is). Pages that "
            "do not need saved runs keep working.")


def check_store_file(path: Path) -> None:
    """Raise `RunStoreDamaged` when ``path`` exists, is not empty and is not a sound SQLite database.

    Opened read-only (``mode=ro``), so a damaged file is never changed by the check.
    """
    if not path.exists() or path.stat().st_size == 0:
        return  # a new or empty store: SQLite creates the tables
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60.0)
        try:
            result = con.execute("PRAGMA quick_check").fetchone()
        finally:
            con.close()
    except sqlite3.OperationalError:
        return  # busy or locked (a writer holds it): not damage; the real connection waits for it
    except sqlite3.DatabaseError as exc:
        raise RunStoreDamaged(path, str(exc)) from None
    if not result or result[0] != "ok":
        raise RunStoreDamaged(path, f"integrity check: {result[0] if result else 'no answer'}")


def retry_when_locked(step, *, within_s: float = 60.0, pause_s: float = 0.05):
    """Run ``step()``, again while SQLite answers "database is locked", for up to ``within_s`` seconds.

    The busy timeout makes a connection wait for another's lock, except where waiting could deadlock:
    two processes opening a new store at the same moment both hold a read lock and both want to switch
    it to WAL, and SQLite then fails one of them at once instead of waiting (seen in the two-process
    test: ``PRAGMA journal_mode=WAL`` raised). Every step retried here is idempotent."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(pause_s)


#: (path, mtime, size) of store files found sound in this process: the check reads every page, once.
_SOUND_FILES: set[tuple[str, float, int]] = set()


class RunStore:
    """SQLite-backed store of runs. Cheap to create; one connection per call.

    Raises `RunStoreDamaged` (a ValueError) when the file is damaged, before anything writes to it.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else config.store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._check()
        retry_when_locked(self._set_up)

    def _set_up(self) -> None:
        with self._connect() as con:
            # WAL is a property of the database file: set once, every later connection uses it.
            if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                con.execute("PRAGMA journal_mode=WAL")
            con.executescript(SCHEMA)
            have = {row[1] for row in con.execute("PRAGMA table_info(runs)")}
            for name, kind in OWNER_COLUMNS:
                if name not in have:
                    try:
                        con.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
                    except sqlite3.OperationalError as exc:  # another opener added it in between
                        if "duplicate column name" not in str(exc):
                            raise

    def _check(self) -> None:
        """The integrity check, once per version of the file in this process (it reads every page)."""
        try:
            st = self.path.stat()
            stamp = (str(self.path), st.st_mtime, st.st_size)
        except OSError:
            return
        if stamp in _SOUND_FILES:
            return
        check_store_file(self.path)
        _SOUND_FILES.add(stamp)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        try:
            con.execute("PRAGMA busy_timeout=60000")
            con.execute("PRAGMA foreign_keys=ON")
            con.execute("PRAGMA synchronous=NORMAL")
            yield con
        finally:
            con.close()

    # -- writing ---------------------------------------------------------------
    def start_run(
        self, kind: str, dataset: str, encoder: str, params: dict, environment: dict | None = None
    ) -> int:
        from core.env import environment_info

        env = environment if environment is not None else environment_info()
        pid, now = os.getpid(), time.time()
        with self._connect() as con:
            cur = con.execute(
                "INSERT INTO runs (kind, dataset, encoder, params, environment, status, started,"
                " owner_host, owner_pid, owner_start, heartbeat) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)",
                (kind, dataset, encoder, _dumps(params), _dumps(env), now, socket.gethostname(), pid,
                 process_start(pid), now),
            )
            return int(cur.lastrowid)

    def add_rows(self, run_id: int, rows: Iterable[dict]) -> int:
        """Append rows to a run in one transaction; return how many were written."""
        rows = list(rows)
        if not rows:
            return 0
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                (start,) = con.execute(
                    "SELECT COALESCE(MAX(seq), -1) + 1 FROM rows WHERE run_id = ?", (run_id,)
                ).fetchone()
                con.executemany(
                    "INSERT INTO rows (run_id, seq, data) VALUES (?, ?, ?)",
                    [(run_id, start + i, _dumps(r)) for i, r in enumerate(rows)],
                )
                con.execute("UPDATE runs SET heartbeat = ? WHERE id = ?", (time.time(), run_id))
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return len(rows)

    def describe(self, run_id: int, provenance: dict) -> None:
        """Keep what a run was computed from (dataset fingerprint, encoder config, seeds ...) with its
        environment, for `Run.manifest`; a later call adds to (and overrides keys of) an earlier one."""
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            (env,) = con.execute("SELECT environment FROM runs WHERE id = ?", (run_id,)).fetchone()
            env = json.loads(env) if env else {}
            env["provenance"] = {**env.get("provenance", {}), **provenance}
            con.execute("UPDATE runs SET environment = ? WHERE id = ?", (_dumps(env), run_id))
            con.execute("COMMIT")

    def beat(self, run_id: int) -> None:
        """Say the run's owner is alive (between rows, during long units of work)."""
        with self._connect() as con:
            con.execute("UPDATE runs SET heartbeat = ? WHERE id = ?", (time.time(), run_id))

    def reap_orphans(self) -> list[int]:
        """Mark ``interrupted`` every running run whose owner process is gone; return their ids.

        Same host: the owner's pid no longer runs (or now belongs to another process). Another
        host: no heartbeat for `STALE_HEARTBEAT_S`. A run without an owner (written before owners
        were recorded) cannot still be running.
        """
        host, now = socket.gethostname(), time.time()
        with self._connect() as con:
            running = con.execute(
                "SELECT id, owner_host, owner_pid, owner_start, heartbeat, started,"
                " (SELECT COUNT(*) FROM rows WHERE run_id = runs.id) FROM runs WHERE status = 'running'"
            ).fetchall()
            gone = []
            for run_id, owner_host, pid, start, heartbeat, started, n_rows in running:
                if owner_host is None or pid is None:
                    why = "it was left running by an older version that recorded no owner"
                elif owner_host == host:
                    if process_alive(int(pid), start):
                        continue
                    why = f"its process (pid {pid}) ended without finishing it"
                elif now - (heartbeat or started) > STALE_HEARTBEAT_S:
                    silent_h = (now - (heartbeat or started)) / 3600
                    why = f"its process on {owner_host} has not reported for {silent_h:.0f} h"
                else:
                    continue
                con.execute(
                    "UPDATE runs SET status = 'interrupted', message = ?, finished = ?"
                    " WHERE id = ? AND status = 'running'",
                    (f"interrupted: {why}; the {n_rows} row(s) it saved are kept", heartbeat or started, run_id),
                )
                gone.append(int(run_id))
        return gone

    def finish_run(self, run_id: int, status: str = "done", message: str = "") -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        with self._connect() as con:
            con.execute(
                "UPDATE runs SET status = ?, message = ?, finished = ? WHERE id = ?",
                (status, message, time.time(), run_id),
            )

    def delete_run(self, run_id: int) -> None:
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            con.execute("DELETE FROM rows WHERE run_id = ?", (run_id,))
            con.execute("DELETE FROM runs WHERE id = ?", (run_id,))
            con.execute("COMMIT")

    @contextmanager
    def recording(self, kind: str, dataset: str, encoder: str, params: dict) -> Iterator[RunRecorder]:
        """Context manager: start a run, append rows, close it as done/failed/interrupted."""
        run_id = self.start_run(kind, dataset, encoder, params)
        recorder = RunRecorder(self, run_id)
        try:
            yield recorder
        except Exception as exc:
            self.finish_run(run_id, "failed", f"{type(exc).__name__}: {exc}")
            raise
        except BaseException as exc:
            # Ctrl-C, SIGTERM (the CLI turns it into KeyboardInterrupt), a Stop in the app or leaving
            # the page (Streamlit's control-flow exceptions derive from BaseException): not a failure.
            why = "stopped by the user" if isinstance(exc, KeyboardInterrupt) else "stopped: the page was left or rerun"
            self.finish_run(run_id, "interrupted", f"{why}; the {recorder.n_rows} row(s) it saved are kept")
            raise
        else:
            self.finish_run(run_id, "done")

    # -- reading ---------------------------------------------------------------
    def _run_from_row(self, r: tuple) -> Run:
        return Run(
            id=r[0], kind=r[1], dataset=r[2], encoder=r[3], params=json.loads(r[4]),
            environment=json.loads(r[5]), status=r[6], message=r[7], started=r[8], finished=r[9],
            n_rows=r[10],
        )

    _SELECT = (
        "SELECT r.id, r.kind, r.dataset, r.encoder, r.params, r.environment, r.status, r.message,"
        " r.started, r.finished, (SELECT COUNT(*) FROM rows WHERE run_id = r.id) FROM runs r"
    )

    def list_runs(self, kind: str | None = None, dataset: str | None = None) -> list[Run]:
        """Runs, newest first, optionally filtered by kind and dataset (orphans marked first)."""
        self.reap_orphans()
        where, args = [], []
        if kind:
            where.append("r.kind = ?")
            args.append(kind)
        if dataset:
            where.append("r.dataset = ?")
            args.append(dataset)
        sql = self._SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY r.id DESC"
        with self._connect() as con:
            return [self._run_from_row(r) for r in con.execute(sql, args).fetchall()]

    def get_run(self, run_id: int) -> Run:
        self.reap_orphans()
        with self._connect() as con:
            r = con.execute(self._SELECT + " WHERE r.id = ?", (run_id,)).fetchone()
        if r is None:
            raise ValueError(f"there is no run #{run_id}; `densescope runs` lists them")
        return self._run_from_row(r)

    def rows(self, run_id: int) -> pd.DataFrame:
        """A run's result rows as a DataFrame, in arrival order."""
        with self._connect() as con:
            data = con.execute("SELECT data FROM rows WHERE run_id = ? ORDER BY seq", (run_id,)).fetchall()
        return pd.DataFrame([json.loads(d) for (d,) in data])

    def runs_frame(self, kind: str | None = None) -> pd.DataFrame:
        """All runs as a table for display."""
        runs = self.list_runs(kind)
        return pd.DataFrame(
            [
                {
                    "id": r.id, "kind": r.kind, "dataset": r.dataset, "encoder": r.encoder,
                    "status": r.status, "rows": r.n_rows,
                    "started": pd.Timestamp(r.started, unit="s"),
                    "seconds": None if r.seconds is None else round(r.seconds, 2),
                    "message": r.message,
                }
                for r in runs
            ],
            columns=["id", "kind", "dataset", "encoder", "status", "rows", "started", "seconds", "message"],
        )


class RunRecorder:
    """Handle given by `RunStore.recording`: append rows as they arrive."""

    def __init__(self, store: RunStore, run_id: int) -> None:
        self.store = store
        self.run_id = run_id
        self.n_rows = 0

    def add(self, *rows: dict) -> None:
        self.n_rows += self.store.add_rows(self.run_id, rows)

    def describe(self, provenance: dict) -> None:
        """Record what the run is computed from (see `RunStore.describe`)."""
        self.store.describe(self.run_id, provenance)


def export_rows(df: pd.DataFrame, path: str | Path) -> Path:
    """Write rows to .csv, .parquet or .json by the file's suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        df.to_csv(path, index=False)
    elif suffix == ".parquet":
        df.to_parquet(path, index=False)
    elif suffix == ".json":
        df.to_json(path, orient="records", indent=1)
    else:
        raise ValueError(f"cannot export to {suffix or 'a file without suffix'}: use .csv, .parquet or .json")
    return path
