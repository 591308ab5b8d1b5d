"""Benchmark: what a big map's figure costs in bytes, per component, before and after issue 14.

    python -m bench.map_points              # 100,000 GloVe points, PCA 2-D, coloured by norm
    python -m bench.map_points --n 400000   # all of GloVe
    python -m bench.map_points --n 20000 --colour none

The figure is what the map page sends: ``plotly.io.to_json(fig)``, the string Streamlit puts in
its message. Each component (``x``, ``customdata``, ``hovertext``, ``marker.color`` ...) is
measured as its JSON text summed over the traces, in bytes per drawn point.

Baseline (ratio 1.00): the map figure as it was before (one ``Scattergl``; customdata int64;
``hovertext`` a Python list of one string per point that repeats the colour's name and value,
``"word<br>L2 norm: 4.12"``; marker colour float64), rebuilt here in the same process from the same
projection. "points" is `figures.map.map_figure` drawing each point, "density" the same map as a
density (`figures.map.density_traces`).
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def baseline_figure(coords: np.ndarray, values: np.ndarray | None, title: str, hover: list[str]):
    """The pre-issue-14 encoding of a one-trace map (what the page drew for GloVe)."""
    import plotly.graph_objects as go

    from figures.text import escape_hover

    m = coords.shape[0]
    safe = [escape_hover(h) for h in hover]
    idx = np.arange(m)
    marker = {"size": 2, "opacity": 0.6, "color": "#3b5bdb"}
    text = safe
    if values is not None:
        lo, hi = np.percentile(values, [1, 99])
        marker = {"size": 2, "opacity": 0.6, "color": values[idx].astype(np.float64), "colorscale": "Viridis",
                  "cmin": float(lo), "cmax": float(hi), "showscale": True}
        text = [f"{safe[i]}<br>{html.escape(title)}: {values[i]:.3g}" for i in range(m)]
    fig = go.Figure(go.Scattergl(x=coords[idx, 0], y=coords[idx, 1], mode="markers", customdata=idx,
                                 hovertext=[text[i] for i in idx], hoverinfo="text", marker=marker))
    fig.update_layout(template="plotly_white", height=640, uirevision="map")
    return fig


def components(spec: str) -> Counter:
    """Bytes of each trace attribute (``marker.color`` one level down), summed over traces; and ``layout``."""
    fig = json.loads(spec)
    out: Counter = Counter()
    for trace in fig["data"]:
        for key, value in trace.items():
            if isinstance(value, dict) and key in ("marker",):
                for sub, v in value.items():
                    out[f"{key}.{sub}"] += len(json.dumps(v, separators=(",", ":")))
            else:
                out[key] += len(json.dumps(value, separators=(",", ":")))
    out["layout"] = len(json.dumps(fig["layout"], separators=(",", ":")))
    return out


def typed(spec: str) -> list[str]:
    """Which attributes travel as base64 typed arrays (``bdata``)."""
    found = set()

    def walk(v, path):
        if isinstance(v, dict):
            if "bdata" in v:
                found.add(f"{path} ({v['dtype']})")
                return
            for k, x in v.items():
                walk(x, f"{path}.{k}" if path else k)

    for trace in json.loads(spec)["data"]:
        walk(trace, "")
    return sorted(found)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="GloVe words (seeded subset; 400000 = all)")
    ap.add_argument("--colour", choices=["norm", "none"], default="norm")
    args = ap.parse_args(argv)

    import plotly.io as pio

    from core.analysis.projection import hover_texts, hover_width, pca_project
    from core.data.builtin import load_dataset
    from figures.map import map_figure

    t0 = time.perf_counter()
    ds = load_dataset("glove-6b-50d", limit=args.n, seed=0)
    coords, _ = pca_project(ds.vectors, 2)
    rows = np.arange(ds.n)
    values = np.linalg.norm(ds.vectors, axis=1).astype(np.float64) if args.colour == "norm" else None
    print(f"GloVe {ds.n:,} words, PCA 2-D, colour {args.colour} (load + PCA {time.perf_counter() - t0:.1f} s)")

    builds = {
        "baseline": lambda: baseline_figure(coords, values, "L2 norm", hover_texts(ds, rows, width=80)),
        "points": lambda: map_figure(coords, colour=values, colour_kind="continuous" if values is not None else "none",
                                     colour_title="L2 norm", hover=hover_texts(ds, rows, hover_width(ds.n)),
                                     draw="points"),
        "density": lambda: map_figure(coords, colour=values,
                                      colour_kind="continuous" if values is not None else "none",
                                      colour_title="L2 norm", hover=hover_texts(ds, rows, hover_width(ds.n)),
                                      draw="density"),
    }
    specs, seconds = {}, {}
    for name, build in builds.items():
        t = time.perf_counter()
        fig = build()
        specs[name] = pio.to_json(fig, validate=False)
        seconds[name] = time.perf_counter() - t
    parts = {name: components(spec) for name, spec in specs.items()}
    keys = sorted(set().union(*parts.values()), key=lambda k: -max(p[k] for p in parts.values()))
    n = ds.n
    print(f"\n{'component (bytes per point)':<28}" + "".join(f"{name:>12}" for name in specs))
    for key in keys:
        if max(p[key] for p in parts.values()) < 0.05 * n:
            continue
        print(f"{key:<28}" + "".join(f"{parts[name][key] / n:>12.2f}" for name in specs))
    base = len(specs["baseline"])
    print(f"{'total (bytes per point)':<28}" + "".join(f"{len(s) / n:>12.2f}" for s in specs.values()))
    print(f"{'total (MB)':<28}" + "".join(f"{len(s) / 1e6:>12.2f}" for s in specs.values()))
    print(f"{'vs baseline':<28}" + "".join(f"{len(s) / base:>12.2f}" for s in specs.values()))
    print(f"{'figure + to_json (s)':<28}" + "".join(f"{seconds[k]:>12.2f}" for k in specs))
    for name, spec in specs.items():
        print(f"typed arrays, {name}: {', '.join(typed(spec)) or 'none'}")


if __name__ == "__main__":
    main()
