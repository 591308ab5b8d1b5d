"""Figures of the Embedding map page: the WebGL scatter of a 2-D/3-D projection."""

from __future__ import annotations

import html
from collections import Counter

import numpy as np
import plotly.graph_objects as go

from figures.text import escape_hover

#: Categories drawn with their own colour and legend entry; the rest are "other".
MAX_CATEGORIES = 20
PALETTE = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
    "#17becf", "#393b79", "#ad494a", "#637939", "#8c6d31", "#7b4173", "#3182bd", "#e6550d", "#31a354",
    "#756bb1", "#636363",
]
OTHER_COLOUR = "#c8c8c8"


def _trace(coords: np.ndarray, idx: np.ndarray, hover: list[str] | None, *, name: str, marker: dict,
           showlegend: bool = True) -> go.BaseTraceType:
    dims = coords.shape[1]
    common = {
        "mode": "markers",
        "name": name,
        "marker": marker,
        "customdata": idx,
        "showlegend": showlegend,
        "hovertext": None if hover is None else [hover[i] for i in idx],
        "hoverinfo": "text" if hover is not None else "x+y",
    }
    if dims == 3:
        return go.Scatter3d(x=coords[idx, 0], y=coords[idx, 1], z=coords[idx, 2], **common)
    return go.Scattergl(x=coords[idx, 0], y=coords[idx, 1], **common)


def map_figure(
    coords: np.ndarray,
    *,
    colour: np.ndarray | None = None,
    colour_kind: str = "none",
    colour_title: str = "",
    hover: list[str] | None = None,
    title: str = "",
    note: str = "",
    axis_titles: tuple[str, ...] | None = None,
    selected: int | None = None,
    neighbours: np.ndarray | None = None,
    missed: np.ndarray | None = None,
    missed_name: str = "missed",
    height: int = 640,
) -> go.Figure:
    """Scatter of ``coords`` ``(m, 2|3)``: WebGL (``Scattergl`` / ``Scatter3d``).

    Args:
        colour: ``(m,)`` categories (``colour_kind="category"``) or numbers
            (``"continuous"``, NaN drawn grey as "no value"), or ``None``.
        hover: ``(m,)`` plain texts; escaped here (`escape_hover`).
        note: what is drawn ("showing 20,000 of 400,000 points, random sample, seed 0"),
            shown under the title.
        selected, neighbours, missed: positions (into ``coords``) to highlight: the
            chosen point, its exact neighbours, and those an approximate method missed.

    Every trace's ``customdata`` is the point's position in ``coords``, so a selection
    event maps back to a point whatever trace it hit.
    """
    coords = np.asarray(coords, dtype=np.float32)
    m, dims = coords.shape
    if dims not in (2, 3):
        raise ValueError(f"coords must have 2 or 3 columns, got {dims}")
    safe_hover = None if hover is None else [escape_hover(h) for h in hover]
    size = 4 if m <= 5_000 else 3 if m <= 50_000 else 2
    if dims == 3:
        size = max(size - 1, 1.5)
    base = {"size": size, "opacity": 0.75 if m <= 20_000 else 0.6}
    fig = go.Figure()
    everyone = np.arange(m)
    if colour_kind == "category" and colour is not None:
        labels = np.asarray(colour, dtype=object)
        counts = Counter(labels.tolist()).most_common()
        top = [c for c, _ in counts[:MAX_CATEGORIES]]
        rest = [c for c, _ in counts[MAX_CATEGORIES:]]
        if rest:
            idx = np.flatnonzero(~np.isin(labels, top))
            fig.add_trace(_trace(coords, idx, safe_hover, name=f"other ({len(rest):,} categories)",
                                 marker={**base, "color": OTHER_COLOUR}))
        for j, cat in enumerate(top):
            idx = np.flatnonzero(labels == cat)
            fig.add_trace(_trace(coords, idx, safe_hover, name=escape_hover(str(cat), 40),
                                 marker={**base, "color": PALETTE[j % len(PALETTE)]}))
    elif colour_kind == "continuous" and colour is not None:
        values = np.asarray(colour, dtype=np.float64)
        ok = np.isfinite(values)
        if (~ok).any():
            fig.add_trace(_trace(coords, np.flatnonzero(~ok), safe_hover, name="no value",
                                 marker={**base, "color": OTHER_COLOUR}))
        idx = np.flatnonzero(ok)
        lo, hi = (np.percentile(values[ok], [1, 99]) if ok.any() else (0.0, 1.0))
        hover_c = None
        if safe_hover is not None:
            hover_c = [f"{safe_hover[i]}<br>{html.escape(colour_title)}: {values[i]:.3g}" for i in range(m)]
        fig.add_trace(_trace(coords, idx, hover_c, name=colour_title or "value", showlegend=False, marker={
            **base, "color": values[idx], "colorscale": "Viridis", "cmin": float(lo),
            "cmax": float(hi if hi > lo else lo + 1e-9), "showscale": True,
            "colorbar": {"title": {"text": html.escape(colour_title)}, "thickness": 14},
        }))
    else:
        fig.add_trace(_trace(coords, everyone, safe_hover, name="points", showlegend=False,
                             marker={**base, "color": "#3b5bdb"}))
    big = 7 if dims == 2 else 5
    if neighbours is not None and len(neighbours):
        nb = np.asarray(neighbours, dtype=np.int64)
        fig.add_trace(_trace(coords, nb, safe_hover, name="exact neighbours", marker={
            "size": big + 3, "color": "rgba(0,0,0,0)", "line": {"color": "#111111", "width": 2}}))
    if missed is not None and len(missed):
        ms = np.asarray(missed, dtype=np.int64)
        fig.add_trace(_trace(coords, ms, safe_hover, name=escape_hover(missed_name, 60), marker={
            "size": big + 3, "color": "#e03131", "symbol": "x"}))
    if selected is not None:
        fig.add_trace(_trace(coords, np.asarray([selected]), safe_hover, name="selected point", marker={
            "size": big + 7, "color": "#f59f00", "symbol": "diamond", "line": {"color": "#111111", "width": 1}}))
    heading = html.escape(title)
    if note:
        heading += f"<br><sup>{html.escape(note)}</sup>"
    axis_titles = axis_titles or ("",) * dims
    fig.update_layout(
        title={"text": heading, "x": 0.01},
        height=height,
        template="plotly_white",
        margin={"l": 10, "r": 10, "t": 70, "b": 40 if colour_kind == "continuous" else 10},
        # a colour bar takes the right edge: the legend then goes under the map, so the two never overlap
        legend={"itemsizing": "constant", "font": {"size": 11},
                **({"orientation": "h", "x": 0, "y": 0, "yanchor": "top"} if colour_kind == "continuous" else {})},
        uirevision="map",
        hoverlabel={"align": "left"},
    )
    if dims == 3:
        fig.update_layout(scene={f"{a}axis": {"title": {"text": axis_titles[j]}, "showticklabels": False}
                                 for j, a in enumerate("xyz")})
    else:
        fig.update_xaxes(title_text=axis_titles[0], showticklabels=False, zeroline=False)
        fig.update_yaxes(title_text=axis_titles[1], showticklabels=False, zeroline=False)
    return fig


def figure_html(fig: go.Figure) -> bytes:
    """A standalone HTML file of the figure (plotly.js embedded, so it opens offline)."""
    return fig.to_html(include_plotlyjs=True, full_html=True).encode()


def figure_png(fig: go.Figure, width: int = 1200, height: int | None = None) -> bytes:
    """PNG bytes via kaleido (which drives a local Chrome/Chromium; raises if none is found)."""
    import plotly.io as pio

    return pio.to_image(fig, format="png", width=width, height=height or fig.layout.height or 640, scale=1)


def png_export_status() -> tuple[bool, str]:
    """Whether `figure_png` can work here: kaleido is installed and it can find a Chrome/Chromium.

    Returns ``(available, reason)``. kaleido 1.x finds the browser through choreographer
    (``$BROWSER_PATH``, else the usual names on ``PATH``, e.g. Debian's ``/usr/bin/chromium``).
    """
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return False, "PNG export needs the kaleido package"
    try:
        from choreographer.utils._which import get_browser_path

        path = get_browser_path()
    except Exception:  # a private helper of another package: any failure means "unknown"
        import os
        import shutil

        path = os.environ.get("BROWSER_PATH") or next(
            (p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome", "chrome")) if p),
            None,
        )
    if not path:
        return False, "PNG export needs Chrome or Chromium for kaleido (set BROWSER_PATH); none was found"
    return True, path
