"""Benchmark: a big Embedding map in Chromium without a GPU: bytes sent, time to the drawn chart, zoom repaint.

    python -m bench.map_browser                          # 20k, 100k, 400k GloVe points, PCA 2-D
    python -m bench.map_browser --sizes 20000 --draws points
    python -m bench.map_browser --shots tests/artifacts  # also save map-<n>[-<draw>].png there

Starts its own ``streamlit run app.py`` (as tests/test_browser.py does) with ``DENSESCOPE_HOME``
in a temporary folder, encodes nothing (GloVe is a vector dataset: its workspaces are opened and
their embeddings cached first), and drives Debian's chromium (``--disable-gpu``: WebGL runs in
software) through Playwright. For each size and drawing mode (``--draws``: ``auto`` is what the
page picks, a density above `figures.map.POINTS_LIMIT` points; ``points`` forces every point):

* **request → chart**: from ``page.goto`` of the map's link (``budget=<n>&draw=<mode>``; the PCA
  map is computed on this request, it is not cached yet) until the plotly chart's
  ``.plot-container`` exists with all its points (or its density grid) and Streamlit's script state
  is no longer ``running``.
* **bytes**: the largest websocket message of the page (the one carrying the figure), and the
  figure JSON's own size.
* **zoom repaint**: ``Plotly.relayout`` to 80 % of the axis ranges, timed until ``plotly_afterplot``
  and two animation frames later (the frame is on screen); the median of three.
* **hover**: the mouse moved over the chart's centre until plotly's hover label shows (its text is
  printed: the item's id).

Baseline (ratio 1.00): the 20,000-point map drawn as points (the page's old default budget), in
the same browser and server, so the load of the shared machine cancels out in the ratios.
Run it once at full size: it takes a few minutes on two cores; `uptime` is printed before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as `python bench/x.py` too

from bench.appserver import start_app, stop_app

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync",
]

#: Records the size of every websocket message the page receives (the figure travels in one).
WATCH_SOCKET = """
window.__ws_sizes = [];
const NativeWS = window.WebSocket;
window.WebSocket = function (...args) {
  const ws = new NativeWS(...args);
  ws.addEventListener('message', e => window.__ws_sizes.push(e.data.byteLength || e.data.size || e.data.length || 0));
  return ws;
};
window.WebSocket.prototype = NativeWS.prototype;
Object.assign(window.WebSocket, NativeWS);
"""

#: True once the chart holds ``n`` drawn points (or its density grid) and the script is idle.
DRAWN = """([n, density]) => {
  const app = document.querySelector('[data-testid=stApp]');
  if (!app || app.getAttribute('data-test-script-state') === 'running') return false;
  const g = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');
  if (!g || !g.querySelector('.plot-container') || !g._fullData) return false;
  if (density) return g._fullData.some(t => t.type === 'heatmap') && !!g.querySelector('.hm image');
  const drawn = g._fullData.filter(t => t.type === 'scattergl' && t.customdata
                                        && !String(t.name).match(/neighbours|missed|selected/))
                           .reduce((s, t) => s + (t._length || 0), 0);
  return drawn === n && !!g.querySelector('canvas');
}"""

ZOOM = """async () => {
  const g = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');
  const frames = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  await frames();
  const xr = g._fullLayout.xaxis.range, yr = g._fullLayout.yaxis.range;
  const mid = (r, f) => [(r[0] + r[1]) / 2 - (r[1] - r[0]) * f / 2, (r[0] + r[1]) / 2 + (r[1] - r[0]) * f / 2];
  const t0 = performance.now();
  const after = new Promise(r => g.once('plotly_afterplot', () => r(performance.now())));
  await Plotly.relayout(g, {'xaxis.range': mid(xr, 0.8), 'yaxis.range': mid(yr, 0.8)});
  await Promise.race([after, new Promise(r => setTimeout(r, 5000))]);
  await frames();
  return performance.now() - t0;
}"""


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except OSError:
        return "uptime unavailable"


def prepare(sizes: list[int]) -> None:
    """Open each GloVe workspace once so its embeddings are cached (the page then opens at once)."""
    from core.workspace import Workspace

    for n in sizes:
        Workspace.open("glove-6b-50d", dataset_params={"limit": n, "seed": 0}).embeddings()


def map_link(n: int, draw: str) -> str:
    return "/map?" + urlencode({
        "dataset": "glove-6b-50d", "encoder": "given-vectors",
        "params": json.dumps({"limit": n, "seed": 0}, separators=(",", ":")),
        "projection": "pca", "dims": 2, "colour": "norm", "budget": n, "draw": draw,
    })


def measure(browser, url: str, n: int, draw: str, shots: Path | None) -> dict:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    from figures.map import draws_density

    density = draws_density(n, 2, draw)
    ctx = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = ctx.new_page()
    page.add_init_script(WATCH_SOCKET)
    try:
        t0 = time.perf_counter()
        page.goto(url + map_link(n, draw))
        page.wait_for_function(DRAWN, arg=[n, density], timeout=300_000, polling=100)
        drawn_s = time.perf_counter() - t0
        sizes = page.evaluate("window.__ws_sizes")
        figure_bytes = page.evaluate(
            "() => { const g = document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot');"
            " return JSON.stringify({data: g.data, layout: g.layout}).length; }")
        zooms = [page.evaluate(ZOOM) / 1000 for _ in range(3)]
        page.evaluate("() => Plotly.relayout(document.querySelector('[data-testid=stPlotlyChart] .js-plotly-plot'),"
                      " {'xaxis.autorange': true, 'yaxis.autorange': true})")
        page.wait_for_timeout(500)
        box = page.locator("[data-testid=stPlotlyChart] .nsewdrag").first.bounding_box()
        t = time.perf_counter()
        hover_text = ""
        for dx in (0, 7, -9, 13, -17, 23):  # the centre may be an empty spot: try a few nearby
            page.mouse.move(box["x"] + box["width"] / 2 + dx, box["y"] + box["height"] / 2 + dx / 2)
            try:
                page.wait_for_selector("[data-testid=stPlotlyChart] .hoverlayer .hovertext", timeout=4000,
                                       state="attached")
                hover_text = " | ".join(page.locator("[data-testid=stPlotlyChart] .hoverlayer .hovertext")
                                        .all_text_contents())
                break
            except PlaywrightTimeout:  # no label at this spot: try the next
                continue
        hover_s = time.perf_counter() - t
        if shots is not None:
            shots.mkdir(parents=True, exist_ok=True)
            name = f"map-{n // 1000}k" + ("" if draw == "auto" else f"-{draw}") + ".png"
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.wait_for_timeout(300)
            page.screenshot(path=str(shots / name), full_page=False)
        errors = page.locator("[data-testid=stException]").count()
        return {"n": n, "draw": draw, "density": density, "drawn_s": drawn_s, "message_bytes": max(sizes or [0]),
                "figure_bytes": figure_bytes, "zoom_s": statistics.median(zooms), "zooms": zooms,
                "hover_s": hover_s, "hover": hover_text[:80], "errors": errors}
    finally:
        ctx.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="20000,100000,400000", help="GloVe words (seeded subsets)")
    ap.add_argument("--draws", default="auto,points", help="drawing modes to measure above POINTS_LIMIT")
    ap.add_argument("--shots", type=Path, default=None, help="folder for a screenshot of each map")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from figures.map import POINTS_LIMIT

    sizes = [int(s) for s in args.sizes.split(",")]
    draws = [d.strip() for d in args.draws.split(",")]
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is not installed (Debian's chromium package)")
    print(f"load before: {uptime()}")
    with tempfile.TemporaryDirectory(prefix="densescope-bench-") as home:
        os.environ["DENSESCOPE_HOME"] = home
        t = time.perf_counter()
        prepare(sizes)
        print(f"workspaces ready in {time.perf_counter() - t:.1f} s; POINTS_LIMIT = {POINTS_LIMIT:,}")
        proc, url = start_app(log_path=Path(home) / "streamlit.log", env={"DENSESCOPE_HOME": home})
        results = []
        try:
            from playwright.sync_api import sync_playwright

            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page()  # warm the server's imports and the browser's cache of the app
                page.goto(url + map_link(min(sizes), "points"))
                page.wait_for_function(DRAWN, arg=[min(sizes), False], timeout=300_000)
                page.close()
                for n in sizes:
                    for draw in (draws if n > POINTS_LIMIT else ["auto"]):
                        r = measure(browser, url, n, draw, args.shots)
                        results.append(r)
                        print(f"  measured {n:,} {draw}: {r['drawn_s']:.1f} s", flush=True)
                browser.close()
        finally:
            stop_app(proc)
    base = next((r for r in results if r["n"] == 20_000 and not r["density"]), results[0])
    print(f"\nGloVe, PCA 2-D, coloured by norm, Chromium --disable-gpu; baseline: {base['n']:,} points drawn as points")
    print(f"{'points':>8} {'drawn as':>9} {'message':>9} {'B/point':>8} {'request→chart':>14} {'vs base':>8} "
          f"{'zoom repaint':>13} {'vs base':>8} {'hover':>7}  hover label")
    for r in results:
        kind = "density" if r["density"] else "points"
        print(f"{r['n']:>8,} {kind:>9} {r['message_bytes'] / 1e6:>7.2f}MB {r['message_bytes'] / r['n']:>8.1f} "
              f"{r['drawn_s']:>12.1f} s {r['drawn_s'] / base['drawn_s']:>8.2f} {r['zoom_s']:>11.2f} s "
              f"{r['zoom_s'] / base['zoom_s']:>8.2f} {r['hover_s']:>5.1f} s  {r['hover'] or '(none)'}"
              + (f"  [{r['errors']} exception boxes]" if r["errors"] else ""))
    print(f"\nload after: {uptime()}")


if __name__ == "__main__":
    main()
