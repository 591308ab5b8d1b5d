"""Plotly figures as pure functions: data in, `plotly.graph_objects.Figure` out.

Nothing here imports streamlit or computes analysis results; pages pass in what
core computed, so every figure is testable without a browser.
"""
