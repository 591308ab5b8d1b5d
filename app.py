"""densescope: router only. Pages live in views/, computing in core/.

The folder is views/, not pages/: Streamlit auto-loads a pages/ folder as an old-style
multipage app when a shared link to a page is the first request, bypassing this router.
"""

from pathlib import Path

import streamlit as st

from core.store.runs import RunStoreDamaged
from ui.gc_heap import freeze_long_lived
from ui.sidebar import workspace_picker
from ui.state import show_late_cache_notices

ROOT = Path(__file__).parent

# The favicon ships with the app: a material icon would be fetched from a font CDN (fails offline).
st.set_page_config(page_title="densescope", page_icon=str(ROOT / "assets" / "favicon.png"), layout="wide")

PAGES = {
    "Explore": [
        ("views/home.py", "Home", ":material/home:"),
        ("views/data.py", "Data", ":material/dataset:"),
        ("views/map.py", "Embedding map", ":material/scatter_plot:"),
        ("views/query.py", "Query", ":material/search:"),
    ],
    "Experiments": [
        ("views/intrinsic.py", "Intrinsic dimension", ":material/straighten:"),
        ("views/order.py", "HNSW insertion order", ":material/hub:"),
        ("views/compression.py", "Compression", ":material/compress:"),
        ("views/spaces.py", "Compare spaces", ":material/compare_arrows:"),
        ("views/papers.py", "What the papers found", ":material/fact_check:"),
        ("views/runs.py", "Runs", ":material/history:"),
    ],
}

navigation = {
    section: [
        st.Page(path, title=title, icon=icon, default=path == "views/home.py")
        for path, title, icon in entries
        if (ROOT / path).exists()
    ]
    for section, entries in PAGES.items()
}

page = st.navigation(navigation)
st.sidebar.markdown("**densescope** · dense embeddings & vector search lab")
try:
    workspace_picker()
    page.run()
except RunStoreDamaged as exc:  # said once, without the server's paths; the file is left untouched
    st.error(exc.visitor_message)
finally:  # also when a page stopped early (st.stop)
    show_late_cache_notices()
    freeze_long_lived()  # before Streamlit's full collection after the run: it then walks only new objects
