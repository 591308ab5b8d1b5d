"""Figures of the Compression page: recall against memory and against speed, one colour per family.

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
from core.index.registry import FAMILIES

LAYOUT = {"margin": {"l": 60, "r": 10, "t": 60, "b": 45}, "template": "plotly_white"}
FAMILY_COLOURS = {
    "exact": "#212529", "scalar": "#1c7ed6", "pq": "#e03131", "ivf": "#f59f00", "graph": "#2f9e44",
    "binary": "#9c36b5", "rabitq": "#0c8599", "reduction": "#d6336c",
}
_EXTRA = ["#5f3dc4", "#66a80f", "#868e96"]
FRONTIER_COLOUR = "#495057"

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


def family_colour(family: str, i: int = 0) -> str:
    return FAMILY_COLOURS.get(family, _EXTRA[i % len(_EXTRA)])


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


def _points(fig: go.Figure, ok: pd.DataFrame, x: str, y: str, k: int | None) -> None:
    for i, (family, part) in enumerate(ok.groupby("family", sort=False)):
        reranked = part.get("rerank_bytes_per_vector", pd.Series(0.0, index=part.index)).fillna(0) > 0
        fig.add_trace(go.Scatter(
            x=part[x], y=part[y], mode="markers", name=FAMILIES.get(family, family), legendgroup=family,
            marker={"color": family_colour(family, i), "size": 10, "line": {"color": "white", "width": 1},
                    "symbol": np.where(reranked, "diamond", "circle").tolist()},
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
    fig.update_layout(title=title or f"{rk} against memory: up and to the left is better", height=460,
                      xaxis={"type": "log", "title": f"{label} (log scale)"},
                      yaxis={"title": rk, "tickformat": ".0%"}, legend={"orientation": "h", "y": -0.22},
                      hovermode="closest", hoverlabel={"align": "left"}, **LAYOUT)
    if ok.empty:
        return _empty(fig, "no finished configurations yet")
    _points(fig, ok, x, "recall_at_k", k)
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
    fig.update_layout(title=title or f"{name} against memory: what compression costs the search task", height=460,
                      xaxis={"type": "log", "title": f"{get_metric(x).label} (log scale)"},
                      yaxis={"title": name, "tickformat": ".2f"}, legend={"orientation": "h", "y": -0.22},
                      hovermode="closest", hoverlabel={"align": "left"}, **LAYOUT)
    if ok.empty:
        return _empty(fig, f"no configuration has {name}: the dataset needs relevance judgments")
    _points(fig, ok, x, y, _k(rows, None))
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
    fig.update_layout(title=title or f"Speed against {rk}: up and to the right is better", height=460,
                      xaxis={"title": rk, "tickformat": ".0%"},
                      yaxis={"type": "log", "title": f"{get_metric('qps').label} (log scale)"},
                      legend={"orientation": "h", "y": -0.22}, hovermode="closest", hoverlabel={"align": "left"},
                      **LAYOUT)
    if not ok.empty:
        ok = ok[np.isfinite(pd.to_numeric(ok["qps"], errors="coerce").to_numpy(dtype=float))]
    if ok.empty:
        return _empty(fig, "no finished configurations yet")
    _points(fig, ok, "recall_at_k", "qps", k)
    front = ok[pareto_frontier(ok, "qps", "recall_at_k")].sort_values("recall_at_k")
    if not front.empty:
        # faster-and-more-accurate staircase: from each point, the best speed reachable at that recall or more
        fig.add_trace(go.Scatter(
            x=front["recall_at_k"], y=front["qps"], mode="lines", name="Pareto frontier",
            line={"shape": "vh", "color": FRONTIER_COLOUR, "width": 1.5, "dash": "dot"}, hoverinfo="skip",
        ))
    return fig
