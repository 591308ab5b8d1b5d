"""Figures of the Embedding map page: the WebGL scatter of a 2-D/3-D projection, or its density.

What a big map costs in the browser (``python -m bench.map_browser``, ``python -m bench.map_points``).
The figure travels as JSON that Streamlit's front end parses, re-serialises and parses again before
plotly.js draws it, so bytes per point count, and so does what plotly.js must do per point:

* **Typed arrays.** Every per-point number is a numpy array, which plotly.py writes as base64
  (``bdata``): coordinates as ``uint16`` on a 65,536-step grid over the points' range
  (`map_grid`; 2 bytes a coordinate, the axes show no ticks), positions (``customdata``) as int32.
* **No per-point colour arrays.** Mapping 400,000 numbers through a colour scale cost plotly.js
  seconds in software; a continuous colour is drawn as `COLOUR_LEVELS` traces of one colour each
  (the hover names the level's range of values), categories as one trace each.
* **Short labels.** Hover text is one escaped string per point (the id, then a text cut shorter the
  more points there are); what is the same for every point goes once, in a ``hovertemplate``.

Drawing is the other cost: in Chromium without a GPU WebGL runs in software and a zoom repaints
100,000 points in about a second, 400,000 in two to three. Above `POINTS_LIMIT` points a 2-D map is
therefore drawn by default as a density (`density_traces`: one heatmap of counts per cell, repainted
in a blink), each cell's hover naming its first items; ``draw="points"`` still draws every point.
"""

from __future__ import annotations

import html
from collections import Counter

import numpy as np
import plotly.graph_objects as go

from figures.colours import OTHER_COLOUR, PALETTE
from figures.text import escape_hover

#: Categories drawn with their own colour and legend entry; the rest are "other".
MAX_CATEGORIES = 20
# PALETTE, OTHER_COLOUR: figures/colours.py (no two categories closer than ΔE 27, none a grey like "other").
#: The ring around every item a search matched: a green at least ΔE 30 from every category colour, the
#: grey of "other", white and the neighbour/missed marks.
MATCH_COLOUR = "#00d000"
#: Above this many points a 2-D map is drawn as a density unless points are asked for: in Chromium
#: without a GPU a zoom repaints 100,000 WebGL points in about a second, 400,000 in 2-3 s
#: (bench/README.md, "Map in the browser").
POINTS_LIMIT = 100_000
#: How a map can be drawn: each point, counts per cell, or points up to `POINTS_LIMIT`.
DRAW_MODES = ("auto", "points", "density")
#: Cells of the density grid (x, y): about 3 screen pixels each on a 1,200 x 640 chart.
DENSITY_BINS = (400, 200)
#: Points per cell, light to dark blue (a cell of one point is still visible on white).
DENSITY_SCALE = [[0.0, "#9ecae1"], [0.5, "#2171b5"], [1.0, "#08306b"]]
#: Items a density cell's hover names (its first ones, in dataset order).
CELL_EXAMPLES = 3
#: Steps of the coordinate grid the figure's points are placed on (`map_grid`).
GRID_STEPS = 65_535
#: Colour levels of a continuous colour (one trace each, Viridis sampled at the level's middle).
COLOUR_LEVELS = 32


def _natural_key(value) -> tuple:
    """Sort key reading the digits in a label as numbers: cluster 2 before cluster 10."""
    import re

    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part.lower())
                 for part in re.split(r"(\d+)", str(value)) if part)


def legend_order(categories) -> list:
    """``categories`` in the order a legend lists them: by name, numbers as numbers (0, 1, 2, … 10)."""
    return sorted(categories, key=_natural_key)


def draws_density(m: int, dims: int, draw: str = "auto", points_limit: int = POINTS_LIMIT) -> bool:
    """Whether a map of ``m`` points is drawn as a density: 2-D only, asked for or above the limit."""
    if draw not in DRAW_MODES:
        raise ValueError(f"draw must be one of {', '.join(DRAW_MODES)}, got {draw!r}")
    return dims == 2 and (draw == "density" or (draw == "auto" and m > points_limit))


def map_grid(coords: np.ndarray) -> np.ndarray:
    """``coords`` ``(m, dims)`` as ``uint16`` steps ``0 … GRID_STEPS`` along each axis (same shape).

    Each axis is scaled on its own over the points' range: 2 bytes a coordinate, and 1/65,535 of
    the range stays below a pixel until the map is zoomed some fifty times.
    """
    coords = np.asarray(coords, dtype=np.float64)
    if coords.shape[0] == 0:
        return np.zeros(coords.shape, dtype=np.uint16)
    lo, hi = coords.min(axis=0), coords.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return np.rint((coords - lo) / span * GRID_STEPS).astype(np.uint16)


def _trace(grid: np.ndarray, idx: np.ndarray, hover: np.ndarray | None, *, name: str, marker: dict,
           showlegend: bool = True, template: str = "%{hovertext}", webgl: bool = True) -> go.BaseTraceType:
    """One scatter trace of the points ``idx`` (positions into ``grid``), every array a typed array.

    ``customdata`` is each point's position, ``hovertext`` its escaped label and ``template`` what
    the label shows (``%{hovertext}`` plus, for colour values, the level's range).
    """
    dims = grid.shape[1]
    idx = np.asarray(idx, dtype=np.int32)
    common = {
        "mode": "markers",
        "name": name,
        "marker": marker,
        "customdata": idx,
        "showlegend": showlegend,
    }
    if hover is not None:
        common["hovertext"] = hover[idx]
        common["hovertemplate"] = template + "<extra></extra>"
    else:
        common["hoverinfo"] = "none"  # no label, but hover and click events (selection) still fire
    xyz = {axis: grid[idx, j] for j, axis in enumerate("xyz"[:dims])}
    if dims == 3:
        return go.Scatter3d(**xyz, **common)
    return (go.Scattergl if webgl else go.Scatter)(**xyz, **common)


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
    matches: np.ndarray | None = None,
    matches_name: str = "matches",
    height: int = 640,
    draw: str = "auto",
    points_limit: int = POINTS_LIMIT,
) -> go.Figure:
    """Scatter of ``coords`` ``(m, 2|3)``: WebGL (``Scattergl`` / ``Scatter3d``), or a density.

    Args:
        colour: ``(m,)`` categories (``colour_kind="category"``) or numbers
            (``"continuous"``, NaN drawn grey as "no value"), or ``None``.
        hover: ``(m,)`` plain texts; escaped here (`escape_hover`).
        note: what is drawn ("20,000 of 400,000 points, a random sample (seed 0)"),
            shown under the title.
        selected, neighbours, missed: positions (into ``coords``) to highlight: the
            chosen point, its exact neighbours, and those an approximate method missed.
        matches: positions of every item a search matched, ringed (``matches_name`` in the legend).
        draw: ``"points"``, ``"density"`` (2-D only) or ``"auto"``: a density above
            ``points_limit`` points (`draws_density`). The density says so under the title.

    The figure's coordinates are `map_grid` steps, not ``coords`` themselves. Every point
    trace's ``customdata`` is the point's position in ``coords``, so a selection event maps back
    to a point whatever trace it hit. Over a density the highlights are SVG scatter traces (a
    handful of points, no WebGL), and clickable.
    """
    coords = np.asarray(coords, dtype=np.float32)
    m, dims = coords.shape
    if dims not in (2, 3):
        raise ValueError(f"coords must have 2 or 3 columns, got {dims}")
    if hover is not None and len(hover) != m:
        raise ValueError(f"hover has {len(hover)} texts for {m} points")
    density = draws_density(m, dims, draw, points_limit)
    grid = map_grid(coords)
    fig = go.Figure()
    if density:
        # a density names a few items per cell: only those texts (and the highlights') are escaped
        raw = None if hover is None else np.asarray(hover, dtype=object)
        safe_hover = None if raw is None else np.full(m, "", dtype=object)
        for trace in density_traces(grid, colour=colour, colour_kind=colour_kind, colour_title=colour_title,
                                    hover=raw):
            fig.add_trace(trace)
        if raw is not None:
            marked = [np.asarray(a, dtype=np.int64).ravel() for a in (neighbours, missed, selected, matches)
                      if a is not None]
            for i in np.unique(np.concatenate(marked)) if marked else []:
                safe_hover[i] = escape_hover(raw[i])
    else:
        safe_hover = None if hover is None else np.asarray([escape_hover(h) for h in hover], dtype=object)
        _add_point_traces(fig, grid, colour, colour_kind, colour_title, safe_hover)
    big = 7 if dims == 2 else 5
    svg = not density  # highlights over a density are SVG: no WebGL context for three markers
    if matches is not None and len(matches):
        fig.add_trace(_trace(grid, np.asarray(matches), safe_hover, name=escape_hover(matches_name, 60), webgl=svg,
                             marker={"size": big + 5, "color": "rgba(0,0,0,0)",
                                     "line": {"color": MATCH_COLOUR, "width": 2}}))
    if neighbours is not None and len(neighbours):
        fig.add_trace(_trace(grid, np.asarray(neighbours), safe_hover, name="exact neighbours", webgl=svg,
                             marker={"size": big + 3, "color": "rgba(0,0,0,0)",
                                     "line": {"color": "#111111", "width": 2}}))
    if missed is not None and len(missed):
        fig.add_trace(_trace(grid, np.asarray(missed), safe_hover, name=escape_hover(missed_name, 60), webgl=svg,
                             marker={"size": big + 3, "color": "#e03131", "symbol": "x"}))
    if selected is not None:
        fig.add_trace(_trace(grid, np.asarray([selected]), safe_hover, name="selected point", webgl=svg, marker={
            "size": big + 7, "color": "#f59f00", "symbol": "diamond", "line": {"color": "#111111", "width": 1}}))
    heading = html.escape(title)
    if density:
        what = {"continuous": f"the mean {colour_title or 'value'} of its points",
                "category": "its most frequent category"}.get(colour_kind if colour is not None else "", "its points")
        note = (f"{note}; " if note else "") + (
            f"drawn as a density: each cell of a {DENSITY_BINS[0]}x{DENSITY_BINS[1]} grid coloured by {what}; "
            "hover a cell for its count and first items")
    if note:
        heading += f"<br><sup>{html.escape(note)}</sup>"
    axis_titles = axis_titles or ("",) * dims
    bar = colour_kind == "continuous" or (density and colour_kind != "category")
    fig.update_layout(
        title={"text": heading, "x": 0.01},
        height=height,
        template="plotly_white",
        margin={"l": 10, "r": 10, "t": 70, "b": 40 if bar else 10},
        # a colour bar takes the right edge: the legend then goes under the map, so the two never overlap
        legend={"itemsizing": "constant", "font": {"size": 11},
                # under the x axis title, not over it (plotly grows the bottom margin to fit it)
                **({"orientation": "h", "x": 0, "y": -0.07 if axis_titles and axis_titles[0] else 0,
                    "yanchor": "top"} if bar else {})},
        uirevision="map",
        hoverlabel={"align": "left"},
    )
    if dims == 3:
        fig.update_layout(scene={f"{a}axis": {"title": {"text": axis_titles[j]}, "showticklabels": False}
                                 for j, a in enumerate("xyz")})
    else:
        fig.update_xaxes(title_text=axis_titles[0], showticklabels=False, zeroline=False, showgrid=not density)
        fig.update_yaxes(title_text=axis_titles[1], showticklabels=False, zeroline=False, showgrid=not density)
    return fig


def colour_levels(values: np.ndarray, levels: int = COLOUR_LEVELS) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Continuous ``values`` (finite) cut into ``levels`` equal steps between their 1st and 99th percentiles.

    Returns ``level`` int64 ``(m,)`` (values beyond the percentiles go to the end levels), ``edges``
    float64 ``(levels + 1,)`` with the true minimum and maximum as outer edges, and the colour
    scale's ``lo, hi``.
    """
    values = np.asarray(values, dtype=np.float64)
    lo, hi = (np.percentile(values, [1, 99]) if values.size else (0.0, 1.0))
    if hi - lo <= 1e-6 * max(abs(lo), abs(hi)):  # one value up to rounding (every norm 1.0): a scale of
        centre = (lo + hi) / 2  # ±1 % around it, so its ticks read 0.99 … 1.01, not 1.000000001
        half = max(abs(float(centre)) * 0.01, 1e-6)
        lo, hi = centre - half, centre + half
    level = np.clip(np.floor((values - lo) / (hi - lo) * levels), 0, levels - 1).astype(np.int64)
    edges = np.linspace(lo, hi, levels + 1)
    if values.size:
        edges[0], edges[-1] = min(float(values.min()), lo), max(float(values.max()), hi)
    return level, edges, float(lo), float(hi)


def _add_point_traces(fig: go.Figure, grid: np.ndarray, colour, colour_kind: str, colour_title: str,
                      safe_hover: np.ndarray | None) -> None:
    """One trace per colour category or colour level, each of one colour (no per-point colour arrays)."""
    m, dims = grid.shape
    size = 4 if m <= 5_000 else 3 if m <= 50_000 else 2
    if dims == 3:  # scatter3d draws a marker of size s larger than a 2-D one: smaller, or the scene is one blob
        size = {4: 2.5, 3: 1.8}.get(size, 1.2)
    base = {"size": size, "opacity": 0.75 if m <= 20_000 else 0.6}
    if colour_kind == "category" and colour is not None:
        labels = np.asarray(colour, dtype=object)
        counts = Counter(labels.tolist()).most_common()
        top = legend_order(c for c, _ in counts[:MAX_CATEGORIES])  # the most frequent, listed by name
        rest = [c for c, _ in counts[MAX_CATEGORIES:]]
        if rest:
            idx = np.flatnonzero(~np.isin(labels, top))
            fig.add_trace(_trace(grid, idx, safe_hover, name=f"other ({len(rest):,} categories)",
                                 marker={**base, "color": OTHER_COLOUR}))
            fig.data[-1].legendrank = 1001  # drawn first (underneath), listed last
        for j, cat in enumerate(top):
            idx = np.flatnonzero(labels == cat)
            fig.add_trace(_trace(grid, idx, safe_hover, name=escape_hover(str(cat), 40),
                                 marker={**base, "color": PALETTE[j % len(PALETTE)]}))
    elif colour_kind == "continuous" and colour is not None:
        import plotly.colors as pc

        values = np.asarray(colour, dtype=np.float64)
        ok = np.isfinite(values)
        if (~ok).any():
            fig.add_trace(_trace(grid, np.flatnonzero(~ok), safe_hover, name="no value",
                                 marker={**base, "color": OTHER_COLOUR}))
        finite = np.flatnonzero(ok)
        level, edges, lo, hi = colour_levels(values[finite])
        colours = pc.sample_colorscale("Viridis", [(j + 0.5) / COLOUR_LEVELS for j in range(COLOUR_LEVELS)])
        name = escape_hover(colour_title or "value", 60)
        # later traces paint over earlier ones: the middle levels first, the extremes on top
        middle = float(np.median(level)) if level.size else COLOUR_LEVELS / 2
        for j in sorted(range(COLOUR_LEVELS), key=lambda j: (abs(j - middle), j)):
            idx = finite[level == j]
            if idx.size:
                fig.add_trace(_trace(grid, idx, safe_hover, name=f"{name} {edges[j]:.3g}–{edges[j + 1]:.3g}",
                                     showlegend=False, marker={**base, "color": colours[j]},
                                     template=f"%{{hovertext}}<br>{name}: {edges[j]:.3g}–{edges[j + 1]:.3g}"))
        # the colour bar: one invisible point carries the scale
        scale = {"color": [lo], "colorscale": "Viridis", "cmin": lo, "cmax": hi, "showscale": True, "size": 0,
                 "colorbar": {"title": {"text": html.escape(colour_title)}, "thickness": 14, "tickformat": ".4~g"}}
        empty = {"x": [None], "y": [None], "mode": "markers", "hoverinfo": "skip", "showlegend": False,
                 "name": name, "marker": scale}
        fig.add_trace(go.Scatter3d(z=[None], **empty) if dims == 3 else go.Scattergl(**empty))
    else:
        fig.add_trace(_trace(grid, np.arange(m), safe_hover, name="points", showlegend=False,
                             marker={**base, "color": "#3b5bdb"}))


def density_cells(grid: np.ndarray, bins: tuple[int, int] = DENSITY_BINS):
    """The cells of a density map over `map_grid` coordinates ``grid`` ``(m, 2)``.

    Returns ``cell`` int64 ``(m,)`` (``iy * bins[0] + ix``) and the cells' centres along x
    ``(bins[0],)`` and y ``(bins[1],)``, in grid units. The grid spans ``0 … GRID_STEPS``.
    """
    grid = np.asarray(grid, dtype=np.int64)
    nx, ny = bins
    ix = np.minimum(grid[:, 0] * nx // (GRID_STEPS + 1), nx - 1)
    iy = np.minimum(grid[:, 1] * ny // (GRID_STEPS + 1), ny - 1)
    centre_x = (np.arange(nx) + 0.5) * (GRID_STEPS + 1) / nx
    centre_y = (np.arange(ny) + 0.5) * (GRID_STEPS + 1) / ny
    return iy * nx + ix, centre_x, centre_y


def density_traces(grid: np.ndarray, *, colour=None, colour_kind: str = "none", colour_title: str = "",
                   hover: np.ndarray | None = None, bins: tuple[int, int] = DENSITY_BINS) -> list:
    """A 2-D map (`map_grid` coordinates) as one heatmap over ``bins`` cells, empty cells left out.

    Colour: points per cell on a log scale; with continuous colours, the mean value of the cell's
    points; with categories, the cell's most frequent category (legend entries as for points).
    Each cell's hover: its count and its first `CELL_EXAMPLES` items (``hover``: plain texts, escaped
    here), in position order (dataset order: for GloVe, the most frequent words first).
    """
    nx, ny = bins
    cell, centre_x, centre_y = density_cells(grid, bins)
    counts = np.bincount(cell, minlength=nx * ny)
    filled = counts > 0
    order = np.argsort(cell, kind="stable")  # positions grouped by cell, ascending within a cell
    starts = np.concatenate([[0], np.cumsum(counts)])[:-1]
    text = np.full(nx * ny, "", dtype=object)
    for c in np.flatnonzero(filled):
        n_c = int(counts[c])
        first = order[starts[c]: starts[c] + min(n_c, CELL_EXAMPLES)]
        names = [escape_hover(hover[i], 60) for i in first] if hover is not None else []
        more = " …" if n_c > len(first) and names else ""
        text[c] = f"{n_c:,} point{'s' if n_c != 1 else ''}" + "".join(f"<br>{t}" for t in names) + more
    common = {"x": centre_x.astype(np.float32), "y": centre_y.astype(np.float32),
              "hovertemplate": "%{text}<extra></extra>", "hoverongaps": False, "name": "density",
              "showlegend": False}
    traces: list = []
    if colour_kind == "continuous" and colour is not None:
        values = np.asarray(colour, dtype=np.float64)
        ok = np.isfinite(values)
        sums = np.bincount(cell[ok], weights=values[ok], minlength=nx * ny)
        n_ok = np.bincount(cell[ok], minlength=nx * ny)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n_ok > 0, sums / np.maximum(n_ok, 1), np.nan)
        _, _, lo, hi = colour_levels(values[ok])
        name = escape_hover(colour_title or "value", 60)
        text = np.array([t + (f"<br>mean {name}: {v:.3g}" if t and np.isfinite(v) else "")
                         for t, v in zip(text.tolist(), mean.tolist(), strict=True)], dtype=object)
        z = np.where(filled & ~np.isfinite(mean), lo, mean)  # a cell of points without a value: the low colour
        z = np.where(filled, z, np.nan)
        traces.append(go.Heatmap(z=z.reshape(ny, nx).astype(np.float32), text=text.reshape(ny, nx).tolist(),
                                 colorscale="Viridis", zmin=lo, zmax=hi,
                                 colorbar={"title": {"text": "mean " + html.escape(colour_title)}, "thickness": 14,
                                           "tickformat": ".4~g"},
                                 **common))
    elif colour_kind == "category" and colour is not None:
        labels = np.asarray(colour, dtype=object)
        ranked = [c for c, _ in Counter(labels.tolist()).most_common()]
        top = legend_order(ranked[:MAX_CATEGORIES])  # the most frequent, listed by name
        code_of = {c: j for j, c in enumerate(top)}
        other = len(top)
        codes = np.asarray([code_of.get(c, other) for c in labels.tolist()], dtype=np.int64)
        k = other + 1
        per = np.bincount(cell * k + codes, minlength=nx * ny * k).reshape(nx * ny, k)
        dominant = per.argmax(axis=1)
        share = per.max(axis=1) / np.maximum(counts, 1)
        names = [escape_hover(str(c), 40) for c in top] + [f"other ({max(len(ranked) - len(top), 0):,} categories)"]
        text = np.array([t + (f"<br>mostly {names[d]} ({s:.0%})" if t else "")
                         for t, d, s in zip(text.tolist(), dominant.tolist(), share.tolist(), strict=True)],
                        dtype=object)
        colours = [PALETTE[j % len(PALETTE)] for j in range(len(top))] + [OTHER_COLOUR]
        scale = []
        for j, c in enumerate(colours):  # a stepped colour scale: code j is colour j
            scale += [[j / k, c], [(j + 1) / k, c]]
        z = np.where(filled, dominant + 0.5, np.nan)
        traces.append(go.Heatmap(z=z.reshape(ny, nx).astype(np.float32), text=text.reshape(ny, nx).tolist(),
                                 colorscale=scale, zmin=0, zmax=k, showscale=False, **common))
        for j, name in enumerate(names):  # legend entries (no points): one per colour
            if j == other and len(ranked) <= len(top):
                continue
            traces.append(go.Scatter(x=[None], y=[None], mode="markers", name=name, hoverinfo="skip",
                                     marker={"size": 9, "color": colours[j], "symbol": "square"}))
    else:
        with np.errstate(divide="ignore"):
            z = np.where(filled, np.log10(np.maximum(counts, 1)), np.nan)
        top = max(float(np.nanmax(z)) if filled.any() else 1.0, 1.0)
        ticks = list(range(int(np.floor(top)) + 1))
        traces.append(go.Heatmap(z=z.reshape(ny, nx).astype(np.float32), text=text.reshape(ny, nx).tolist(),
                                 colorscale=DENSITY_SCALE, zmin=0, zmax=top,
                                 colorbar={"title": {"text": "points per cell"}, "thickness": 14,
                                           "tickvals": ticks, "ticktext": [f"{10 ** t:,}" for t in ticks]},
                                 **common))
    return traces


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
