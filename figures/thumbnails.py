"""Thumbnails of Home's *Start here* cards: small static SVG charts, pure functions of a card's arrays.

An SVG string is a few kilobytes the browser draws with no script (a plotly chart per card would ship its
figure JSON and run plotly.js six times on the cheapest page). Every label is XML-escaped; numbers are
written with a fixed precision, so the same data gives the same bytes (cacheable across sessions).
"""

from __future__ import annotations

import math
from html import escape

import numpy as np

WIDTH, HEIGHT = 320, 150
PAD = {"l": 34, "r": 8, "t": 8, "b": 22}
INK, GRID, MUTED = "#343a40", "#dee2e6", "#adb5bd"
BLUE, RED, GREEN, ORANGE = "#1c7ed6", "#e03131", "#2f9e44", "#f59f00"
SERIES = (BLUE, ORANGE, GREEN, RED, "#9c36b5")
FONT = 'font-family="sans-serif" font-size="10"'


def _svg(body: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
            f'height="{HEIGHT}" role="img"><title>{escape(title)}</title>'
            f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>' + "".join(body) + "</svg>")


def _scale(lo: float, hi: float, a: float, b: float):
    span = (hi - lo) or 1.0
    return lambda v: a + (float(v) - lo) / span * (b - a)


def _frame(y_lo: float, y_hi: float, y_fmt: str = "{:.0%}") -> list[str]:
    """Axes box with three horizontal grid lines labelled on the left."""
    x0, x1, y0, y1 = PAD["l"], WIDTH - PAD["r"], HEIGHT - PAD["b"], PAD["t"]
    sy = _scale(y_lo, y_hi, y0, y1)
    out = []
    for v in np.linspace(y_lo, y_hi, 3):
        y = sy(v)
        out.append(f'<line x1="{x0}" x2="{x1}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{x0 - 3}" y="{y + 3:.1f}" text-anchor="end" fill="{INK}" {FONT}>'
                   f'{escape(y_fmt.format(v))}</text>')
    return out


def _dot(x: float, y: float, r: float, fill: str, extra: str = "") -> str:
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r}" fill="{fill}"{extra}/>'


def map_thumbnail(x, y, *, found=None, missed=None, selected=None, title: str = "map") -> str:
    """Map points in grey, the selected point, its neighbours the method found (green) and missed (red ✕)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    pts = [np.column_stack([x, y])]
    pts += [np.asarray(a, dtype=float).reshape(-1, 2) for a in (found, missed) if a is not None]
    allp = np.vstack(pts) if pts else np.zeros((0, 2))
    if allp.size == 0:
        return _svg([], title)
    sx = _scale(allp[:, 0].min(), allp[:, 0].max(), 6, WIDTH - 6)
    sy = _scale(allp[:, 1].min(), allp[:, 1].max(), HEIGHT - 6, 6)
    body = [_dot(sx(a), sy(b), 1.4, MUTED) for a, b in zip(x, y, strict=True)]
    for a, b in np.asarray(found if found is not None else np.zeros((0, 2)), dtype=float).reshape(-1, 2):
        body.append(_dot(sx(a), sy(b), 3, GREEN))
    for a, b in np.asarray(missed if missed is not None else np.zeros((0, 2)), dtype=float).reshape(-1, 2):
        cx, cy = sx(a), sy(b)
        body.append(f'<path d="M{cx - 3:.1f},{cy - 3:.1f}L{cx + 3:.1f},{cy + 3:.1f}M{cx - 3:.1f},{cy + 3:.1f}'
                    f'L{cx + 3:.1f},{cy - 3:.1f}" stroke="{RED}" stroke-width="2"/>')
    if selected is not None:
        a, b = np.asarray(selected, dtype=float).ravel()[:2]
        body.append(_dot(sx(a), sy(b), 5, "none", f' stroke="{INK}" stroke-width="2"'))
    return _svg(body, title)


def bar_thumbnail(labels, values, *, means=None, zoom: bool = False, title: str = "bars") -> str:
    """One bar per label (a share in [0, 1]); ``means`` drawn as a tick on each bar; ``zoom`` starts the axis
    just below the smallest value, so differences of a few points show."""
    values = [float(v) for v in values]
    if not values:
        return _svg([], title)
    lo = 0.0
    if zoom:
        lo = max(0.0, math.floor((min(values) - 0.02) * 50) / 50)
    hi = 1.0 if not zoom else min(1.0, math.ceil((max(values) + 0.005) * 100) / 100)
    body = _frame(lo, hi, "{:.0%}" if hi - lo > 0.05 else "{:.1%}")
    x0, x1, y0 = PAD["l"], WIDTH - PAD["r"], HEIGHT - PAD["b"]
    sy = _scale(lo, hi, y0, PAD["t"])
    slot = (x1 - x0) / len(values)
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        left, w = x0 + i * slot + slot * 0.15, slot * 0.7
        top = sy(max(v, lo))
        body.append(f'<rect x="{left:.1f}" y="{top:.1f}" width="{w:.1f}" height="{max(y0 - top, 0):.1f}" '
                    f'fill="{SERIES[i % len(SERIES)]}"/>')
        if means is not None:
            my = sy(max(float(means[i]), lo))
            body.append(f'<line x1="{left:.1f}" x2="{left + w:.1f}" y1="{my:.1f}" y2="{my:.1f}" stroke="{INK}" '
                        'stroke-dasharray="3,2" stroke-width="1.5"/>')
        body.append(f'<text x="{left + w / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle" fill="{INK}" {FONT}>'
                    f'{escape(str(label)[:18])}</text>')
    return _svg(body, title)


def scatter_thumbnail(x, y, *, pick=None, budget=None, floor=None, log_x: bool = True, title: str = "scatter") -> str:
    """Configurations as dots (bytes per vector against recall), the budget as a vertical line, the recall
    floor as a horizontal one and the picked configuration circled."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0 if log_x else True)
    x, y = x[keep], y[keep]
    if x.size == 0:
        return _svg([], title)
    fx = np.log10 if log_x else (lambda v: v)
    lo = max(0.0, math.floor(y.min() * 10) / 10)
    body = _frame(lo, 1.0)
    sx = _scale(float(fx(x.min())), float(fx(x.max())), PAD["l"] + 4, WIDTH - PAD["r"] - 4)
    sy = _scale(lo, 1.0, HEIGHT - PAD["b"], PAD["t"])
    if floor is not None:
        body.append(f'<line x1="{PAD["l"]}" x2="{WIDTH - PAD["r"]}" y1="{sy(floor):.1f}" y2="{sy(floor):.1f}" '
                    f'stroke="{GREEN}" stroke-dasharray="4,3"/>')
    if budget is not None and budget > 0:
        bx = min(max(sx(float(fx(budget))), PAD["l"]), WIDTH - PAD["r"])
        body.append(f'<line x1="{bx:.1f}" x2="{bx:.1f}" y1="{PAD["t"]}" y2="{HEIGHT - PAD["b"]}" stroke="{RED}" '
                    'stroke-dasharray="4,3"/>')
    body += [_dot(sx(float(fx(a))), sy(b), 2.6, BLUE, ' fill-opacity="0.75"') for a, b in zip(x, y, strict=True)]
    if pick is not None:
        body.append(_dot(sx(float(fx(pick[0]))), sy(pick[1]), 5.5, "none", f' stroke="{INK}" stroke-width="2"'))
    body.append(f'<text x="{WIDTH - PAD["r"]}" y="{HEIGHT - 8}" text-anchor="end" fill="{INK}" {FONT}>'
                f'bytes per vector{" (log)" if log_x else ""} →</text>')
    return _svg(body, title)


def line_thumbnail(series: dict, *, log_x: bool = False, title: str = "lines") -> str:
    """One line per ``name -> (x, y)`` (y a share in [0, 1]), with a small legend at the lower left (where
    falling recall curves leave room)."""
    if not series:
        return _svg([], title)
    xs = np.concatenate([np.asarray(v[0], dtype=float) for v in series.values()])
    ys = np.concatenate([np.asarray(v[1], dtype=float) for v in series.values()])
    fx = np.log2 if log_x else (lambda v: v)
    lo = max(0.0, math.floor(ys.min() * 10) / 10)
    body = _frame(lo, 1.0)
    sx = _scale(float(fx(xs.min())), float(fx(xs.max())), PAD["l"] + 4, WIDTH - PAD["r"] - 4)
    sy = _scale(lo, 1.0, HEIGHT - PAD["b"], PAD["t"])
    for i, (name, (x, y)) in enumerate(series.items()):
        colour = SERIES[i % len(SERIES)]
        pts = " ".join(f"{sx(float(fx(a))):.1f},{sy(b):.1f}" for a, b in zip(x, y, strict=True))
        body.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>')
        body.append(f'<text x="{PAD["l"] + 6}" y="{HEIGHT - PAD["b"] - 6 - 12 * (len(series) - 1 - i)}" '
                    f'fill="{colour}" {FONT}>{escape(str(name))}</text>')
    xlo, xhi = xs.min(), xs.max()
    body.append(f'<text x="{PAD["l"]}" y="{HEIGHT - 8}" fill="{INK}" {FONT}>{xlo:g}</text>')
    body.append(f'<text x="{WIDTH - PAD["r"]}" y="{HEIGHT - 8}" text-anchor="end" fill="{INK}" {FONT}>'
                f'{xhi:g} intrinsic dim.</text>')
    return _svg(body, title)


def histogram_thumbnail(values, *, bins: int = 11, lo: float = 0.0, hi: float = 1.0, title: str = "histogram") -> str:
    """A histogram of shares in [``lo``, ``hi``] (items per bin as bar heights, the mean as a dashed line)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return _svg([], title)
    counts, edges = np.histogram(values, bins=bins, range=(lo, hi))
    share = counts / counts.sum()
    top = max(float(share.max()), 1e-9)
    body = _frame(0.0, top)
    x0, x1, y0 = PAD["l"], WIDTH - PAD["r"], HEIGHT - PAD["b"]
    sx = _scale(lo, hi, x0, x1)
    sy = _scale(0.0, top, y0, PAD["t"])
    for c, a, b in zip(share, edges[:-1], edges[1:], strict=True):
        body.append(f'<rect x="{sx(a) + 1:.1f}" y="{sy(c):.1f}" width="{max(sx(b) - sx(a) - 2, 1):.1f}" '
                    f'height="{y0 - sy(c):.1f}" fill="{BLUE}"/>')
    m = sx(values.mean())
    body.append(f'<line x1="{m:.1f}" x2="{m:.1f}" y1="{PAD["t"]}" y2="{y0}" stroke="{RED}" stroke-width="2.5" '
                'stroke-dasharray="5,3"/>')
    body.append(f'<text x="{m + 4:.1f}" y="{PAD["t"] + 8}" fill="{RED}" {FONT}>mean {values.mean():.0%}</text>')
    body.append(f'<text x="{x0}" y="{HEIGHT - 8}" fill="{INK}" {FONT}>{lo:.0%}</text>')
    body.append(f'<text x="{x1}" y="{HEIGHT - 8}" text-anchor="end" fill="{INK}" {FONT}>'
                f'{hi:.0%} of neighbours shared</text>')
    return _svg(body, title)


def card_thumbnail(thumb: dict, title: str = "") -> str:
    """The SVG of a `core.experiments.start_here.Card` thumbnail (dispatch on its ``kind``)."""
    kind = thumb.get("kind")
    if kind == "map":
        return map_thumbnail(thumb["x"], thumb["y"], found=thumb.get("found"), missed=thumb.get("missed"),
                             selected=thumb.get("selected"), title=title)
    if kind == "bars":
        return bar_thumbnail(thumb["labels"], thumb["values"], means=thumb.get("means"), zoom=thumb.get("zoom", False),
                             title=title)
    if kind == "scatter":
        return scatter_thumbnail(thumb["x"], thumb["y"], pick=thumb.get("pick"), budget=thumb.get("budget"),
                                 floor=thumb.get("floor"), title=title)
    if kind == "lines":
        return line_thumbnail(thumb["series"], log_x=thumb.get("log_x", False), title=title)
    if kind == "histogram":
        return histogram_thumbnail(thumb["values"], bins=thumb.get("bins", 11), title=title)
    return _svg([], title)
