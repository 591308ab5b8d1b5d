"""Intrinsic dimension: how many dimensions the data really uses, globally and item by item."""

import pandas as pd
import streamlit as st

from core.analysis.intrinsic import calibration_table
from core.experiments.intrinsic import (
    DEFAULT_LB_K,
    DEFAULT_LID_K,
    category_lid_summary,
    estimate_id,
    lid_by_category,
    lid_is_cached,
    pca_id_at,
)
from core.store.runs import RunStore
from figures.intrinsic import (
    calibration_figure,
    estimates_bar,
    lid_by_category_box,
    lid_histogram,
    pca_variance_curve,
)
from figures.text import markdown_text as esc
from ui.page_states import IntrinsicState
from ui.shared import shared
from ui.state import page_state, publish_state, require_embeddings, require_workspace, streamlit_progress
from ui.tables import show_table

st.title("Intrinsic dimension")

ws = require_workspace()
x = require_embeddings(ws, key="id_encode_now")
ds = ws.dataset
n, d = x.shape
items = "passages" if ds.kind == "text" else "vectors"
source = "These given vectors have" if ds.kind == "vectors" else f"**{esc(ws.encoder_name)}** gives"
intro = st.container()


@st.cache_data(show_spinner=False, max_entries=8)
def calibration(n_points: int, dim: int, lid_k: int, pca_threshold: float) -> pd.DataFrame:
    return pd.DataFrame(calibration_table((4, 8, 16, 32), n=n_points, dim=dim, lid_k=lid_k,
                                          levina_bickel_k=min(DEFAULT_LB_K, lid_k), pca_threshold=pca_threshold))


def calibration_panel(k: int, threshold: float) -> None:
    st.subheader("Calibration: data of known intrinsic dimension")
    st.markdown(
        "Do the estimators read the truth? Points drawn from a Gaussian on a random 4-, 8-, 16- or 32-dimensional "
        "subspace of a larger space (Elliott & Clark's construction, no noise) have a known intrinsic dimension. "
        "A perfect estimator sits on the dashed line; below it means an underestimate."
    )
    c1, c2, c3 = st.columns([1, 1, 1])
    n_points = c1.selectbox("Points", [1000, 2000, 4000], index=1, key="id_cal_n")
    dim = c2.selectbox("Ambient dimensions", [256, 1024], index=1, key="id_cal_dim")
    run = c3.button("Run calibration", key="id_calibrate",
                    help="Exact kNN of four synthetic sets; seconds. Results for the same inputs are remembered.")
    if run:
        st.session_state["id_cal_shown"] = (n_points, dim, min(k, n_points - 1), threshold)
    shown = st.session_state.get("id_cal_shown")
    if shown is None:
        st.caption(f"Uses your k = {min(k, n_points - 1)} and PCA threshold {threshold:.1%}; takes seconds. "
                   "Press **Run calibration**.")
        return
    with st.spinner("Estimating on synthetic data…"):
        table = calibration(*shown)
    st.plotly_chart(calibration_figure(table), key="id_cal_chart")
    if shown != (n_points, dim, min(k, n_points - 1), threshold):
        st.caption("Showing the last calibration run; the settings above changed since. Press **Run calibration** "
                   "to redo it.")
    worst = table.iloc[-1]
    truth = int(worst.true_dim)

    def reading(name: str, value: float) -> str:
        off = (value - truth) / truth
        return f"{name} **{value:.1f}** ({'exact' if abs(off) < 0.005 else f'{off:+.0%}'})"

    st.markdown(
        f"With {shown[0]:,} points in {shown[1]} dimensions, k = {shown[2]} and PCA at {shown[3]:.1%}, at true "
        f"dimension **{truth}**: " + ", ".join([
            reading("LocalMLE", worst.local_mle), reading("Levina–Bickel", worst.levina_bickel),
            reading("TwoNN", worst.twonn), reading("PCA-ID", float(worst.pca))]) + ". "
        "kNN estimators tend to read low as the true dimension grows: with a few thousand points, neighbourhoods "
        "are not small in many dimensions. PCA-ID is exact on a flat subspace like this one but reads high on "
        "curved data."
    )
    show_table(table.round(2), key="id_cal_table")


# -- controls ------------------------------------------------------------------------
if n < 4:
    intro.markdown(f"{source} {d} dimensions, but **{esc(ds.name)}** has only {n} {items}.")
    st.error(f"Intrinsic dimension needs at least 4 items (each item's neighbours exclude itself); "
             f"{esc(ds.name)} has {n}.")
    st.stop()

k_max = min(n - 1, 200)
c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
state: IntrinsicState = page_state(IntrinsicState)
k = int(c1.slider("Neighbours per item (k)", 2, k_max, min(max(state.k or DEFAULT_LID_K, 2), k_max), key="id_k",
                  help=f"LID is estimated from each item's k nearest neighbours (at most {k_max}: k must stay "
                       f"below the {n:,} items). Elliott & Clark use 100."))
threshold = float(c2.slider("PCA-ID: share of variance", 0.80, 0.999,
                            min(max(state.pca_threshold if state.pca_threshold is not None else 0.99, 0.80), 0.999),
                            step=0.001, format="%.3f",
                            key="id_pca_threshold",
                            help="PCA-ID counts the principal components needed for this share of the variance."))
clicked = c3.button("Estimate", key="id_estimate", type="primary")
publish_state(state.replace(k=k, pca_threshold=threshold))

if not clicked and not lid_is_cached(ws, k):
    intro.markdown(
        f"How many of its dimensions does **{esc(ds.name)}** really use? {source} **{d}** dimensions; press "
        f"**Estimate** to measure how many of them these **{n:,}** {items} use locally (LID, from each item's "
        f"{k} nearest neighbours) and globally (four estimators side by side)."
    )
    st.info(f"**Estimate** computes the exact {k}-nearest-neighbour graph of all {n:,} {items} once (cached and "
            "shared with the map and the insertion-order page), then the estimators, which take well under a "
            "second.")
    calibration_panel(k, threshold)
    st.stop()

# -- estimate (or load) --------------------------------------------------------------------
try:
    if clicked:
        with st.status(f"Estimating the intrinsic dimension of {n:,} {items}…", expanded=True) as status:
            update, bar = streamlit_progress("kNN graph, then estimators")
            params = {"k": k, "lb_k": DEFAULT_LB_K, "pca_threshold": threshold,
                      "embeddings_key": ws.embeddings_key, "dataset_params": dict(ds.params)}
            with RunStore().recording("id", ds.name, ws.encoder_name, params) as rec:
                res = estimate_id(ws, k, pca_threshold=threshold, progress=update, recorder=rec)
            bar.empty()
            status.update(label=f"Estimated; saved as run #{rec.run_id}", state="complete", expanded=False)
        st.session_state["id_saved"] = (ws.embeddings_key, k, rec.run_id)
    else:
        res = estimate_id(ws, k, pca_threshold=threshold)
except ValueError as exc:
    st.error(f"Cannot estimate the intrinsic dimension: {esc(exc)}")
    st.stop()

lid = res.lid
est = res.estimates
pca_id = pca_id_at(res.spectrum, threshold)
used = f"{lid.mean:.0f}" if lid.mean >= 10 else f"{lid.mean:.1f}"
intro.markdown(
    f"How many of its dimensions does **{esc(ds.name)}** really use? {source} **{d}** dimensions; these **{n:,}** "
    f"{items} use about **{used}** of them locally (mean LID over each item's {k} nearest neighbours), "
    f"and **{pca_id}** principal components hold {threshold:.1%} of the variance. The bars compare four "
    "estimators of the whole set's dimension; the histogram shows how the local dimension varies from item to "
    "item — a long right tail marks regions that are harder to search."
)
saved = st.session_state.get("id_saved")
how = (f"computed in {lid.seconds:.1f} s" if not lid.cached
       else f"loaded from the cache (first computed in {lid.seconds:.1f} s)")
st.caption(f"LID {how}."
           + (f" Saved as run #{saved[2]} (see Runs)." if saved and saved[:2] == (ws.embeddings_key, k) else
              " Press **Estimate** to save these numbers as a run."))

# -- global estimates ------------------------------------------------------------------------
#: the figures below depend on these vectors, their labels, k and the threshold only
view_key = (str(ws.cache.root), ws.embeddings_key, ds.name, repr(sorted(ds.params.items())), k, threshold)
g1, g2 = st.columns(2)
g1.plotly_chart(shared("id.estimates", view_key, lambda: estimates_bar(est, ambient_dim=d)), key="id_estimates_chart")
g2.plotly_chart(shared("id.pca", view_key,
                       lambda: pca_variance_curve(res.spectrum, threshold=threshold, pca_id=pca_id)),
                key="id_pca_chart")
shown = est[["estimator", "dimension", "setting", "n_degenerate", "reads"]].rename(
    columns={"n_degenerate": "points without estimate"})
show_table(shown.round({"dimension": 2}), key="id_estimates_table")
finite = est["dimension"].dropna()
if len(finite) > 1:
    lo, hi = est.loc[finite.idxmin()], est.loc[finite.idxmax()]
    thin = (f"all below half of the {d} ambient dimensions: the vectors lie near a much thinner surface. "
            if hi.dimension < d / 2 else f"against {d} ambient dimensions. ")
    st.markdown(
        f"The estimators range from **{lo.dimension:.1f}** ({lo.estimator}) to **{hi.dimension:.1f}** "
        f"({hi.estimator}), {thin}kNN estimators (LocalMLE, Levina–Bickel, TwoNN) measure the data locally; "
        "PCA-ID counts the flat directions needed to hold all of it, so it is larger when the data is curved."
    )

# -- duplicates ----------------------------------------------------------------------------------
if lid.n_with_duplicates:
    st.info(
        f"**Duplicates:** {lid.n_with_duplicates:,} of {n:,} {items} have exact (or near-exact, closer than 1% "
        f"of the k-th neighbour) duplicates among their neighbours. Those neighbours are dropped from the item's "
        "estimate. "
        + (f"{lid.n_degenerate:,} {items} whose neighbours are *all* duplicates (or all equally far) have no LID and "
           "are left out of the histogram and the averages." if lid.n_degenerate else
           f"Every {items[:-1]} keeps at least two distinct neighbours, so every one has an estimate.")
    )
else:
    st.caption(f"No item has a duplicate among its {k} nearest neighbours, so every item has an estimate.")

# -- LID distribution ----------------------------------------------------------------------------
st.subheader("Local intrinsic dimension, item by item")
st.plotly_chart(shared("id.lid_hist", view_key, lambda: lid_histogram(lid.lid, k=k)), key="id_lid_hist")
spread = pd.Series(lid.lid).dropna()
if len(spread):
    st.caption(f"Median {lid.median:.1f}; the middle 80% of {items} lie between {spread.quantile(0.1):.1f} and "
               f"{spread.quantile(0.9):.1f}.")

if ds.labels is None:
    st.caption(f"{esc(ds.name)} has no categories, so LID cannot be compared across them.")
elif ds.n_labels < 2:
    only = ds.labels[0]
    st.info(f"Every item of {esc(ds.name)} is in one category (**{esc(only)}**): there is nothing to compare "
            "LID across.")
else:
    frame = shared("id.by_category", view_key, lambda: lid_by_category(lid.lid, ds.labels, top=12))
    summary = shared("id.category_summary", view_key, lambda: category_lid_summary(frame))
    st.plotly_chart(shared("id.category_box", view_key, lambda: lid_by_category_box(
        frame, title=f"LID by category (the {len(summary)} largest of {ds.n_labels:,})")), key="id_lid_categories")
    top, bottom = summary.iloc[0], summary.iloc[-1]
    st.markdown(
        f"Among the {len(summary)} largest categories, **{esc(top.category)}** has the highest median LID "
        f"(**{top['median']:.1f}**, {int(top['items'])} {items}) and **{esc(bottom.category)}** the lowest "
        f"(**{bottom['median']:.1f}**, {int(bottom['items'])} {items}). Inserting into HNSW by category or by LID "
        "is what the insertion-order page tests."
    )

calibration_panel(k, threshold)
