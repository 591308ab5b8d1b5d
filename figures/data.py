"""Figures of the Data page: vector norms and category sizes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from figures.text import plotly_text

LAYOUT = {"margin": {"l": 40, "r": 10, "t": 40, "b": 40}, "height": 300, "template": "plotly_white"}


def norm_histogram(norms: np.ndarray, *, title: str = "Vector norms", bins: int = 60) -> go.Figure:
    """Histogram of per-vector L2 norms ``(n,)``; unit-normalised data shows one spike at 1."""
    norms = np.asarray(norms, dtype=float)
    fig = go.Figure(go.Histogram(x=norms, nbinsx=bins, marker_color="#3b5bdb"))
    fig.update_layout(title=title, xaxis_title="L2 norm", yaxis_title="vectors", bargap=0.02, **LAYOUT)
    return fig


def category_bar(categories: pd.DataFrame, *, top: int = 30, title: str = "Largest categories") -> go.Figure:
    """Horizontal bars of the ``top`` largest categories, largest on top.

    ``categories``: columns ``category`` and ``items``, largest first (`core.data.describe.category_table`).
    """
    head = categories.head(top)
    names = [plotly_text(n, 60) for n in head["category"]][::-1]
    values = list(head["items"])[::-1]
    fig = go.Figure(go.Bar(x=values, y=names, orientation="h", marker_color="#5c7cfa"))
    layout = dict(LAYOUT, height=max(300, 18 * len(names) + 80))
    fig.update_layout(title=title, xaxis_title="items", **layout)
    return fig
