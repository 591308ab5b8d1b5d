"""One configuration, query by query: the distribution of per-query recall (Compression and Order pages)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from figures.text import plotly_text

LAYOUT = {"margin": {"l": 55, "r": 10, "t": 60, "b": 45}, "template": "plotly_white"}


def per_query_recall_figure(recall: np.ndarray, *, k: int, title: str | None = None, x_title: str | None = None,
                             unit: str = "queries") -> go.Figure:
    """Histogram of per-query recall@k: one bar per possible value (0, 1/k, ..., 1), the mean as a line.

    Recall@k of one query takes only the values j/k, so each bar is one value, labelled as a share of
    the queries; the x axis stops at 100 %. ``x_title`` and ``unit`` name what is counted when the values
    are not queries' recall (Compare spaces: each item's neighbour agreement, a share of the items).
    """
    recall = np.asarray(recall, dtype=float)
    values = np.arange(k + 1) / k
    counts = np.bincount(np.clip(np.rint(recall * k).astype(int), 0, k), minlength=k + 1)
    share = counts / max(recall.size, 1)
    colours = ["#e03131" if v < 0.5 else "#1c7ed6" for v in values]
    fig = go.Figure(go.Bar(
        x=values, y=share, marker_color=colours, width=0.8 / k, name=unit,
        hovertext=[f"{x_title or f'recall@{k}'} = {v:.0%}: {c:,} {unit} ({s:.1%})"
                   for v, c, s in zip(values, counts, share, strict=True)],
        hoverinfo="text",
    ))
    mean = float(recall.mean()) if recall.size else float("nan")
    if recall.size:
        fig.add_vline(x=mean, line={"color": "#495057", "dash": "dash", "width": 1.5})
        fig.add_annotation(x=mean, y=1, yref="paper", text=f"mean {mean:.1%}", showarrow=False, xanchor="right",
                           yanchor="bottom", font={"size": 11, "color": "#495057"})
    fig.update_layout(
        title=plotly_text(title) if title else f"Per-query recall@{k}: red bars find fewer than half",
        xaxis={"title": plotly_text(x_title) if x_title else f"recall@{k} of one query", "tickformat": ".0%",
               "range": [-0.6 / k, 1 + 0.6 / k], "tickvals": values[:: max(1, k // 10)]},
        yaxis={"title": f"share of the {plotly_text(unit)}", "tickformat": ".0%"}, showlegend=False, height=340,
        bargap=0.05, **LAYOUT,
    )
    return fig
