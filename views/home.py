"""Home: where to start (six prepared views with live thumbnails) and what each page answers, with the current
workspace's live numbers."""

import base64
import json
from html import escape

import streamlit as st
from streamlit.errors import StreamlitAPIException

from core.config import store_path
from core.store.runs import RunStore
from figures.text import markdown_text as esc
from ui.page_states import PAGE_STATES
from ui.state import require_workspace, state_link

#: Seconds the list of the cards' runs is reused before the run store is read again.
RUNS_TTL_S = 20
CARD_LINKS = {"map": "Open the map", "query": "Open the Query page", "compression": "Open Compression",
              "order": "Open HNSW insertion order", "spaces": "Open Compare spaces"}

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
cols[4].metric("Saved runs", len(runs),
               help="Runs on the Runs page that used this dataset (the Runs page lists every dataset's).")

encoded = "encoded and cached" if s["encoded"] else "**not encoded yet** (Data page)"
st.markdown(
    f"Workspace: **{esc(ws.dataset.name)}** ({s['kind']}, metric {s['metric']}) with encoder "
    f"**{esc(ws.encoder_name)}**: {encoded}."
)
if ws.dataset.description:
    st.caption(esc(ws.dataset.description))



@st.cache_data(show_spinner=False, max_entries=32, ttl=RUNS_TTL_S)
def cards_runs(embeddings_key: str, dataset: str, encoder: str, store: str, _ws) -> dict:
    from core.experiments.start_here import card_runs

    return card_runs(_ws)


@st.cache_data(show_spinner=False, max_entries=16)
def start_here(embeddings_key: str, runs_json: str, _ws) -> list[dict]:
    """The cards of the workspace and their SVG thumbnails, built once per set of runs (every session shares it)."""
    from core.experiments.start_here import start_cards
    from figures.thumbnails import card_thumbnail

    out = []
    for card in start_cards(_ws, json.loads(runs_json)):
        svg = base64.b64encode(card_thumbnail(card.thumbnail, card.title).encode()).decode("ascii")
        out.append({"key": card.key, "title": card.title, "sentence": card.sentence, "page": card.page,
                    "fields": card.fields, "anchor": card.anchor, "svg": svg})
    return out


def draw_card(card: dict) -> None:
    state = PAGE_STATES[card["page"]](**card["fields"])
    href = escape(state_link(state) + (f"#{card['anchor']}" if card["anchor"] else ""), quote=True)
    with st.container(border=True):
        st.markdown(f"**{esc(card['title'])}**")
        st.markdown(f'<a href="{href}" target="_self"><img src="data:image/svg+xml;base64,{card["svg"]}" '
                    f'alt="{escape(card["title"], quote=True)}" style="width:100%;height:auto"></a>',
                    unsafe_allow_html=True)
        st.caption(esc(card["sentence"]))
        st.markdown(f'<a href="{href}" target="_self" data-card="{escape(card["key"], quote=True)}">'
                    f'{escape(CARD_LINKS[card["page"]])} →</a>', unsafe_allow_html=True)


st.subheader("Start here")
if ws.has_embeddings():
    try:
        runs = cards_runs(ws.embeddings_key, ws.dataset.name, ws.encoder_name, str(store_path()), ws)
        cards = start_here(ws.embeddings_key, json.dumps(runs, sort_keys=True), ws)
    except (ValueError, OSError) as exc:
        runs, cards = {}, []
        st.warning(f"The prepared views cannot be read: {esc(exc)}.")
else:
    runs, cards = {}, []
if cards:
    st.markdown("Six views that open on a result, with this workspace's numbers. Each card opens its page with "
                "exactly these settings; the thumbnails are drawn from the saved runs.")
    for start in range(0, len(cards), 3):
        for col, card in zip(st.columns(3), cards[start : start + 3], strict=False):
            with col:
                draw_card(card)
missing = [k for k, v in runs.items() if not v] if runs else ["map", "order", "sweep", "vs_id", "compare"]
if len(cards) < 6:
    st.info(f"{'No' if not cards else 'Only ' + str(len(cards)) + ' of the six'} prepared views for this workspace "
            "yet: `densescope prepare` saves them for the demo (stdlib-docs with MiniLM); on any workspace, run the "
            "insertion-order study, the compression sweep, the recall-vs-dimension study, a UMAP map and Compare "
            "spaces once on their pages." + (" Encode it first (Data page)." if not ws.has_embeddings() else ""))

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
    ("views/papers.py", "What the papers found",
     "Do the seed papers' findings hold on this data? Each claim, the paper's number, ours from a saved run, and a "
     "verdict by a stated rule."),
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
