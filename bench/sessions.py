"""Benchmark: many browser sessions at once against one app server.

Baseline: one session alone, same server, same process, same machine. Then N sessions (default 10)
open Home and then the Embedding map of the demo workspace at the same moment. Prints the median
page time (request to script finished, charts drawn) for both and their ratio; the target is a
median of at most 3x one session alone (what is the same for every session, such as the workspace,
its embeddings, kNN graph and projections, is shared across sessions).

    python bench/sessions.py [--sessions 10] [--port 8599]

Needs Debian's chromium (``.ci/run`` installs it) and a prepared demo (``make prepare``).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python bench/x.py` too

from bench.appserver import free_port, start_app, stop_app

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
        "--no-first-run", "--disable-component-update", "--disable-sync"]
PAGES = ("", "/map")


def idle(page, timeout: float = 300_000) -> None:
    page.wait_for_selector("[data-testid=stApp]", timeout=timeout)
    for _ in range(2):
        page.wait_for_function(
            "() => { const a = document.querySelector('[data-testid=stApp]');"
            " return a && a.getAttribute('data-test-script-state') !== 'running'"
            " && !document.querySelector('[data-testid=stStatusWidget]'); }", timeout=timeout)
        page.wait_for_timeout(200)


def one_session(browser, url: str, out: list[float], lock: threading.Lock) -> None:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    try:
        for path in PAGES:
            t0 = time.perf_counter()
            page.goto(url + path)
            idle(page)
            if path == "/map":
                page.wait_for_selector("[data-testid=stPlotlyChart] .js-plotly-plot", timeout=300_000)
            with lock:
                out.append(time.perf_counter() - t0)
    finally:
        ctx.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    port = args.port or free_port()
    server, _ = start_app(port)
    url = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            warm: list[float] = []
            one_session(browser, url, warm, threading.Lock())  # the server's first visit loads the workspace
            alone: list[float] = []
            for _ in range(3):
                one_session(browser, url, alone, threading.Lock())
            crowd: list[float] = []
            lock = threading.Lock()
            browser.close()
            # Playwright's sync API is per thread: each session thread drives its own browser
            threads = []

            def run_one() -> None:
                with sync_playwright() as q:
                    b = q.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                    try:
                        one_session(b, url, crowd, lock)
                    finally:
                        b.close()

            for _ in range(args.sessions):
                threads.append(threading.Thread(target=run_one))
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
    finally:
        stop_app(server)
    one, many = statistics.median(alone), statistics.median(crowd)
    print(f"first visit of the server (loads the workspace): {sum(warm):.1f} s for Home + map")
    print(f"one session alone (baseline): median page {one:.2f} s over {len(alone)} pages")
    print(f"{args.sessions} sessions at once: median page {many:.2f} s over {len(crowd)} pages "
          f"(all done in {wall:.1f} s); ratio to one session {many / one:.1f}x (target <= 3x)")


if __name__ == "__main__":
    main()
