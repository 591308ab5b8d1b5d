"""Figures of the Compression page: recall against memory and against speed, drawn as ann-benchmarks
draws them: one line per method through its parameter sweep (sorted along the x axis), each point labelled
with the parameters that change along the line, one colour per family (figures/colours.py) and within a
family one marker and dash per method, log axes ticked at 1-2-5 steps.

Both take the sweep's result rows (`core.analysis.sweep.run_sweep` / `core.experiments.compression`) as a
DataFrame; rows whose ``status`` is not ``"ok"`` are left out (the page lists them with
their reasons). The Pareto frontier comes from `core.index.metrics.pareto_frontier`.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core.index.metrics import get_metric, pareto_frontier
from core.index.registry import FAMILIES, METHODS, display_name
from figures.colours import FAMILY_COLOURS, family_colour
from figures.numbers import value_text

LAYOUT = {"margin": {"l": 60, "r": 10, "t": 60, "b": 45}, "template": "plotly_white"}
FRONTIER_COLOUR = "#495057"
LEGEND = {"orientation": "h", "y": -0.22, "groupclick": "toggleitem"}
#: Within one family, the n-th method's marker and dash (colour is the family's).
SYMBOLS = ["circle", "square", "triangle-up", "x", "star"]
DASHES = ["solid", "dash", "dot", "dashdot", "longdash"]
__all__ = ["FAMILY_COLOURS", "family_colour", "log_ticks", "point_labels"]

#: Columns shown in the hover label of each point (when present), with their formats.
HOVER = [
    ("factory", "{}"), ("recall_at_k", "{:.3f}"), ("ndcg_at_10", "{:.3f}"), ("bytes_per_vector", "{:,.1f} B"),
    ("rerank_bytes_per_vector", "{:,.0f} B"), ("compression_ratio", "{:.1f}×"), ("qps", "{:,.0f}"),
    ("p50_ms", "{:.3f} ms"), ("p99_ms", "{:.3f} ms"), ("train_s", "{:.2f} s"), ("build_s", "{:.2f} s"),
]
HOVER_NAMES = {
    "factory": "index", "recall_at_k": "recall@k", "ndcg_at_10": "nDCG@10", "bytes_per_vector": "index bytes/vector",
    "rerank_bytes_per_vector": "+ re-rank floats/vector", "compression_ratio": "compression", "qps": "QPS (batch)",
    "p50_ms": "p50 latency", "p99_ms": "p99 latency", "train_s": "train", "build_s": "build",
}


def ok_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows that ran (``status == "ok"``) with finite recall."""
    if rows.empty:
        return rows
    ok = rows[rows["status"] == "ok"] if "status" in rows else rows
    return ok[np.isfinite(pd.to_numeric(ok["recall_at_k"], errors="coerce").to_numpy(dtype=float))]


def hover_texts(rows: pd.DataFrame, k: int | None) -> list[str]:
    """One hover label per row: the configuration and its measurements (HTML-escaped)."""
    out = []
    for _, r in rows.iterrows():
        lines = [f"<b>{html.escape(str(r.get('label', r.get('method', ''))))}</b>"]
        for col, fmt in HOVER:
            v = r.get(col)
            if v is None or (isinstance(v, float) and not np.isfinite(v)):
                continue
            if col == "rerank_bytes_per_vector" and not v:
                continue
            name = HOVER_NAMES[col].replace("@k", f"@{k}") if k else HOVER_NAMES[col]
            lines.append(f"{name}: {html.escape(fmt.format(v))}")
        note = r.get("note")
        if isinstance(note, str) and note:
            lines.append(f"<i>{html.escape(note[:120])}</i>")
        out.append("<br>".join(lines))
    return out


def _k(rows: pd.DataFrame, k: int | None) -> int | None:
    if k is not None:
        return k
    return int(rows["k"].iloc[0]) if "k" in rows and len(rows) else None


def _empty(fig: go.Figure, text: str) -> go.Figure:
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 14, "color": "#868e96"})
    return fig


def _param_names(method: str, part: pd.DataFrame) -> list[str]:
    spec = METHODS.get(method)
    names = [q.name for q in spec.params] if spec is not None else []
    return [name for name in names if name in part.columns]


def point_labels(part: pd.DataFrame) -> list[str]:
    """One short label per row of one method's sweep: the parameters that change between its rows
    (``"nprobe=2"``, ``"m=48"``), else its first two parameters (a method run once); integers written as
    integers."""
    if part.empty:
        return []
    method = str(part["method"].iloc[0])
    names = _param_names(method, part)
    varying = [n for n in names if part[n].astype(str).nunique() > 1]
    shown = varying or names[:2]
    return [" ".join(f"{n}={value_text(r[n])}" for n in shown if pd.notna(r[n])) for _, r in part.iterrows()]


def log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Tick values at 1, 2 and 5 times a power of ten covering ``[lo, hi]`` (both > 0), and their texts
    (``"2"``, ``"50"``, ``"1k"``, ``"200k"``, ``"1M"``): the clean log ticks of ann-benchmarks' plots."""
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo <= 0 or hi <= 0:
        return [], []
    lo, hi = min(lo, hi), max(lo, hi)
    vals = [m * 10.0 ** e for e in range(int(np.floor(np.log10(lo))) - 1, int(np.ceil(np.log10(hi))) + 1)
            for m in (1, 2, 5)]
    inside = [v for v in vals if lo / 1.0001 <= v <= hi * 1.0001]
    below = [v for v in vals if v < lo / 1.0001][-1:]
    above = [v for v in vals if v > hi * 1.0001][:1]
    vals = below + inside + above  # one tick past each end, so the ends of the data are read off a tick
    return vals, [_short_number(v) for v in vals]


def _short_number(v: float) -> str:
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if v >= limit:
            return f"{v / limit:g}{suffix}"
    return f"{v:g}"


def _log_axis(values: pd.Series) -> dict:
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    x = x[np.isfinite(x) & (x > 0)]
    if not x.size:
        return {}
    vals, texts = log_ticks(float(x.min()), float(x.max()))
    return {"tickvals": vals, "ticktext": texts, "range": [np.log10(vals[0]), np.log10(vals[-1])]} if vals else {}


def _points(fig: go.Figure, ok: pd.DataFrame, x: str, y: str, k: int | None) -> None:
    """One line per method through its configurations (sorted along ``x``), each point labelled."""
    families = list(dict.fromkeys(ok["family"]))
    for method, part in ok.groupby("method", sort=False):
        family = str(part["family"].iloc[0])
        in_family = list(dict.fromkeys(ok.loc[ok["family"] == family, "method"]))
        j = in_family.index(method)
        part = part.sort_values([x, y], kind="stable")
        reranked = part.get("rerank_bytes_per_vector", pd.Series(0.0, index=part.index)).fillna(0) > 0
        symbol = SYMBOLS[j % len(SYMBOLS)]
        fig.add_trace(go.Scatter(
            x=part[x], y=part[y], mode="lines+markers+text", name=display_name(str(method)),
            legendgroup=family, legendgrouptitle={"text": FAMILIES.get(family, family)},
            line={"color": family_colour(family, families.index(family)), "width": 1.5,
                  "dash": DASHES[j % len(DASHES)]},
            marker={"color": family_colour(family, families.index(family)), "size": 9,
                    "line": {"color": "white", "width": 1},
                    "symbol": np.where(reranked, "diamond", symbol).tolist()},
            text=[html.escape(t) for t in point_labels(part)], textposition="top center",
            textfont={"size": 9, "color": "#495057"},
            hovertext=hover_texts(part, k), hoverinfo="text", customdata=part["label"].tolist(),
        ))


def _frontier(fig: go.Figure, ok: pd.DataFrame, x: str, y: str, *, extend_to: float | None, name: str) -> None:
    front = ok[pareto_frontier(ok, x, y)].sort_values([x, y])
    if front.empty:
        return
    fx, fy = front[x].to_numpy(dtype=float), front[y].to_numpy(dtype=float)
    if extend_to is not None and extend_to > fx[-1]:
        fx, fy = np.append(fx, extend_to), np.append(fy, fy[-1])
    fig.add_trace(go.Scatter(
        x=fx, y=fy, mode="lines", name=name, line={"shape": "hv", "color": FRONTIER_COLOUR, "width": 1.5,
                                                   "dash": "dot"},
        hoverinfo="skip",
    ))


def recall_vs_memory_figure(
    rows: pd.DataFrame, *, x: str = "bytes_per_vector", k: int | None = None, title: str | None = None
) -> go.Figure:
    """Recall@k against bytes per vector (log axis), one colour per method family, the Pareto
    frontier (smaller and more accurate) as a step line. Diamonds re-rank a shortlist with float vectors.

    ``x``: ``"bytes_per_vector"`` (the index alone) or ``"total_bytes_per_vector"`` (index plus
    the float vectors re-ranking keeps).
    """
    fig = go.Figure()
    ok = ok_rows(rows)
    k = _k(rows, k)
    rk = f"recall@{k}" if k else "recall"
    label = get_metric(x).label
    fig.update_layout(title=title or f"{rk} against memory: up and to the left is better", height=520,
                      xaxis={"type": "log", "title": f"{label} (log scale)"},
                      yaxis={"title": rk, "tickformat": ".0%"}, legend=LEGEND,
                      hovermode="closest", hoverlabel={"align": "left"}, **LAYOUT)
    if ok.empty:
        return _empty(fig, "no finished configurations yet")
    _points(fig, ok, x, "recall_at_k", k)
    fig.update_xaxes(**_log_axis(ok[x]))
    _frontier(fig, ok, x, "recall_at_k", extend_to=float(ok[x].max()), name="Pareto frontier")
    if "flat" in set(ok["method"]):
        flat = ok[ok["method"] == "flat"].iloc[0]
        at = float(flat[x])
        fig.add_vline(x=at, line={"color": "#adb5bd", "width": 1, "dash": "dash"})
        # annotations on a log axis are placed in log10 units (shapes are not)
        fig.add_annotation(x=float(np.log10(at)), y=0, yref="paper", text="float32", showarrow=False,
                           xanchor="left", yanchor="bottom", font={"color": "#868e96", "size": 11})
    return fig


def quality_vs_memory_figure(
    rows: pd.DataFrame, *, y: str = "ndcg_at_10", x: str = "bytes_per_vector", title: str | None = None
) -> go.Figure:
    """Task quality (nDCG@10 or MRR@10 against the dataset's qrels) against bytes per vector (log axis),
    with its own Pareto frontier and exact search as a horizontal reference line."""
    fig = go.Figure()
    ok = ok_rows(rows)
    if y in ok:
        ok = ok[np.isfinite(pd.to_numeric(ok[y], errors="coerce").to_numpy(dtype=float))]
    name = get_metric(y).label
    fig.update_layout(title=title or f"{name} against memory: what compression costs the search task", height=520,
                      xaxis={"type": "log", "title": f"{get_metric(x).label} (log scale)"},
                      yaxis={"title": name, "tickformat": ".2f"}, legend=LEGEND,
                      hovermode="closest", hoverlabel={"align": "left"}, **LAYOUT)
    if ok.empty:
        return _empty(fig, f"no configuration has {name}: the dataset needs relevance judgments")
    _points(fig, ok, x, y, _k(rows, None))
    fig.update_xaxes(**_log_axis(ok[x]))
    _frontier(fig, ok, x, y, extend_to=float(ok[x].max()), name=f"Pareto frontier ({name})")
    flat = ok[ok["method"] == "flat"]
    if not flat.empty:
        ref = float(flat[y].iloc[0])
        fig.add_hline(y=ref, line={"color": "#adb5bd", "width": 1, "dash": "dash"})
        fig.add_annotation(x=0, xref="paper", y=ref, text=f"exact search {ref:.3f}", showarrow=False,
                           xanchor="left", yanchor="bottom", font={"color": "#868e96", "size": 11})
    return fig


def recall_vs_qps_figure(rows: pd.DataFrame, *, k: int | None = None, title: str | None = None) -> go.Figure:
    """Queries per second (batch, log axis) against recall@k, ann-benchmarks style: up and to the
    right is better; the Pareto frontier (faster and more accurate) as a step line."""
    fig = go.Figure()
    ok = ok_rows(rows)
    k = _k(rows, k)
    rk = f"recall@{k}" if k else "recall"
    fig.update_layout(title=title or f"Speed against {rk}: up and to the right is better", height=520,
                      xaxis={"title": rk, "tickformat": ".0%"},
                      yaxis={"type": "log", "title": f"{get_metric('qps').label} (log scale)"},
                      legend=LEGEND, hovermode="closest", hoverlabel={"align": "left"},
                      **LAYOUT)
    if not ok.empty:
        ok = ok[np.isfinite(pd.to_numeric(ok["qps"], errors="coerce").to_numpy(dtype=float))]
    if ok.empty:
        return _empty(fig, "no finished configurations yet")
    _points(fig, ok, "recall_at_k", "qps", k)
    fig.update_yaxes(**_log_axis(ok["qps"]))
    front = ok[pareto_frontier(ok, "qps", "recall_at_k")].sort_values("recall_at_k")
    if not front.empty:
        # faster-and-more-accurate staircase: from each point, the best speed reachable at that recall or more
        fig.add_trace(go.Scatter(
            x=front["recall_at_k"], y=front["qps"], mode="lines", name="Pareto frontier",
            line={"shape": "vh", "color": FRONTIER_COLOUR, "width": 1.5, "dash": "dot"}, hoverinfo="skip",
        ))
    return fig
