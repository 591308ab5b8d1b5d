"""The encoder ranking as a slope chart: each space's rank under exact search, then under each HNSW setting."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from figures.text import plotly_text

LAYOUT = {"margin": {"l": 210, "r": 210, "t": 60, "b": 45}, "template": "plotly_white"}
PALETTE = ["#1c7ed6", "#e03131", "#2f9e44", "#f59f00", "#9c36b5", "#0c8599", "#d6336c", "#5f3dc4", "#66a80f",
           "#495057", "#e8590c", "#1098ad"]


def rank_slope_figure(long: pd.DataFrame, *, metric_name: str = "nDCG@10", title: str | None = None) -> go.Figure:
    """One line per space from its exact-search rank to its rank under each HNSW setting (1 = best, on top).

    ``long``: `core.experiments.encoder_ranking.ranking_long` (``space``, ``search``, ``score``, ``rank``,
    ``recall_at_k``), settings in display order. A line that crosses another is a rank the approximate
    search changed; the space's rank and name are written at both ends.
    """
    settings = list(dict.fromkeys(long["search"]))
    first = long[long["search"] == settings[0]].sort_values(["rank", "space"], kind="stable")
    spaces = list(dict.fromkeys([*first["space"], *long["space"]]))
    fig = go.Figure()
    for i, space in enumerate(spaces):
        part = long[long["space"] == space].set_index("search").reindex(settings)
        name = plotly_text(space, 40)
        last = len(settings) - 1
        text = [f"{name}  {int(r)}." if j == 0 else f"{int(r)}.  {name}" if j == last else ""
                for j, r in enumerate(part["rank"])]
        hover = [f"{name}<br>{plotly_text(s)}: {metric_name} {score:.3f}, rank {int(rank)}"
                 + (f"<br>recall@10 against exact search {rec:.3f}" if s != settings[0] else "")
                 for s, score, rank, rec in zip(settings, part["score"], part["rank"], part["recall_at_k"],
                                                strict=True)]
        fig.add_trace(go.Scatter(
            x=settings, y=part["rank"].astype(int).tolist(), mode="lines+markers+text", name=name, text=text,
            textposition=["middle left" if j == 0 else "middle right" for j in range(len(settings))],
            line={"color": PALETTE[i % len(PALETTE)], "width": 2}, marker={"size": 9},
            hovertext=hover, hoverinfo="text", showlegend=False, cliponaxis=False,
        ))
    n = len(spaces)
    fig.update_layout(
        **LAYOUT, height=max(280, 48 * n + 120),
        title=title or f"Rank by {metric_name}: exact search, then HNSW (1 = best)",
    )
    fig.update_yaxes(autorange="reversed", showticklabels=False, showgrid=True, zeroline=False)
    fig.update_xaxes(type="category", title="search", tickangle=0)
    return fig
