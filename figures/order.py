"""Figures of the HNSW insertion-order page: recall vs efSearch per order, recall vs LID, in-degree."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

LAYOUT = {"margin": {"l": 55, "r": 10, "t": 60, "b": 45}, "template": "plotly_white"}
ORDER_COLOURS = {
    "original": "#495057", "random": "#1c7ed6", "lid-desc": "#e03131", "lid-asc": "#f59f00",
    "category": "#2f9e44", "custom": "#9c36b5",
}
_EXTRA = ["#0c8599", "#d6336c", "#5f3dc4", "#66a80f"]


def order_colour(order: str, i: int = 0) -> str:
    return ORDER_COLOURS.get(order, _EXTRA[i % len(_EXTRA)])


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[j : j + 2], 16) for j in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def recall_vs_ef_figure(summary: pd.DataFrame, *, k: int = 10, title: str | None = None) -> go.Figure:
    """Recall@k against efSearch: one panel per backend, one line per order (mean over seeds)
    with a shaded min–max band where an order has several builds.

    ``summary``: `core.experiments.insertion_order.summarize_order_rows` (``backend``, ``order``, ``ef_search``,
    ``mean``, ``min``, ``max``, ``n_builds``). efSearch below ``k`` is shaded: recall is capped there.
    """
    backends = list(dict.fromkeys(summary["backend"]))
    fig = make_subplots(rows=1, cols=max(len(backends), 1), shared_yaxes=True,
                        subplot_titles=backends or [""], horizontal_spacing=0.06)
    orders = list(dict.fromkeys(summary["order"]))
    for col, backend in enumerate(backends, start=1):
        part = summary[summary["backend"] == backend]
        for i, order in enumerate(orders):
            d = part[part["order"] == order].sort_values("ef_search")
            if d.empty:
                continue
            colour = order_colour(order, i)
            if (d["n_builds"] > 1).any():
                fig.add_trace(go.Scatter(
                    x=np.concatenate([d["ef_search"], d["ef_search"][::-1]]),
                    y=np.concatenate([d["max"], d["min"][::-1]]),
                    fill="toself", fillcolor=_rgba(colour, 0.15), line={"width": 0}, hoverinfo="skip",
                    showlegend=False, legendgroup=order, name=f"{order} min–max",
                ), row=1, col=col)
            fig.add_trace(go.Scatter(
                x=d["ef_search"], y=d["mean"], mode="lines+markers", name=order, legendgroup=order,
                line={"color": colour, "width": 2}, showlegend=col == 1,
                customdata=np.column_stack([d["min"], d["max"], d["n_builds"]]),
                hovertemplate=(f"{backend} · {order}<br>efSearch %{{x}}: recall@{k} %{{y:.2%}}"
                               "<br>min %{customdata[0]:.2%}, max %{customdata[1]:.2%} over %{customdata[2]} "
                               "builds<extra></extra>"),
            ), row=1, col=col)
        efs = part["ef_search"]
        if len(efs) and efs.min() < k:
            fig.add_vrect(x0=efs.min() * 0.9, x1=k, fillcolor="#868e96", opacity=0.08, line_width=0,
                          annotation_text=f"efSearch < k={k}", annotation_position="top left", row=1, col=col)
        fig.update_xaxes(type="log", title_text="efSearch (log scale)", tickvals=sorted(efs.unique()),
                         row=1, col=col)
    fig.update_yaxes(title_text=f"recall@{k}", tickformat=".0%", row=1, col=1)
    fig.update_layout(title=title or f"Recall@{k} against efSearch, one line per insertion order "
                                     "(mean over seeds, band = min–max)",
                      height=420, legend={"orientation": "h", "y": -0.2}, hovermode="closest", **LAYOUT)
    return fig


def recall_vs_lid_figure(table: pd.DataFrame, *, k: int = 10, backend: str = "", ef_search: int | None = None
                         ) -> go.Figure:
    """Mean per-query recall in LID quantile bins, one line per order.

    ``table``: `core.experiments.insertion_order.recall_vs_lid_table` (``order``, ``lid_mean``, ``lid_lo``,
    ``lid_hi``, ``n_queries``, ``recall_mean``, ``spearman_rho``).
    """
    fig = go.Figure()
    for i, (order, d) in enumerate(table.groupby("order", sort=False)):
        rho = d["spearman_rho"].iloc[0]
        label = f"{order} (ρ = {rho:.2f})" if pd.notna(rho) else order
        fig.add_trace(go.Scatter(
            x=d["lid_mean"], y=d["recall_mean"], mode="lines+markers", name=label,
            line_color=order_colour(order, i),
            customdata=np.column_stack([d["lid_lo"], d["lid_hi"], d["n_queries"]]),
            hovertemplate=(f"{order}<br>LID %{{customdata[0]:.1f}}–%{{customdata[1]:.1f}} "
                           f"(%{{customdata[2]}} queries)<br>recall@{k} %{{y:.2%}}<extra></extra>"),
        ))
    where = f" — {backend}, efSearch {ef_search}" if backend and ef_search is not None else ""
    fig.update_layout(title=f"Per-query recall@{k} against the query's LID{where}",
                      xaxis_title="query LID (mean of the bin)", yaxis_title=f"mean recall@{k}",
                      yaxis_tickformat=".0%", height=380, legend={"orientation": "h", "y": -0.25}, **LAYOUT)
    return fig


def in_degree_figure(in_degree: np.ndarray, *, title: str = "Level-0 in-degree of the HNSW graph") -> go.Figure:
    """Bars: how many nodes have each in-degree (0 = no other node links to it)."""
    counts = np.bincount(np.asarray(in_degree, dtype=np.int64))
    x = np.arange(counts.size)
    fig = go.Figure(go.Bar(x=x, y=counts, marker_color=["#e03131" if v == 0 else "#4263eb" for v in x],
                           hovertemplate="in-degree %{x}: %{y} nodes<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="in-links (level 0)", yaxis_title="nodes", bargap=0.05, height=320,
                      **LAYOUT)
    return fig


def recall_vs_id_figure(rows: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Recall@k against the nominal intrinsic dimension of synthetic data (log2 axis), one line per
    (backend, efSearch); the hover adds the set's measured PCA-99% and TwoNN IDs."""
    fig = go.Figure()
    k = int(rows["k"].iloc[0]) if len(rows) else 10
    dashes = {"faiss": "solid", "hnswlib": "dot"}
    efs = sorted(rows["ef_search"].unique()) if len(rows) else []
    palette = ["#e03131", "#1c7ed6", "#2f9e44", "#f59f00", "#9c36b5"]
    for (backend, ef), part in rows.groupby(["backend", "ef_search"], sort=True):
        part = part.sort_values("true_dim")
        colour = palette[efs.index(ef) % len(palette)]
        hover = [f"{backend}, efSearch {int(ef)}<br>nominal ID {int(r.true_dim)} (PCA-99% {int(r.pca_id)}, "
                 f"TwoNN {r.twonn_id:.1f})<br>recall@{k} {r.recall_at_k:.3f}" for r in part.itertuples()]
        fig.add_trace(go.Scatter(
            x=part["true_dim"], y=part["recall_at_k"], mode="lines+markers", name=f"{backend} · efSearch {int(ef)}",
            line={"color": colour, "dash": dashes.get(backend, "dash")}, hovertext=hover, hoverinfo="text",
        ))
    dims = sorted(rows["true_dim"].unique()) if len(rows) else []
    fig.update_layout(
        title=title or f"HNSW recall@{k} against the data's intrinsic dimension",
        xaxis={"type": "log", "title": "intrinsic dimension of the data (nominal; log scale)",
               "tickvals": dims, "ticktext": [str(int(v)) for v in dims]},
        yaxis={"title": f"recall@{k}", "tickformat": ".0%", "range": [0, 1.02]},
        legend={"orientation": "h", "y": -0.25}, height=420, hovermode="closest", **LAYOUT,
    )
    return fig
