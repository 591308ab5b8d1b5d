"""Start and stop the app for browser benchmarks: ``streamlit run app.py`` on 127.0.0.1, waited on
until its health endpoint answers. (The browser tests keep their own fixture: tests do not import
benchmarks.)"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int | None = None, *, log_path: Path | None = None, env: dict | None = None,
              timeout: float = 90, launcher: list[str] | None = None) -> tuple[subprocess.Popen, str]:
    """The server process and its URL; RuntimeError (naming the log) when it does not come up.

    ``launcher`` replaces ``python -m streamlit`` (bench/sessions.py starts `bench.timed_server`)."""
    port = port or free_port()
    log = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed by stop_app
    proc = subprocess.Popen(
        [*(launcher or [sys.executable, "-m", "streamlit"]), "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
    )
    proc.log = log  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{port}"
    t0 = time.time()
    while True:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            pass
        if proc.poll() is not None or time.time() - t0 > timeout:
            stop_app(proc)
            raise RuntimeError("streamlit did not start" + (f"; see {log_path}" if log_path else ""))
        time.sleep(0.3)


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log = getattr(proc, "log", None)
    if log not in (None, subprocess.DEVNULL):
        log.close()
