"""Start-up benchmark: how fast `make run` answers and the home page renders.

Starts ``streamlit run app.py`` as `make run` does (against ``$DENSESCOPE_HOME``,
which `make prepare` has filled), measures the seconds until ``/_stcore/health``
answers, then the seconds until the home page has rendered its page list in
headless Chromium (first and second visit). Targets: health within 15 s of start;
home page within 3 s.

    .venv/bin/python bench/startup.py
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_health(url: str, proc: subprocess.Popen, limit: float = 120) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return time.perf_counter() - t0
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("streamlit exited")
        time.sleep(0.05)
    raise TimeoutError("no health answer")


def main() -> int:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    t_start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        health = wait_health(url, proc)
        print(f"health answered {health:.2f} s after start (target 15 s)")
        chromium = shutil.which("chromium")
        if not chromium:
            print("chromium not installed: page render not measured")
            return 0
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            for visit in ("first", "second"):
                page = browser.new_page()
                t0 = time.perf_counter()
                page.goto(url)
                page.get_by_text("What each page answers").wait_for(timeout=120_000)
                print(f"home page rendered in {time.perf_counter() - t0:.2f} s ({visit} visit; target 3 s)")
                page.close()
            browser.close()
        print(f"total {time.perf_counter() - t_start:.1f} s")
    finally:
        proc.terminate()
        proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
