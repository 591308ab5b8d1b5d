"""First visits: how long a person waits for each page, on a cold server and on a warm one.

One app process is started (after `densescope prepare`: the demo's runs and caches exist); each page is
opened once in a fresh browser context, in order, which is that page's cold visit (its imports, its
first cached reads in this process); then every page again in new contexts (warm). Wall seconds from
`goto` until the script has stopped running and no status widget is left, in Chromium at 1366x900.
Baseline: the bare Streamlit page of ``../shared/tools/server_cpu.py`` (a plotly scatter of 2,648
points and a 100-row table), served by its own process, visited the same way first.

    python -m bench.first_visits [--pages home,data,...] [--dataset glove-6b-50d --pages query,map]

Targets (issue 23): warm <= 3 s, cold <= 6 s for every page.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.appserver import free_port, start_app, stop_app

PAGES = ["home", "data", "map", "query", "intrinsic", "order", "compression", "spaces", "papers", "runs"]
BARE = '''import numpy as np, plotly.express as px, streamlit as st
st.title("baseline")
x = np.random.default_rng(0).standard_normal((2648, 2))
st.plotly_chart(px.scatter(x=x[:, 0], y=x[:, 1]))
st.dataframe({"a": list(range(100)), "b": [str(i) for i in range(100)]})
'''
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
        "--no-first-run", "--disable-component-update", "--disable-sync"]


def idle(page) -> None:
    page.wait_for_selector("[data-testid=stApp]", timeout=300_000)
    for _ in range(2):
        page.wait_for_function("() => { const a = document.querySelector('[data-testid=stApp]');"
                               " return a && a.getAttribute('data-test-script-state') !== 'running'"
                               " && !document.querySelector('[data-testid=stStatusWidget]'); }", timeout=300_000)
        page.wait_for_timeout(200)


def visit(browser, url: str) -> float:
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    t0 = time.perf_counter()
    page.goto(url)
    idle(page)
    seconds = time.perf_counter() - t0 - 0.4  # the two 0.2 s settling waits
    ctx.close()
    return seconds


def bare_server() -> tuple[subprocess.Popen, str]:
    folder = Path(tempfile.mkdtemp(prefix="first-visits-"))
    (folder / "bare.py").write_text(BARE)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "bare.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1"], cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the baseline server did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", default=",".join(PAGES))
    ap.add_argument("--dataset", default=None, help="open every page on this dataset (?dataset=...)")
    ap.add_argument("--encoder", default="given-vectors", help="with --dataset: its encoder")
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    query = f"?dataset={a.dataset}&encoder={a.encoder}" if a.dataset else ""
    bare, bare_url = bare_server()
    app, url = start_app()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            cold_base, warm_base = visit(browser, bare_url), visit(browser, bare_url)
            print(f"{'baseline':12s} cold {cold_base:5.2f} s   warm {warm_base:5.2f} s")
            pages = a.pages.split(",")
            cold = {page: visit(browser, f"{url}/{'' if page == 'home' else page}{query}") for page in pages}
            for page in pages:
                warm = visit(browser, f"{url}/{'' if page == 'home' else page}{query}")
                print(f"{page:12s} cold {cold[page]:5.2f} s   warm {warm:5.2f} s   (x{warm / warm_base:.2f} the "
                      "baseline's warm visit)")
            browser.close()
    finally:
        stop_app(app)
        bare.kill()


if __name__ == "__main__":
    main()
