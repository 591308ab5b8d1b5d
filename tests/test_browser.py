"""Browser tests: the real app in headless Chromium, driven by Playwright.

Starts ``streamlit run app.py`` on a free port against the test home, opens the
pages a person clicks through, asserts what they must see and that no exception
box is drawn, and saves screenshots under ``tests/artifacts/``.
Skipped where Debian's chromium is not installed (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    port = _free_port()
    env = {**os.environ, "DENSESCOPE_HOME": os.environ["DENSESCOPE_HOME"]}
    log = open(ROOT / ".pytest-home" / "streamlit.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--client.showErrorDetails", "full"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    t0 = time.time()
    try:
        while True:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() - t0 > 60:
                raise RuntimeError(f"streamlit did not start; see {log.name}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    yield pg
    ctx.close()


def wait_app_idle(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_selector("[data-testid=stApp]", timeout=timeout)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=timeout
    )


def assert_no_exception(page) -> None:
    boxes = page.locator("[data-testid=stException]")
    assert boxes.count() == 0, boxes.first.inner_text()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_home_and_data_pages_show_the_demo_dataset(app_url, page):
    page.goto(app_url)
    wait_app_idle(page)
    page.get_by_text("What each page answers").wait_for(timeout=60_000)
    assert page.get_by_text("stdlib-docs").count() > 0
    assert_no_exception(page)
    shot(page, "home")

    page.goto(app_url + "/data")
    wait_app_idle(page)
    page.get_by_text("Sample items").wait_for(timeout=60_000)
    page.get_by_text("Add your own data").wait_for(timeout=60_000)
    assert page.get_by_text("stdlib-docs").count() > 0
    assert_no_exception(page)
    shot(page, "data")


def test_map_page_draws_a_plotly_map(app_url, page):
    import json
    from urllib.parse import quote

    params = {"n": 2000, "dim": 32, "intrinsic_dim": 4, "noise": 0.0, "n_clusters": 3, "seed": 0}
    query = f"?dataset=synthetic&encoder=given-vectors&params={quote(json.dumps(params, separators=(',', ':')))}"
    page.goto(app_url + "/map" + query)
    wait_app_idle(page, timeout=120_000)
    page.get_by_text("What does the space of").wait_for(timeout=120_000)
    page.wait_for_selector("[data-testid=stPlotlyChart] .js-plotly-plot", timeout=120_000)
    assert page.locator("[data-testid=stPlotlyChart]").count() >= 1
    assert page.get_by_text("all 2,000 points").count() > 0
    assert_no_exception(page)
    shot(page, "map")


def test_query_page_shows_one_result_column_per_method(app_url, page):
    import json
    from urllib.parse import quote

    params = {"limit": 300, "seed": 0}
    query = f"?dataset=stdlib-docs&encoder=tfidf-svd&params={quote(json.dumps(params, separators=(',', ':')))}"
    page.goto(app_url + "/query" + query)
    wait_app_idle(page, timeout=120_000)
    encode = page.get_by_role("button", name="Encode now")
    ready = page.get_by_text("Do different indexes return the same answers")
    encode.or_(ready).first.wait_for(timeout=120_000)
    if encode.count():  # the first run in this test home: encode the 300 passages (seconds with tfidf-svd)
        encode.click()
        ready.wait_for(timeout=120_000)
        wait_app_idle(page, timeout=120_000)
    box = page.get_by_label("Query text", exact=True)
    box.fill("read a file line by line")
    box.press("Enter")
    page.get_by_text("Of this query's exact top-10, each method found").wait_for(timeout=120_000)
    wait_app_idle(page, timeout=120_000)
    methods = ["flat", "hnsw_flat", "pq", "binary"]
    headings = [h.strip() for h in page.locator("h4").all_inner_texts()]
    assert headings == methods, headings
    # one result table per method, plus the overlap matrix
    tables = page.locator("[data-testid=stDataFrame]")
    tables.nth(len(methods)).wait_for(timeout=60_000)
    assert tables.count() == len(methods) + 1
    assert page.get_by_text("recall@10 = 1.00").count() >= 1
    assert_no_exception(page)
    page.set_viewport_size({"width": 1400, "height": 2000})  # the app scrolls inside: show the columns too
    page.wait_for_selector("[data-testid=stPlotlyChart] .js-plotly-plot", timeout=60_000)
    shot(page, "query")
