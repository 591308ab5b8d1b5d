"""Figures of the Intrinsic dimension page: estimates, LID distribution, calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from figures.text import plotly_text

LAYOUT = {"margin": {"l": 50, "r": 10, "t": 50, "b": 45}, "template": "plotly_white"}
ESTIMATOR_COLOURS = {
    "local_mle": "#3b5bdb", "levina_bickel": "#2b8a3e", "twonn": "#e8590c", "pca": "#862e9c",
}
ESTIMATOR_NAMES = {
    "local_mle": "LocalMLE (mean LID)", "levina_bickel": "Levina–Bickel", "twonn": "TwoNN", "pca": "PCA-ID",
}


def estimates_bar(estimates: pd.DataFrame, *, ambient_dim: int | None = None, title: str | None = None) -> go.Figure:
    """Bars of the global estimates (columns ``estimator``, ``dimension``, ``setting``), values printed."""
    names = [f"{e}<br><sub>{s}</sub>" for e, s in zip(estimates["estimator"], estimates["setting"], strict=True)]
    values = estimates["dimension"].astype(float)
    fig = go.Figure(go.Bar(
        x=names, y=values, text=[f"{v:.1f}" if np.isfinite(v) else "n/a" for v in values],
        textposition="outside", marker_color=list(ESTIMATOR_COLOURS.values())[: len(values)],
        hovertemplate="%{x}: %{y:.2f}<extra></extra>",
    ))
    top = float(np.nanmax(values)) if np.isfinite(values).any() else 1.0
    default = "Global intrinsic dimension" + (f" (ambient: {ambient_dim} dimensions)" if ambient_dim else "")
    fig.update_layout(title=title or default, yaxis_title="dimensions", height=340, **LAYOUT)
    fig.update_yaxes(range=[0, top * 1.2 + 0.5])
    return fig


def lid_histogram(lid: np.ndarray, *, k: int, bins: int = 60, title: str | None = None) -> go.Figure:
    """Histogram of pointwise LID (NaN skipped) with the mean and median marked."""
    lid = np.asarray(lid, dtype=float)
    ok = lid[np.isfinite(lid)]
    fig = go.Figure(go.Histogram(x=ok, nbinsx=bins, marker_color="#5c7cfa", name="items"))
    if ok.size:
        mean, median = float(ok.mean()), float(np.median(ok))
        # the two lines are often close: the smaller one is labelled on its left, the larger on its right,
        # above the bars, so the labels never sit on each other or on a bar
        (lo_name, lo), (hi_name, hi) = sorted((("mean", mean), ("median", median)), key=lambda t: t[1])
        for value, dash in ((mean, "solid"), (median, "dot")):
            fig.add_vline(x=value, line_dash=dash, line_color="#c92a2a")
        fig.add_annotation(x=lo, y=1.0, yref="paper", text=f"{lo_name} {lo:.1f}", showarrow=False, xanchor="right",
                           yanchor="bottom", font={"size": 11, "color": "#c92a2a"})
        fig.add_annotation(x=hi, y=1.0, yref="paper", text=f"{hi_name} {hi:.1f}", showarrow=False, xanchor="left",
                           yanchor="bottom", font={"size": 11, "color": "#c92a2a"})
    fig.update_layout(title=title or f"Local intrinsic dimension of each item (MLE, k={k})",
                      xaxis_title="LID", yaxis_title="items", bargap=0.02, height=340, showlegend=False, **LAYOUT)
    return fig


def lid_by_category_box(frame: pd.DataFrame, *, title: str = "LID by category") -> go.Figure:
    """Box per category (long table ``category``, ``lid``), categories in the frame's order."""
    cats = list(frame["category"].cat.categories) if hasattr(frame["category"], "cat") else \
        list(dict.fromkeys(frame["category"]))
    fig = go.Figure()
    for cat in cats:
        values = frame.loc[frame["category"] == cat, "lid"]
        if len(values):
            # the name is escaped; user text never goes into a hovertemplate (its %{...} would be evaluated)
            fig.add_trace(go.Box(y=values, name=plotly_text(cat, 40), boxpoints=False, marker_color="#3b5bdb",
                                 hovertemplate="%{fullData.name}<br>LID %{y:.1f}<extra></extra>"))
    fig.update_layout(title=title, yaxis_title="LID", showlegend=False,
                      height=360, **LAYOUT)
    return fig


def pca_variance_curve(ratio: np.ndarray, *, threshold: float, pca_id: int, max_components: int = 200) -> go.Figure:
    """Cumulative explained variance against the number of components, threshold and PCA-ID marked."""
    cum = np.cumsum(np.asarray(ratio, dtype=float))
    shown = max(min(cum.size, max(max_components, pca_id + 10)), 1)
    x = np.arange(1, cum.size + 1)[:shown]
    fig = go.Figure(go.Scatter(x=x, y=cum[:shown], mode="lines", line_color="#862e9c", name="cumulative",
                               hovertemplate="%{x} components: %{y:.1%}<extra></extra>"))
    fig.add_hline(y=threshold, line_dash="dot", line_color="#868e96",
                  annotation_text=f"{threshold:.1%} of the variance", annotation_position="bottom left")
    if pca_id:  # labelled left of its line, low down: clear of the threshold's label and of the curve's top
        fig.add_vline(x=pca_id, line_dash="dash", line_color="#c92a2a", annotation_text=f"PCA-ID {pca_id}",
                      annotation_position="bottom left")
    fig.update_layout(title="Variance explained by the first principal components", xaxis_title="components",
                      yaxis_title="cumulative share of variance", yaxis_tickformat=".0%", height=340,
                      showlegend=False, **LAYOUT)
    return fig


def calibration_figure(rows: pd.DataFrame | list[dict], *, title: str | None = None) -> go.Figure:
    """Estimate against the true intrinsic dimension, one line per estimator, with ``y = x``.

    ``rows`` as `core.analysis.intrinsic.calibration_table` returns them (``true_dim`` and one column
    per estimator).
    """
    df = pd.DataFrame(rows)
    truth = df["true_dim"].astype(float)
    top = float(max(truth.max(), np.nanmax(df[[c for c in ESTIMATOR_NAMES if c in df]].to_numpy(dtype=float))))
    fig = go.Figure(go.Scatter(x=[0, top * 1.05], y=[0, top * 1.05], mode="lines", name="estimate = truth",
                               line={"color": "#adb5bd", "dash": "dash"}, hoverinfo="skip"))
    for col, name in ESTIMATOR_NAMES.items():
        if col in df:
            fig.add_trace(go.Scatter(x=truth, y=df[col].astype(float), mode="lines+markers", name=name,
                                     line_color=ESTIMATOR_COLOURS[col],
                                     hovertemplate=f"{name}<br>true %{{x:.0f}} → %{{y:.1f}}<extra></extra>"))
    sub = ""
    if "n" in df and "dim" in df:
        sub = f" ({int(df['n'].iloc[0]):,} points in {int(df['dim'].iloc[0])}-D, no noise)"
    fig.update_layout(title=title or "Estimators on data of known intrinsic dimension" + sub,
                      xaxis_title="true intrinsic dimension", yaxis_title="estimate", height=380,
                      legend={"orientation": "h", "y": -0.2}, **LAYOUT)
    return fig
