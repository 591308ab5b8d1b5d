"""``streamlit run`` with a timing hook on every script run, for bench/sessions.py.

    DENSESCOPE_SCRIPT_TIMING_LOG=/tmp/runs.jsonl python -m bench.timed_server run app.py --server.port 8599

The hook is on only when ``DENSESCOPE_SCRIPT_TIMING_LOG`` names a file: each call of Streamlit's
``ScriptRunner._run_script`` (one script run and the reruns it handles at once) appends one JSON line:
the session id, the page asked for, wall seconds and the script thread's own CPU seconds
(``time.thread_time``), and its start and end (``time.time``). That is the server's script time apart
from everything else: the browser's work, and the server's own serving of static files and websocket
messages (which bench/sessions.py counts in the server's CPU from /proc). Nothing in the app changes.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

LOG_ENV = "DENSESCOPE_SCRIPT_TIMING_LOG"
_lock = threading.Lock()


def install(log_path: str) -> None:
    """Wrap ``ScriptRunner._run_script`` so each call appends its timing to ``log_path``."""
    from streamlit.runtime.scriptrunner import script_runner

    original = script_runner.ScriptRunner._run_script

    def timed_run_script(self, rerun_data):
        t0, c0, started = time.perf_counter(), time.thread_time(), time.time()
        try:
            return original(self, rerun_data)
        finally:
            record = {"session": self._session_id, "page": rerun_data.page_name or "",
                      "query": rerun_data.query_string or "", "wall_s": time.perf_counter() - t0,
                      "cpu_s": time.thread_time() - c0, "start": started, "end": time.time()}
            with _lock, open(log_path, "a") as f:
                f.write(json.dumps(record) + "\n")

    script_runner.ScriptRunner._run_script = timed_run_script


def main() -> None:
    log_path = os.environ.get(LOG_ENV)
    if log_path:
        install(log_path)
    from streamlit.web import cli

    sys.argv = ["streamlit", *sys.argv[1:]]
    cli.main()


if __name__ == "__main__":
    main()
