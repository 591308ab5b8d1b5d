"""Figure of the Query page's relevance-filtering section: precision-recall curves of three ways to cut results."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from figures.map import PALETTE
from figures.text import plotly_text

#: method -> (colour, dash, what its threshold is); the order the legend lists them in.
STYLES = {
    "mapped threshold": (PALETTE[0], "solid", "mapped score ≥"),
    "raw cut-off": (PALETTE[1], "dash", "raw score cut-off"),
    "top-k": (PALETTE[2], "dot", "k ="),
}


def filter_curves_figure(rows: pd.DataFrame, points: pd.DataFrame | None = None) -> go.Figure:
    """Precision (y) against recall (x) of each method's retrieved set, one line per method.

    ``rows``: method, threshold, precision, recall, f1 (``core.experiments.relevance_filter`` rows; top-k
    thresholds are k). ``points``: optional operating points to mark, with method, label, precision, recall.
    A line above another at the same recall keeps fewer irrelevant results for as many relevant ones.
    """
    fig = go.Figure()
    for method, (colour, dash, what) in STYLES.items():
        part = rows[rows["method"] == method].sort_values("recall", kind="stable")
        if part.empty:
            continue
        fmt = "%{customdata[0]:.0f}" if method == "top-k" else "%{customdata[0]:.4f}"
        fig.add_trace(go.Scatter(
            x=part["recall"], y=part["precision"], mode="lines+markers" if method == "top-k" else "lines",
            name=method, line={"color": colour, "dash": dash, "width": 2}, marker={"size": 5},
            customdata=part[["threshold", "f1"]].to_numpy(),
            hovertemplate=f"{method}<br>{what} {fmt}<br>recall %{{x:.3f}}<br>precision %{{y:.3f}}"
                          "<br>F1 %{customdata[1]:.3f}<extra></extra>",
        ))
    if points is not None and not points.empty:
        for _, point in points.iterrows():
            colour = STYLES.get(point["method"], ("#212529",))[0]
            fig.add_trace(go.Scatter(
                x=[point["recall"]], y=[point["precision"]], mode="markers", name=plotly_text(point["label"]),
                marker={"color": colour, "size": 12, "symbol": "diamond", "line": {"color": "#212529", "width": 1}},
                hovertemplate=f"{plotly_text(point['label'])}<br>recall %{{x:.3f}}<br>precision %{{y:.3f}}"
                              "<extra></extra>",
            ))
    fig.update_layout(
        xaxis_title="recall of the retrieved set (held-out queries)", yaxis_title="precision of the retrieved set",
        height=380, margin={"l": 10, "r": 10, "t": 30, "b": 10}, legend={"orientation": "h", "y": -0.22},
        xaxis={"range": [0, 1]}, yaxis={"range": [0, 1.02]},
    )
    return fig
