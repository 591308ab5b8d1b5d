"""densescope: router only. Pages live in pages/, computing in core/."""

from pathlib import Path

import streamlit as st

from ui.sidebar import workspace_picker

ROOT = Path(__file__).parent

st.set_page_config(page_title="densescope", page_icon=":material/radar:", layout="wide")

PAGES = {
    "Explore": [
        ("pages/home.py", "Home", ":material/home:"),
        ("pages/data.py", "Data", ":material/dataset:"),
        ("pages/map.py", "Embedding map", ":material/scatter_plot:"),
        ("pages/query.py", "Query", ":material/search:"),
    ],
    "Experiments": [
        ("pages/intrinsic.py", "Intrinsic dimension", ":material/straighten:"),
        ("pages/order.py", "HNSW insertion order", ":material/hub:"),
        ("pages/compression.py", "Compression", ":material/compress:"),
        ("pages/runs.py", "Runs", ":material/history:"),
    ],
}

navigation = {
    section: [
        st.Page(path, title=title, icon=icon, default=path == "pages/home.py")
        for path, title, icon in entries
        if (ROOT / path).exists()
    ]
    for section, entries in PAGES.items()
}

page = st.navigation(navigation)
st.sidebar.markdown("**densescope** · dense embeddings & vector search lab")
workspace_picker()
page.run()
