"""Home: what each page answers, with the current workspace's live numbers."""

import streamlit as st
from streamlit.errors import StreamlitAPIException

from core.store.runs import RunStore
from figures.text import markdown_text as esc
from ui.state import require_workspace

st.title("densescope")
st.markdown(
    "A lab for **dense embeddings and vector search**: pick a corpus and an encoder in the sidebar, "
    "then see what the embedding space looks like, how many dimensions it really uses, and what each "
    "index or compression method costs in recall for what it saves in memory and time."
)

ws = require_workspace()
s = ws.summary()
runs = RunStore().list_runs(dataset=ws.dataset.name)

cols = st.columns(5)
cols[0].metric("Items", f"{s['n']:,}")
cols[1].metric("Dimensions", s["dim"] if s["dim"] else "—")
cols[2].metric("Categories", f"{s['categories']:,}" if s["categories"] else "none")
cols[3].metric("Queries", f"{s['queries']:,}" if s["queries"] else "held-out sample")
cols[4].metric("Saved runs of this dataset", len(runs),
               help="Runs on the Runs page that used this dataset (the Runs page lists every dataset's).")

encoded = "encoded and cached" if s["encoded"] else "**not encoded yet** (Data page)"
st.markdown(
    f"Workspace: **{esc(ws.dataset.name)}** ({s['kind']}, metric {s['metric']}) with encoder "
    f"**{esc(ws.encoder_name)}**: {encoded}."
)
if ws.dataset.description:
    st.caption(esc(ws.dataset.description))

st.subheader("What each page answers")
PAGES = [
    ("views/data.py", "Data",
     "What is in this corpus? Size, dimension, norms, categories, sample passages; encode it; upload your own file."),
    ("views/map.py", "Embedding map",
     "What does the space look like? A 2-D/3-D map (PCA or UMAP) coloured by category, local dimension or "
     "hubness; a point's nearest neighbours."),
    ("views/query.py", "Query",
     "What does one query return with each index? Results side by side, marked against exact search."),
    ("views/intrinsic.py", "Intrinsic dimension",
     f"How many dimensions does the data really use, out of {s['dim'] or 'its'}? Global estimates and the local "
     "(per-point) dimension."),
    ("views/order.py", "HNSW insertion order",
     "Does the order in which vectors are inserted change HNSW recall? Orders by local dimension, category and "
     "random, side by side."),
    ("views/compression.py", "Compression",
     "Which index or compression method should I use under a memory budget? Recall and task quality vs bytes per "
     "vector vs queries per second, with the Pareto frontier."),
    ("views/spaces.py", "Compare spaces",
     "Do two encoders (or a model and its truncation) see the same neighbourhoods? Neighbour agreement, CKA, "
     "each space's geometry side by side."),
    ("views/runs.py", "Runs",
     "What did I run before? Every experiment saved with its parameters and rows; compare and export."),
]
for path, title, text in PAGES:
    link, answer = st.columns([1, 4], vertical_alignment="center")
    try:
        link.page_link(path, label=title)
    except StreamlitAPIException:  # the page opened on its own, outside the router (tests)
        link.markdown(f"**{title}**")
    answer.markdown(text)
