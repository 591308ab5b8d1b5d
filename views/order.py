"""HNSW insertion order: does the order vectors are inserted in change what the graph finds?"""

import dataclasses
import time

import pandas as pd
import streamlit as st

from core.analysis.insertion_order import (
    BACKENDS,
    DEFAULT_EF_SEARCH,
    DEFAULT_ORDERS,
    SEEDED_ORDERS,
    ef_search_note,
)
from core.experiments.insertion_order import (
    OrderStudyParams,
    check_order_inputs,
    estimate_build_seconds,
    estimate_study_seconds,
    eval_sizes,
    gap_sentence,
    hub_table,
    latest_order_run,
    load_custom_order,
    load_order_run,
    never_returned_table,
    order_diagnostics,
    order_drilldown,
    order_gaps,
    order_run_params,
    order_study_for_workspace,
    prepare_order_study,
    probe_build_seconds,
    read_order_column,
    recall_vs_lid_table,
    study_workers,
    summarize_order_rows,
)
from core.experiments.intrinsic import DEFAULT_LID_K, MAX_NEIGHBOURS
from core.experiments.recall_vs_id import (
    VS_ID_KIND,
    RecallVsIDParams,
    latest_vs_id_run,
    recall_vs_id_study,
    vs_id_sentence,
    vs_id_table,
)
from core.store.runs import RunStore
from figures.order import in_degree_figure, recall_vs_ef_figure, recall_vs_id_figure, recall_vs_lid_figure
from figures.per_query import per_query_recall_figure
from figures.text import markdown_text as esc
from ui.page_states import OrderState, QueryState
from ui.recorded_run import run_recorded
from ui.shared import run_key, shared
from ui.state import (
    page_state,
    publish_state,
    require_embeddings,
    require_workspace,
    run_to_show,
    state_link,
    streamlit_progress,
)
from ui.tables import HALF, show_table
from views.encoder_ranking_section import encoder_ranking_section

st.title("HNSW insertion order")

ws = require_workspace()
x = require_embeddings(ws, key="order_encode_now")
state: OrderState = page_state(OrderState)
ds = ws.dataset
n, d = x.shape
intro = st.container()
ROW_COLUMNS = ["backend", "order", "seed", "ef_search", "recall_at_k", "build_s", "reused"]
#: estimated study time above which the page warns before running
WARN_SECONDS = 60


@st.cache_data(show_spinner=False, max_entries=16)
def probe(embeddings_key: str, backend: str, metric: str, M: int, ef_construction: int, _x) -> tuple[float, int]:
    return probe_build_seconds(_x, backend, metric=metric, M=M, ef_construction=ef_construction)


def parse_ints(text: str, what: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise ValueError(f"{what} must be whole numbers separated by commas, e.g. 10,20,40") from None
    if not values or min(values) < 1:
        raise ValueError(f"{what} must list at least one positive whole number, e.g. 10,20,40")
    return values


def duration(seconds: float) -> str:
    if seconds < 1:
        return "<1 s"
    if seconds < 120:
        return f"~{seconds:.0f} s"
    return f"~{seconds / 60:.0f} min"


def drill_query_state(run, backend: str, order: str, seed: int | None, ef: int, query_id: str, drill) -> QueryState:
    """The Query page showing one query of the drill-down: this study's very build (backend, order, seed, M,
    efConstruction) at this efSearch beside exact search, with the study's k and base."""
    own = ds.queries is not None and len(ds.queries) > 0
    p = OrderStudyParams.from_dict(run.params)
    study = {"backend": backend, "order": order, "ef_search": int(ef)}
    if seed is not None:
        study["seed"] = int(seed)
    return QueryState(
        mode="query" if own else "item", query=query_id if own else None, item=None if own else query_id,
        methods=("flat", "order_study"), params={"order_study": study}, k=int(drill.k), order_run=int(run.id),
        heldout=None if own else len(drill.query_ids), split_seed=0 if own else int(p.query_seed),
    )


def belongs_here(run) -> bool:
    return run is not None and run.kind == "order" and run.params.get("embeddings_key") == ws.embeddings_key


# -- settings ------------------------------------------------------------------------------------
if n < 3:
    st.error(f"The study needs at least 3 items (a base, queries and neighbours); {esc(ds.name)} has {n}.")
    st.stop()

with st.expander("Custom order (optional): upload one column of row ids", expanded=False):
    st.caption(f"A CSV or text file with one row id per line, a permutation of 0..{n - 1} (the dataset's rows; a "
               "header line is allowed). Rows held out as queries are skipped, the rest keep your order.")
    upload = st.file_uploader("Order file", type=["csv", "txt", "npy"], key="order_upload")
custom = None
if upload is not None:
    try:
        custom = read_order_column(upload.getvalue())
        check_order_inputs(ws, OrderStudyParams(orders=("original",), lid_k=2), custom)
    except ValueError as exc:
        st.error(f"The uploaded order cannot be used: {esc(exc)}")
        custom = None

order_options = [*DEFAULT_ORDERS]
if ds.labels is not None:
    order_options.append("category")
if custom is not None:
    order_options.append("custom")

with st.container(border=True):
    a1, a2, a3, a4 = st.columns([1.3, 2.6, 0.8, 0.8])
    backends = a1.multiselect("Backends", list(BACKENDS), default=list(BACKENDS), key="order_backends")
    orders = a2.multiselect("Insertion orders", order_options,
                            default=[*DEFAULT_ORDERS, *(["custom"] if custom is not None else [])],
                            key="order_orders",
                            help="original: the dataset's order. random: a seeded shuffle per seed. lid-desc/asc: by "
                                 "local intrinsic dimension, highest/lowest first. category: categories in a seeded "
                                 "random order. custom: your uploaded order.")
    n_seeds = int(a3.number_input("Seeds", 1, 10, 3, key="order_seeds",
                                  help="Builds per random and category order (seeds 0, 1, ...)."))
    k = int(a4.number_input("Recall@k", 1, 100, 10, key="order_k"))
    b1, b2, b3, b4, b5 = st.columns([0.8, 0.8, 1.6, 1, 1])
    M = int(b1.number_input("M", 2, 128, 16, key="order_M", help="Links per node (Elliott & Clark: 16)."))
    efc = int(b2.number_input("efConstruction", 1, 1024, 128, key="order_efc",
                              help="Candidates kept while inserting (Elliott & Clark: 128)."))
    efs_text = b3.text_input("efSearch values", ",".join(map(str, DEFAULT_EF_SEARCH)), key="order_efs")
    _, default_nq, _ = eval_sizes(ws, None)
    n_queries = int(b4.number_input("Queries", 1, max(default_nq, min(n - 1, 10_000)), default_nq,
                                    key="order_queries"))
    lid_k = int(b5.number_input("LID k", 2, max(2, min(n - 1, MAX_NEIGHBOURS)), min(DEFAULT_LID_K, n - 1),
                                key="order_lid_k",
                                help="Neighbours per item for the LID orders (Elliott & Clark: 100)."))

# -- validate and estimate -------------------------------------------------------------------------
problems: list[str] = []
efs: tuple[int, ...] = ()
try:
    efs = parse_ints(efs_text, "efSearch")
except ValueError as exc:
    problems.append(str(exc))
if not backends:
    problems.append("Pick at least one backend.")
if not orders:
    problems.append("Pick at least one insertion order.")
params = None
if not problems:
    try:
        params = OrderStudyParams(backends=tuple(backends), orders=tuple(orders), seeds=tuple(range(n_seeds)),
                                  M=M, ef_construction=efc, ef_search=efs, k=k, n_queries=n_queries, lid_k=lid_k)
        check_order_inputs(ws, params, custom if "custom" in orders else None)
    except ValueError as exc:
        problems.append(str(exc))
        params = None
for problem in problems:
    st.error(problem)

n_base, nq, query_source = eval_sizes(ws, n_queries)
if "category" in orders and ds.labels is not None and ds.n_labels < 2:
    st.info(f"{esc(ds.name)} has one category only (**{esc(ds.labels[0])}**): the category order is the "
            "original order.")
low_efs = [e for e in efs if e < k]
if low_efs:
    below = ", ".join(map(str, low_efs))
    st.info(f"efSearch {below} {'is' if len(low_efs) == 1 else 'are'} below k = {k}: "
            + " ".join(ef_search_note(b, min(low_efs), k).split(": ", 1)[1] + "." for b in backends))

if params is not None:
    per_build = {}
    for backend in params.backends:
        seconds, m = probe(ws.embeddings_key, backend, ws.metric, M, efc, x)
        per_build[backend] = estimate_build_seconds(seconds, m, n_base)
    workers = study_workers(params, n_base)
    total = estimate_study_seconds(params, per_build, workers)
    n_builds = len(params.configurations())
    per = ", ".join(f"{b} {duration(s)}" for b, s in per_build.items())
    at_once = (f", {workers} at a time in worker processes (one thread each, so each order means what it says)"
               if workers > 1 else ", one after another")
    line = (f"{n_builds} builds of {n_base:,} vectors ({per} each, extrapolated from a timed build of a "
            f"{min(n, 1000):,}-vector sample{at_once}), searched by {nq:,} queries at {len(efs)} efSearch values: "
            f"**{duration(total)}** in all; builds dominate. Configurations already run are reused from the cache.")
    (st.warning if total > WARN_SECONDS else st.caption)(
        ("This is a long run. " if total > WARN_SECONDS else "") + line)

run_clicked = st.button("Run", key="order_run", type="primary", disabled=params is None,
                        help="Runs the study set above and shows the new run in place of the one below.")

# -- run ---------------------------------------------------------------------------------------------
if run_clicked and params is not None:
    def study(update, on_row) -> int:
        inputs = prepare_order_study(ws, params, custom_order=custom if "custom" in orders else None, progress=update)
        with RunStore().recording("order", ds.name, ws.encoder_name, order_run_params(ws, params, inputs)) as rec:
            for row in order_study_for_workspace(ws, params, update, rec, inputs=inputs):
                on_row(row)
        return rec.run_id

    def study_done(f) -> str:
        reused = sum(r["reused"] for r in f.rows) // max(len(params.ef_search), 1)
        return f"Done: {len(f.rows)} rows saved as run #{f.run_id}" + (
            f" ({reused} builds reused from the cache)" if reused else "")

    finished = run_recorded(f"Running {len(params.configurations())} HNSW builds…", "Insertion-order study", study,
                            stopped="The study stopped", cannot="Cannot run the study", done=study_done,
                            live_columns=ROW_COLUMNS)
    if finished is not None:
        st.session_state["order_run_id"] = finished.run_id

# -- recall against intrinsic dimension (synthetic data, Elliott & Clark's construction) ---------------
def vs_id_section() -> None:
    st.subheader("Recall against intrinsic dimension")
    st.markdown(
        "Why does the order matter more on some data than on others? Here HNSW meets data whose intrinsic "
        "dimension is known by construction: points on a random *k*-dimensional subspace of a high-dimensional "
        "space, *k* swept. Each line is one library at one efSearch; the further right, the more dimensions the "
        "data really uses, and the lower recall falls at the same search effort. The hover shows each set's "
        "measured ID (PCA-99% and TwoNN) beside its nominal *k*."
    )
    defaults = RecallVsIDParams()
    c1, c2, c3, c4 = st.columns([2, 1, 1, 1], vertical_alignment="bottom")
    ks_text = c1.text_input("Intrinsic dimensions k", ",".join(map(str, defaults.ks)), key="vsid_ks")
    n_points = int(c2.number_input("points per set", 200, 50_000, defaults.n, step=500, key="vsid_n"))
    dim = int(c3.number_input("ambient dim", 8, 4096, defaults.dim, step=64, key="vsid_dim"))
    clicked = c4.button("Run", key="vsid_run")
    try:
        params = RecallVsIDParams(ks=tuple(int(v) for v in ks_text.replace(" ", "").split(",") if v), n=n_points,
                                  dim=dim)
    except ValueError as exc:
        st.error(f"Cannot run this study: {esc(exc)}")
        return
    if clicked:
        def study(update, on_row) -> int:
            with RunStore().recording(VS_ID_KIND, "synthetic", "given-vectors", params.as_dict()) as rec:
                for row in recall_vs_id_study(params, update, rec):
                    on_row(row)
            return rec.run_id

        finished = run_recorded(f"Building {len(params.ks) * len(params.backends)} HNSW graphs on synthetic data…",
                                "Recall against intrinsic dimension", study, stopped="The study stopped",
                                cannot="Cannot run this study")
        if finished is None:
            return
        st.session_state["vsid_run_id"] = finished.run_id
    run_id = run_to_show("vsid_run_id", state.vsid_run, latest_vs_id_run(),
                         lambda r: r is not None and r.kind == VS_ID_KIND)
    if run_id is None:
        st.info("No saved study yet: press **Run** (about a minute with the defaults).")
        return
    run = RunStore().get_run(run_id)
    rows = RunStore().rows(run_id)
    publish_state(page_state(OrderState).replace(vsid_run=run_id))
    p = run.params
    st.caption(f"Run #{run.id} · {time.strftime('%Y-%m-%d %H:%M', time.localtime(run.started))} · {p.get('n'):,} "
               f"points in {p.get('dim')} dims per set, {p.get('n_queries')} queries, M={p.get('M')}, "
               f"efConstruction={p.get('ef_construction')} · {run.status}.")
    key = run_key(run)
    st.plotly_chart(shared("vsid.chart", key, lambda: recall_vs_id_figure(rows)), key="vsid_chart")
    st.markdown(esc(shared("vsid.sentence", key, lambda: vs_id_sentence(rows))))
    show_table(shared("vsid.table", key, lambda: vs_id_table(rows).round(3)), key="vsid_table")


# -- results -------------------------------------------------------------------------------------------
run_id = run_to_show("order_run_id", state.run, latest_order_run(ws), belongs_here)
shown = None
if run_id is not None:
    try:
        shown = load_order_run(run_id)
    except ValueError:
        shown = None
if shown is None or not belongs_here(shown.run) or shown.rows.empty:
    intro.markdown(
        f"Does the order in which vectors go into an HNSW graph change what it finds? Each of the **{n_base:,}** "
        f"base vectors of **{esc(ds.name)}** ({d}-D, {ws.metric}) is inserted one at a time in several orders, and "
        f"recall@{k} of **{nq:,}** queries ({query_source}) is measured against exact search. Lines higher up "
        "are better; the gap between lines is the effect of the order alone (Elliott & Clark 2024 report up to "
        "~12 points)."
    )
    encoder_ranking_section(ws)
    vs_id_section()
    st.stop()

run, rows = shown.run, shown.rows
state = state.replace(run=run.id)
publish_state(state)
rk = int(rows["k"].iloc[0])
view_key = (*run_key(run), ws.embeddings_key)
summary = shared("order.summary", view_key, lambda: summarize_order_rows(rows))
gaps = shared("order.gaps", view_key, lambda: order_gaps(rows))
widest = gaps.loc[gaps["gap_points"].idxmax()] if not gaps.empty else None
run_base, run_nq = int(rows["n_base"].iloc[0]), int(rows["n_queries"].iloc[0])
intro.markdown(
    f"Does the order in which vectors go into an HNSW graph change what it finds? Here **{run_base:,}"
    f"** base vectors of **{esc(ds.name)}** ({d}-D, {ws.metric}) were inserted one at a time in "
    f"{rows['order'].nunique()} orders, and recall@{rk} of **{run_nq:,}** queries was "
    "measured against exact search. Lines higher up are better; the gap between lines is the effect of the order "
    "alone"
    + (f" — here up to **{widest.gap_points:.1f} points** ({widest.backend}, efSearch {int(widest.ef_search)}: "
       f"{widest.best_order} vs {widest.worst_order})." if widest is not None else ".")
)

st.subheader("Recall against efSearch")
st.caption(f"Run #{run.id} · {time.strftime('%Y-%m-%d %H:%M', time.localtime(run.started))} · M={run.params.get('M')}"
           f", efConstruction={run.params.get('ef_construction')}, {run.params.get('queries', 'queries')} · "
           f"{len(rows)} rows.")
st.plotly_chart(shared("order.chart", view_key, lambda: recall_vs_ef_figure(summary, k=rk)), key="order_chart")
for backend in rows["backend"].unique():
    sentence = shared("order.gap_sentence", (*view_key, backend), lambda backend=backend: gap_sentence(gaps, backend))
    if sentence:
        st.markdown(sentence)
notes = sorted({note for note in rows["note"].dropna() if note})
if notes:
    st.info("**Why some rows read as they do.** " + " ".join(f"{esc(note)}." for note in notes))
with st.expander("All rows"):
    show_table(rows.drop(columns=["study", "note"], errors="ignore"), key="order_rows")
    st.download_button("Download CSV", rows.to_csv(index=False).encode(), f"order-run-{run.id}.csv", "text/csv",
                       key="order_download")

# -- per-query recall vs LID ----------------------------------------------------------------------------
st.subheader("Which queries lose recall?")
st.markdown(f"Queries binned by their own LID (five equal-count bins); each line is one order's mean per-query "
            f"recall@{rk} (averaged over seeds). A falling line means high-LID queries are the hard ones; "
            "Spearman's ρ in the legend measures it over all queries.")
v1, v2 = st.columns(2)
backends_run = [str(b) for b in rows["backend"].unique()]
lid_backend = v1.selectbox("Backend", backends_run, key="order_lid_backend",
                           index=backends_run.index(state.backend) if state.backend in backends_run else 0)
efs_run = [int(e) for e in sorted(rows["ef_search"].unique())]
hard = summary[(summary["backend"] == lid_backend) & (summary["mean"] < 1.0)]["ef_search"]
default_ef = int(hard.min()) if not hard.empty else int(efs_run[0])
linked_ef = state.ef if state.ef in efs_run else default_ef
if "order_lid_backend" not in st.session_state or "order_lid_ef" not in st.session_state:
    for what, value, options in (("backend", state.backend, backends_run), ("ef", state.ef, efs_run)):
        if value is not None and value not in options:
            st.warning(f"The link's {what}={esc(value)} is not one this run measured ({esc(options)}); using "
                       "the page's default.")
lid_ef = int(v2.selectbox("efSearch", efs_run, index=efs_run.index(linked_ef), key="order_lid_ef"))
state = state.replace(backend=lid_backend, ef=lid_ef)
publish_state(state)
lid_key = (*view_key, lid_backend, lid_ef)
table = shared("order.lid_table", lid_key, lambda: recall_vs_lid_table(ws, rows, lid_backend, lid_ef))
if table.empty:
    st.info("The per-query recall of this run is no longer in the artifact cache; run the study again "
            "(configurations still cached are reused).")
else:
    st.plotly_chart(shared("order.lid_chart", lid_key,
                           lambda: recall_vs_lid_figure(table, k=rk, backend=lid_backend, ef_search=lid_ef)),
                    key="order_lid_chart")
    rhos = table.groupby("order", sort=False)["spearman_rho"].first().dropna()
    if not rhos.empty:
        st.caption(f"Rank correlation of query LID with recall: from {rhos.min():+.2f} ({rhos.idxmin()}) to "
                   f"{rhos.max():+.2f} ({rhos.idxmax()}); below zero means higher-LID queries get lower recall.")

    d1, d2 = st.columns(2)
    orders_run = list(dict.fromkeys(rows[rows["backend"] == lid_backend]["order"]))
    worst_order = (summary[(summary["backend"] == lid_backend) & (summary["ef_search"] == lid_ef)]
                   .sort_values("mean")["order"].tolist() or orders_run)[0]
    drill_order = d1.selectbox("Query by query: order", orders_run,
                               index=orders_run.index(state.order if state.order in orders_run else worst_order),
                               key="order_drill_order", help="Which queries this build fails, and how many.")
    drill_seed = None
    if drill_order in SEEDED_ORDERS:
        seeds_run = [int(v) for v in sorted(rows[(rows["backend"] == lid_backend) & (rows["order"] == drill_order)]
                                            ["seed"].dropna().unique())]
        if seeds_run:
            drill_seed = int(d1.selectbox("Seed of the build", seeds_run, key="order_drill_seed",
                                          index=seeds_run.index(state.seed) if state.seed in seeds_run else 0,
                                          help="A seeded order is built once per seed; the drill-down shows one "
                                               "build, so its link reopens exactly that graph."))
    state = state.replace(order=drill_order, seed=drill_seed)
    publish_state(state)
    drill_key = (*lid_key, drill_order, drill_seed)
    drill = shared("order.drilldown", drill_key,
                   lambda: order_drilldown(ws, run, rows, lid_backend, drill_order, lid_ef, seed=drill_seed))
    if drill is not None:
        d1.plotly_chart(shared("order.drill_chart", drill_key,
                               lambda: per_query_recall_figure(drill.recall, k=drill.k)), key="order_drill_chart")
        d2.caption(esc(drill.sentence()))
        st.markdown(f"**The {len(drill.worst)} hardest queries** ({esc(drill.label)})")
        worst = drill.worst.drop(columns=["missed", "returned_instead"], errors="ignore").copy()
        worst["open"] = [state_link(drill_query_state(run, lid_backend, drill_order, drill_seed, lid_ef, q, drill))
                         for q in worst["query"]]
        show_table(worst, key="order_worst", column_config={
            "recall": st.column_config.NumberColumn(f"recall@{drill.k}", format="%.2f"),
            "lid": st.column_config.NumberColumn("LID", format="%.1f"),
            "open": st.column_config.LinkColumn("on the Query page", display_text="open"),
        })

# -- diagnostics ----------------------------------------------------------------------------------------
st.subheader("Inside one graph: hubs and unreachable points")
st.markdown("Rebuilds one index and reads its graph: how many links point at each node (hubs attract many, some "
            "nodes get none) and which base points no search returns when *every* base vector is used as a query.")
configs = rows[["backend", "order", "seed"]].drop_duplicates().reset_index(drop=True)
labels = [f"{r.backend} · {r.order}" + ("" if pd.isna(r.seed) else f" · seed {int(r.seed)}")
          for r in configs.itertuples()]
w1, w2, w3 = st.columns([2, 1, 1], vertical_alignment="bottom")
pick = w1.selectbox("Build", range(len(configs)), format_func=lambda i: labels[i], key="order_diag_config")
diag_ef = int(w2.selectbox("efSearch", efs_run, index=efs_run.index(default_ef), key="order_diag_ef"))
diag_clicked = w3.button("Diagnose", key="order_diagnose")
chosen = configs.iloc[pick]
diag_key = (run.id, labels[pick], diag_ef)
if diag_clicked:
    st.session_state["order_diag"] = diag_key
if st.session_state.get("order_diag") == diag_key:
    run_params = OrderStudyParams.from_dict(run.params)
    order_name = str(chosen["order"])
    seed = None if pd.isna(chosen["seed"]) else int(chosen["seed"])
    custom_run = load_custom_order(ws, run.params.get("custom_order_sha")) if order_name == "custom" else None
    diag_params = dataclasses.replace(run_params, orders=(order_name,),
                                      seeds=(seed,) if order_name in SEEDED_ORDERS else run_params.seeds)
    update, bar = streamlit_progress(f"Building {chosen['backend']} in {order_name} order")
    try:
        inputs = prepare_order_study(ws, diag_params, custom_order=custom_run, progress=update)
        diag = order_diagnostics(ws, diag_params, str(chosen["backend"]), order_name, seed, diag_ef,
                                 inputs=inputs, progress=update)
    except ValueError as exc:
        bar.empty()
        st.error(f"Cannot diagnose this build: {esc(exc)}")
    else:
        bar.empty()
        base_rows = inputs.base_rows
        c1, c2 = st.columns(2)
        with c1:
            if diag.in_degree is None:
                st.caption("hnswlib does not expose its graph to Python; pick a faiss build for the in-degree "
                           "distribution and hubs.")
            else:
                st.plotly_chart(in_degree_figure(diag.in_degree), key="order_indegree_chart")
                median = float(pd.Series(diag.in_degree).median())
                st.caption(f"{diag.n_without_in_links:,} of {diag.n_base:,} nodes have no in-link at level 0; the "
                           f"busiest hub has {int(diag.in_degree.max())} (median {median:g}).")
                show_table(hub_table(ws, diag, base_rows), key="order_hubs", budget=HALF)
        with c2:
            n_never = diag.never_returned.size
            st.metric("Never returned", f"{n_never:,}", help=f"of {diag.n_base:,} base points, top-{diag.k} at "
                                                             f"efSearch {diag.ef_search}")
            if n_never:
                st.markdown(f"**{n_never:,}** base points ({n_never / diag.n_base:.1%}) are never among anyone's "
                            f"top-{diag.k} — not even their own query: the graph barely reaches them.")
                show_table(never_returned_table(ws, diag, base_rows), key="order_never", budget=HALF)
            else:
                st.markdown(f"Every base point is returned by at least one search (top-{diag.k} at efSearch "
                            f"{diag.ef_search}).")
        st.caption("Loaded from the cache." if diag.cached else "Computed now and cached.")

encoder_ranking_section(ws)
vs_id_section()
