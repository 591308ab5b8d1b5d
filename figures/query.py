"""Figures of the Query comparison page: exact score by rank, per method, with the cut-off line."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from figures.map import PALETTE

EXACT = "exact top-k"
CUT_OFF_COLOUR = "#212529"


def score_curves_figure(rows: pd.DataFrame, *, threshold: float | None = None, score_title: str = "exact score",
                        higher_is_closer: bool = True) -> go.Figure:
    """One line per method: the exact score of its result at each rank (``rows``: method, rank, exact_score).

    The exact top-k is drawn dashed in grey: a method's line below it (above it for
    distances) means it returned worse neighbours at that rank. ``threshold`` draws the
    relevance cut-off; points on the wrong side of it are filtered out.
    """
    fig = go.Figure()
    methods = [m for m in dict.fromkeys(rows["method"]) if m != EXACT]
    # the exact line is drawn last, on top, so a method that matches it exactly does not hide it
    for name in [*methods, EXACT]:
        part = rows[rows["method"] == name].sort_values("rank")
        if part.empty:
            continue
        exact = name == EXACT
        colour = "#7f7f7f" if exact else PALETTE[methods.index(name) % len(PALETTE)]
        fig.add_trace(go.Scatter(
            x=part["rank"], y=part["exact_score"], mode="lines+markers", name=name,
            line={"color": colour, "dash": "dash" if exact else "solid", "width": 2 if exact else 1.5},
            marker={"size": 5 if exact else 7},
            hovertemplate=f"{name}<br>rank %{{x}}<br>{score_title} %{{y:.4f}}<extra></extra>",
        ))
    if threshold is not None:
        side = "kept above" if higher_is_closer else "kept below"
        # black dash-dot: no method line has that colour or dash, so the cut-off stays distinct
        fig.add_hline(y=threshold, line={"color": CUT_OFF_COLOUR, "dash": "dashdot", "width": 1.5},
                      annotation_text=f"cut-off {threshold:.3f} ({side})", annotation_position="top left")
    fig.update_layout(
        xaxis_title="rank in the method's results", yaxis_title=score_title, height=340,
        margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"orientation": "h", "y": -0.25},
        yaxis={"autorange": True if higher_is_closer else "reversed"},
    )
    return fig
