"""Compare spaces: two embedding spaces of one dataset — do they see the same neighbourhoods?"""

import json

import pandas as pd
import streamlit as st

from core.analysis.projection import hover_texts, project, projection_is_cached
from core.encode.registry import list_encoders
from core.experiments.spaces import (
    KIND,
    SpaceSpec,
    compare_run_params,
    compare_spaces,
    neighbours_side_by_side,
    open_space,
)
from core.store.runs import RunStore
from core.workspace import Workspace
from figures.map import map_figure
from figures.numbers import value_text
from figures.per_query import per_query_recall_figure
from figures.text import markdown_text as esc
from ui.page_states import SpacesState
from ui.shared import shared
from ui.state import index_of, page_state, publish_state, require_workspace, streamlit_progress, workspace_spec
from ui.tables import show_table
from views.isotropy_section import isotropy_section

st.title("Compare spaces")
ws = require_workspace()
ds = ws.dataset
spec = workspace_spec()
state: SpacesState = page_state(SpacesState)
st.markdown(
    f"Do two encoders see the same neighbourhoods in **{esc(ds.name)}**? Pick two *spaces* — an encoder, or one "
    "cut to its first dimensions (Matryoshka-style) or reduced by PCA — and every one of its "
    f"**{ds.n:,}** items is compared by its nearest neighbours in each, next to how each space fills its "
    "dimensions. Teachers: does a transformer see different neighbours than bag-of-words? Analysts: what "
    "changes if we swap our model, or truncate it?"
)
if ds.kind != "text":
    st.info("This dataset's vectors are given, so there is one space only: pick a text dataset (or upload one) "
            "to compare encoders; derived spaces of the given vectors are compared below.")

ENCODERS = [e["name"] for e in list_encoders()] if ds.kind == "text" else ["given-vectors"]
DERIVED = ["as is", "truncate", "pca", "abtt", "whiten"]


def integer_rows(table: pd.DataFrame, *cols: str) -> pd.DataFrame:
    """A measures table (one row per measure) as text: counts without ".0", other numbers to 4 figures."""
    out = table.copy()
    for col in cols:
        out[col] = [value_text(v) if float(v).is_integer() else f"{v:.4g}" for v in table[col]]
    return out


def space_picker(side: str, default_encoder: str) -> str:
    c1, c2, c3 = st.columns([2, 1, 1])
    s = side.lower()
    linked_enc, linked_how, linked_dims = (getattr(state, f"{s}_{f}") for f in ("encoder", "how", "dims"))
    if f"spaces_{side}_encoder" not in st.session_state:
        for what, value, options in ((f"{s}_encoder", linked_enc, ENCODERS), (f"{s}_how", linked_how, DERIVED)):
            if value is not None and value not in options:
                st.warning(f"The link's {what}={esc(value)} is not one of {esc(', '.join(options))}; using the "
                           "page's default.")
    enc = c1.selectbox(f"Space {side}: encoder", ENCODERS, key=f"spaces_{side}_encoder",
                       index=index_of(ENCODERS, linked_enc, default_encoder))
    how = c2.selectbox("derived", DERIVED, key=f"spaces_{side}_how",
                       index=index_of(DERIVED, linked_how, "as is"),
                       help="truncate: keep the first dimensions (Matryoshka-style); pca: project onto the top "
                            "principal components; abtt: all-but-the-top (Mu & Viswanath) removes the mean and "
                            "the top N principal directions; whiten: PCA whitening to N dimensions.")
    dims = int(c3.number_input("to dims (abtt: directions removed)", 1, 4096,
                               linked_dims or (3 if how == "abtt" else 64),
                               key=f"spaces_{side}_dims", disabled=how == "as is"))
    return enc if how == "as is" else f"{enc}:{how}={dims}"


default_b = "tfidf-svd" if "tfidf-svd" in ENCODERS and ENCODERS[0] != "tfidf-svd" else ENCODERS[-1]
a = space_picker("A", ENCODERS[0])
b = space_picker("B", default_b if ds.kind == "text" else ENCODERS[0])
if ds.n < 3:
    st.error(f"Comparing neighbourhoods needs at least 3 items (each item's neighbours exclude itself); "
             f"{esc(ds.name)} has {ds.n}. Pick a dataset with more items in the sidebar.")
    st.stop()
k_max = max(2, min(100, ds.n - 1))
k = int(st.slider("Neighbours per item (k)", 1, k_max, min(state.k or 10, k_max), key="spaces_k"))
specs = {}
for side, text in (("A", a), ("B", b)):
    try:
        specs[side] = SpaceSpec.parse(text)
    except ValueError as exc:
        st.error(f"Space {side}: {esc(exc)}")
        st.stop()
state = state.replace(a_encoder=specs["A"].encoder, a_how=specs["A"].derivation or "as is", a_dims=specs["A"].dims,
                      b_encoder=specs["B"].encoder, b_how=specs["B"].derivation or "as is", b_dims=specs["B"].dims,
                      k=k)
publish_state(state)

params_json = json.dumps(spec["params"], sort_keys=True)
missing = [enc for enc in dict.fromkeys(s.encoder for s in specs.values())
           if not Workspace.open(spec["dataset"], enc, dataset_params=spec["params"]).has_embeddings()]


@st.cache_resource(show_spinner=False, max_entries=8)
def opened_space(dataset: str, params: str, text: str):
    """A space opened once per process (vectors, derived projection, kNN memo) and shared by sessions."""
    return open_space(dataset, text, dataset_params=json.loads(params))


@st.cache_data(show_spinner=False, max_entries=16)
def cached_comparison(dataset: str, params: str, space_a: str, space_b: str, k: int):
    return compare_spaces(dataset, space_a, space_b, k=k, dataset_params=json.loads(params))


if missing:
    st.warning(f"{esc(', '.join(dict.fromkeys(missing)))} has not encoded **{esc(ds.name)}** yet; encoding takes "
               "a while once, then every page reuses it.")
    if not st.button("Encode and compare", key="spaces_encode", type="primary"):
        st.stop()
    update, bar = streamlit_progress("Encoding")
    try:
        for enc in dict.fromkeys(missing):
            Workspace.open(spec["dataset"], enc, dataset_params=spec["params"]).embeddings(progress=update)
    except (ValueError, RuntimeError, OSError) as exc:
        bar.empty()
        st.error(f"Encoding failed, nothing was saved: {esc(exc)}")
        st.stop()
    bar.empty()

try:
    with st.spinner(f"Comparing {a} and {b} over {ds.n:,} items…"):
        cmp = cached_comparison(spec["dataset"], params_json, a, b, k)
except ValueError as exc:
    st.error(f"Cannot compare these spaces: {esc(exc)}")
    st.stop()

# -- the answer --------------------------------------------------------------------------------------
c1, c2, c3, c4 = st.columns(4)
c1.metric("neighbour agreement", f"{cmp.agreement_mean:.1%}", help=f"chance: {cmp.chance:.2%}")
c2.metric("by chance", f"{cmp.chance:.2%}")
c3.metric("linear CKA", f"{cmp.cka:.3f}")
c4.metric("similarity Spearman ρ", f"{cmp.spearman:.3f}")
for sentence in cmp.sentences():
    st.markdown("- " + esc(sentence))
s1, s2 = st.columns([1, 3])
if s1.button("Save as run", key="spaces_save", help="Keeps the per-item agreement in the run store (Runs page)."):
    store = RunStore()
    with store.recording(KIND, ds.name, f"{a} vs {b}", compare_run_params(ds.name, a, b, k, spec["params"])) as rec:
        rec.describe(cmp.provenance)
        rec.add(*cmp.rows[["id", "agreement"]].to_dict("records"))
    s2.success(f"Saved as run #{rec.run_id} ({len(cmp.rows):,} rows).")
st.caption(f"Computed in {cmp.seconds:.1f} s (cached for this session's next visit).")

# -- geometry ----------------------------------------------------------------------------------------
st.subheader("How each space fills its dimensions")
st.markdown("A space whose vectors all point one way (high mean cosine, much variance in its top component, "
            "isotropy far below 1) wastes dimensions and crowds neighbours; hubs (a skewed k-occurrence) are "
            "items that turn up in everyone's neighbour list.")
names = {"dim": "dimensions", "mean_cosine": "mean pairwise cosine", "top1_variance": "variance in the top PC",
         "top10_variance": "variance in the top 10 PCs", "isotropy": "isotropy (Mu & Viswanath; 1 = even)",
         "hubness_skew": "hubness: skew of the k-occurrence", "twonn_id": "intrinsic dimension (TwoNN)",
         "pca99_id": "intrinsic dimension (PCA, 99% variance)"}
ga, gb = cmp.geometry_a.as_dict(), cmp.geometry_b.as_dict()
show_table(integer_rows(pd.DataFrame({"measure": list(names.values()), a: [ga[key] for key in names],
                                      b: [gb[key] for key in names]}), a, b), key="spaces_geometry")
if cmp.sample < cmp.n:
    st.caption(f"CKA and geometry on a seeded sample of {cmp.sample:,} of {cmp.n:,} items.")
isotropy_section(spec["dataset"], params_json, [a, b])

# -- retrieval ----------------------------------------------------------------------------------------
if cmp.retrieval_a is not None and not cmp.disagreeing.empty:
    st.subheader("Where the search task tells them apart")
    st.markdown("The queries on which the two spaces disagree most: the reciprocal rank of the relevant item in "
                "each space's exact top 10 (1 = first, 0 = not in the top 10).")
    show_table(cmp.disagreeing, key="spaces_disagreeing")

# -- where they disagree ------------------------------------------------------------------------------
st.subheader("Where they disagree")
pair_key = (str(ws.cache.root), spec["dataset"], params_json, a, b, cmp.k)  # what the figures below depend on
left, right = st.columns(2)
with left:
    st.plotly_chart(shared("spaces.agreement", pair_key, lambda: per_query_recall_figure(
        cmp.rows["agreement"].to_numpy(), k=cmp.k, title=f"Neighbour agreement per item (k={cmp.k})",
        x_title=f"neighbour agreement of one item (of its {cmp.k})", unit="items")),
                    key="spaces_agreement_hist")
    st.caption(f"Each bar: the share of the items whose {cmp.k} nearest neighbours in {esc(a)} and in {esc(b)} "
               "share that many; red: fewer than half.")
with right:
    try:
        space_a = opened_space(spec["dataset"], params_json, a)
        if space_a.spec.derivation is not None:
            proj = None
        else:  # the Embedding map's own projection: UMAP when its default map is cached, else PCA
            shown = "umap" if projection_is_cached(space_a.ws, "umap", 2) else "pca"
            proj = project(space_a.ws, shown, 2)
    except ValueError:
        proj = None
    if proj is not None:
        fig = shared("spaces.map", (*pair_key, proj.method, proj.note, proj.budget, proj.seed), lambda: map_figure(
            proj.coords, colour=cmp.rows["agreement"].to_numpy()[proj.rows], colour_kind="continuous",
            colour_title="agreement", hover=hover_texts(ds, proj.rows),
            title=f"Agreement of each item, {proj.method_name} map", height=420))
        st.plotly_chart(fig, key="spaces_map")
        st.caption(f"The Embedding map's {proj.method_name} map of {esc(a)} ({esc(proj.note)}), each item coloured "
                   f"by its neighbour agreement with {esc(b)}: dark items keep few of their neighbours."
                   + ("" if proj.method == "umap" else " (UMAP is drawn here once the Embedding map has computed "
                      "it for these embeddings.)"))
    else:
        st.caption("The map is drawn for plain (not derived) spaces.")

worst = cmp.rows.sort_values("agreement", kind="stable").head(15)
st.markdown(f"**The {len(worst)} items whose neighbourhoods differ most**")
show_table(worst, key="spaces_worst",
             column_config={"agreement": st.column_config.NumberColumn("agreement", format="%.2f")})
item_options = list(worst.index) + [i for i in range(min(ds.n, 50)) if i not in set(worst.index)]
linked_item = ds.ids.index(state.item) if state.item in set(ds.ids) else None
if linked_item is not None and linked_item not in item_options:
    item_options.append(linked_item)
pick = st.selectbox("An item's neighbours in each space", item_options, format_func=lambda i: ds.ids[i],
                    index=item_options.index(linked_item) if linked_item is not None else 0, key="spaces_item")
publish_state(state.replace(item=ds.ids[int(pick)]))
try:
    table = neighbours_side_by_side(opened_space(spec["dataset"], params_json, a),
                                    opened_space(spec["dataset"], params_json, b), int(pick), cmp.k)
    show_table(table, key="spaces_side_by_side")
    st.caption("✓ marks a neighbour both spaces share. Agreement of this item: "
               f"{cmp.rows['agreement'].iloc[int(pick)]:.0%}.")
except ValueError as exc:
    st.error(f"Cannot list the neighbours: {esc(exc)}")
