"""Embedding map: the space in 2-D/3-D (PCA or UMAP), coloured, with one point's neighbours."""

import json

import numpy as np
import streamlit as st

from core.analysis import projection
from core.analysis.neighbourhoods import (
    closeness_label,
    example_id,
    find_items,
    neighbour_misses,
    neighbour_table,
)
from core.analysis.projection import (
    COLOUR_BY,
    DEFAULT_BUDGETS,
    GRAPH_K,
    MAX_BUDGET,
    UMAP_DEFAULTS,
    coords_frame,
    drawn_positions,
    hover_texts,
    hover_width,
    map_colour,
    map_table,
    preload_umap,
    project,
    projection_is_cached,
    table_parquet,
)
from core.experiments.map_recall import (
    NO_RUN_MESSAGE,
    RECALL_COLOUR,
    configuration_label,
    latest_recall_run,
    recall_configurations,
    recall_map_colour,
)
from core.index import defaults, registry
from core.index.defaults import DEFAULT_APPROX, approx_defaults, approx_neighbours, exact_neighbours, split_params
from figures.map import (
    DRAW_MODES,
    POINTS_LIMIT,
    draws_density,
    figure_html,
    figure_png,
    map_figure,
    png_export_status,
)
from figures.text import markdown_text as esc
from ui.background import cancel_job, get_job, max_running, queue_position, start_job
from ui.job_progress import background_build_progress
from ui.page_states import MAP_APPROX, MapState
from ui.shared import run_key, shared
from ui.state import index_of, page_state, publish_state, require_embeddings, require_workspace, streamlit_progress
from ui.tables import show_table, tail_cut

st.title("Embedding map")
#: neighbours per item in the Parquet download
MAP_TABLE_NEIGHBOURS = 10

ws = require_workspace()
x = require_embeddings(ws, key="map_encode_now")
state: MapState = page_state(MapState)
ds = ws.dataset
n, d = x.shape
encoder = ws.vectors_label
cats = f", {ds.n_labels:,} categories" if ds.labels is not None else ""
st.markdown(
    f"What does the space of **{esc(ds.name)}** look like? Each dot is one of its **{n:,}** items "
    f"({d}-dimensional {encoder}, metric {ws.metric}{cats}) placed so that similar items land close: "
    "**PCA** keeps the directions of largest variance (a faithful linear shadow), **UMAP** keeps each "
    "point's nearest neighbours (tight groups are real neighbourhoods; distances *between* groups mean "
    "little). Click a point, or search for one below, to list its exact nearest neighbours and see which "
    "of them an approximate index (HNSW, IVF, PQ, binary codes …) misses."
)


# -- helpers (Streamlit plumbing only) ---------------------------------------------
def lazy_progress(label: str):
    """A ProgressFn that draws its bar only when called (a cache hit draws nothing)."""
    held: dict = {}

    def update(done: int, total: int, message: str = "") -> None:
        if "fn" not in held:
            held["fn"], held["bar"] = streamlit_progress(label)
        held["fn"](done, total, message)

    def close() -> None:
        if "bar" in held:
            held["bar"].empty()

    return update, close


@st.cache_resource(show_spinner=False, max_entries=4)
def approx_index(embeddings_key: str, metric: str, method: str, build_json: str, _x: np.ndarray):
    return registry.build(method, _x, metric, json.loads(build_json))


def method_params(method: str) -> dict:
    """One widget per build and search parameter of a registry method."""
    spec = registry.get_method(method)
    defaults = {**approx_defaults(method, n, d), **(state.compare_params or {}).get(method, {})}
    values: dict = {}
    cols = st.columns(max(len(spec.params), 1))
    for col, p in zip(cols, spec.params, strict=False):
        key = f"map_p_{method}_{p.name}"
        kind = "build" if p in spec.build_params else "search"
        if p.choices is not None:
            choices = list(p.choices)
            values[p.name] = col.selectbox(p.name, choices, index=choices.index(defaults[p.name]), key=key,
                                           help=f"{p.help} ({kind} parameter)")
        else:
            values[p.name] = int(col.number_input(p.name, p.low, p.high, min(max(int(defaults[p.name]), p.low),
                                                                             p.high), key=key,
                                                  help=f"{p.help} ({kind} parameter)"))
    return values


#: The neighbour list's column beside the chart at 1366 px (2/5 of the main area), and the id characters
#: it shows (long ids keep their end).
SIDE_PX = 340
SIDE_ID_CHARS = 15


@st.cache_data(show_spinner=False, max_entries=32)
def all_matches(embeddings_key: str, query: str) -> np.ndarray:
    """Every item matching ``query`` (the list beside the map offers the first 50)."""
    return find_items(ds.ids, ds.texts, ds.labels, query, limit=max(n, 1))


def select_row(row: int | None) -> None:
    st.session_state["map_selected"] = None if row is None else (ws.embeddings_key, int(row))


def on_chart_select() -> None:
    event = st.session_state.get("map_chart") or {}
    points = (event.get("selection") or {}).get("points") or []
    rows = st.session_state.get("map_rows")
    if not points or rows is None:
        return
    pos = points[0].get("customdata")
    if isinstance(pos, list):
        pos = pos[0] if pos else None
    if pos is not None and 0 <= int(pos) < len(rows):
        select_row(int(rows[int(pos)]))


def on_search_pick() -> None:
    picked = st.session_state.get("map_search_pick")
    if picked is not None:
        select_row(int(picked))


# -- controls ------------------------------------------------------------------------
colour_options = [c for c in COLOUR_BY if c != "category" or ds.labels is not None] + [RECALL_COLOUR]
c1, c2, c3, c4, c5, c6 = st.columns([1.0, 0.8, 1.2, 1.0, 1.6, 0.6])
# opens on UMAP when the default UMAP map is cached (PCA of a 384-d space keeps little of it)
default_method = "umap" if projection_is_cached(ws, "umap", 2) else "pca"
method = c1.radio("Projection", ["pca", "umap"], index=index_of(["pca", "umap"], state.projection, default_method),
                  format_func=str.upper, horizontal=True, key="map_method")
dims = c2.radio("Dimensions", [2, 3], index=index_of([2, 3], state.dims, 2), format_func=lambda v: f"{v}-D",
                horizontal=True, key="map_dims")
default_colour = "category" if ds.labels is not None and 1 < ds.n_labels <= 200 else "norm"
if st.session_state.get("map_colour_for") != ws.embeddings_key:  # a new dataset starts from its own default
    st.session_state.pop("map_colour", None)
    st.session_state["map_colour_for"] = ws.embeddings_key
if state.colour is not None and state.colour not in colour_options and "map_colour" not in st.session_state:
    st.warning(f"The link's colour={esc(state.colour)} is not offered here ({esc(', '.join(colour_options))}); "
               f"using {esc(default_colour)}.")
colour_by = c3.selectbox("Colour by", colour_options, index=index_of(colour_options, state.colour, default_colour),
                         key="map_colour",
                         help="category: the dataset's labels. LID: local intrinsic dimension (MLE over each point's "
                              "20 nearest neighbours). hubness: how often a point is among the others' 10 nearest "
                              "(k-occurrence). norm: vector length. per-query recall: recall@k of each query in the "
                              "latest HNSW insertion order study of these embeddings (held-out query items, "
                              "or the passages relevant to the dataset's queries).")
# one budget per method: PCA is instant at any size, a UMAP layout costs about a second per 1,000 points
default_budget = DEFAULT_BUDGETS[method]
budget = int(c4.number_input(
    "Point budget", 1_000, MAX_BUDGET, min(state.budget or default_budget, MAX_BUDGET), step=10_000,
    key=f"map_budget_{method}",
    help="Above this many items the map draws a seeded random sample of them. "
         + ("PCA maps any number at once." if method == "pca" else
            f"UMAP takes about a second per 1,000 points here (default {DEFAULT_BUDGETS['umap']:,}).")))
draw = c5.radio("Draw", list(DRAW_MODES), index=index_of(list(DRAW_MODES), state.draw, "auto"), horizontal=True,
                key="map_draw", disabled=dims == 3,
                help=f"points: every point, clickable. density: points per cell of a grid, one image that pans and "
                     f"zooms at once at any size (hover names each cell's first items). auto: points up to "
                     f"{POINTS_LIMIT:,}, density above: without a GPU the browser repaints 100,000 WebGL points "
                     f"in about a second and 400,000 in two to three. 2-D maps only.")
seed = int(c6.number_input("Seed", 0, 2**31 - 1, int(state.seed), key="map_seed"))
asked_budget = budget
capped_3d = dims == 3 and budget > POINTS_LIMIT and n > POINTS_LIMIT
if capped_3d:  # no density in 3-D: keep the WebGL scene drawable
    budget = POINTS_LIMIT
params: dict = {}
if method == "umap":
    with st.expander("UMAP settings"):
        u1, u2, u3 = st.columns(3)
        params["n_neighbors"] = int(u1.slider("n_neighbors", 2, GRAPH_K + 1,
                                              min(state.n_neighbors or UMAP_DEFAULTS["n_neighbors"], GRAPH_K + 1),
                                              key="map_n_neighbors",
                                              help="Neighbours per point in the graph UMAP lays out: small values "
                                                   "show local detail, large ones more global shape."))
        params["min_dist"] = float(u2.slider("min_dist", 0.0, 0.99, state.min_dist if state.min_dist is not None
                                             else UMAP_DEFAULTS["min_dist"], step=0.01,
                                             key="map_min_dist", help="How tightly points may pack together."))
        params["n_epochs"] = int(u3.select_slider("epochs", [50, 100, 200, 500],
                                                  state.n_epochs if state.n_epochs in (50, 100, 200, 500)
                                                  else UMAP_DEFAULTS["n_epochs"],
                                                  key="map_n_epochs"))
        st.caption("UMAP starts from the PCA layout and uses the exact nearest-neighbour graph; each map is "
                   "cached, so coming back to it is instant.")

recall_run, recall_config = None, None
if colour_by == RECALL_COLOUR:
    recall_run = latest_recall_run(ws)
    configs = recall_configurations(recall_run) if recall_run is not None else []
    if not configs:
        st.info(f"No per-query recall for these embeddings yet: {NO_RUN_MESSAGE} (page *HNSW insertion "
                "order*); the map is drawn without colours meanwhile.")
    else:
        recall_config = st.selectbox(
            f"Recall of (order run #{recall_run.run.id})", configs, format_func=configuration_label,
            key="map_recall_config",
            help="Backend, insertion order and efSearch of the study whose per-query recall colours the map "
                 "(averaged over the run's seeds).")

# -- projection and colours ----------------------------------------------------------
shown_method = method
if (method == "umap" and min(n, budget) > projection.UMAP_BACKGROUND_POINTS
        and not projection_is_cached(ws, "umap", dims, budget=budget, seed=seed, params=params)):
    # a long layout: computed in a server thread shared by every session asking for it; PCA meanwhile
    # the key is what is computed: a budget of n or more draws all n points, so it is one map
    job_key = projection.layout_job_key(ws.embeddings_key, "umap", dims, budget, n, seed, params)
    job = start_job(job_key, "umap", lambda progress: project(ws, "umap", dims, budget=budget, seed=seed,
                                                              params=params, progress=progress))
    if job.error is not None:
        st.error(f"The UMAP map could not be computed: {esc(job.error)}. Showing PCA; pick UMAP again to retry.")
    else:
        def stop_umap() -> None:
            cancel_job(job_key)
            st.session_state["map_method"] = "pca"

        @st.fragment(run_every=2.0)
        def umap_progress() -> None:
            current = get_job(job_key)
            if current is None or not current.running:
                st.rerun()
            ahead = queue_position(job_key)
            if ahead is not None:
                st.progress(0.0, text=f"UMAP of {min(n, budget):,} points is queued: {ahead + 1} background job(s) "
                            f"before it (at most {max_running()} run at once on this server)")
            else:
                st.progress(current.fraction, text=f"UMAP of {min(n, budget):,} points in the background: "
                            f"{current.message or 'starting'} ({current.seconds:.0f} s so far)")
            st.button("Stop this UMAP", key="map_umap_stop", on_click=stop_umap,
                      help="Stops the background layout for everyone waiting for it and shows PCA.")

        st.info(f"UMAP of {min(n, budget):,} points takes minutes here (all 400k GloVe words: ~18 min on 2 "
                "cores), so it runs in the background for everyone who asks; the page switches to it when "
                "it is ready. Meanwhile: the PCA map of the same points.")
        umap_progress()
    shown_method = "pca"
update, close = lazy_progress(f"Computing the {shown_method.upper()} {dims}-D map")
try:
    proj = project(ws, shown_method, dims, budget=budget, seed=seed, params=params if shown_method == method else None,
                   progress=update)
    if colour_by != RECALL_COLOUR:
        colour = map_colour(ws, proj, colour_by, progress=update)
    elif recall_config is not None:
        colour = recall_map_colour(ws, proj, recall_run, tuple(recall_config), progress=update)
    else:
        colour = map_colour(ws, proj, "none", progress=update)
except ValueError as exc:
    close()
    st.error(f"Cannot draw this map: {esc(exc)}")
    st.stop()
close()
preload_umap()  # while the user looks at this map, import umap for the next one
st.session_state["map_rows"] = proj.rows
density = draws_density(proj.n_shown, dims, draw)
how = "loaded from the cache" if proj.cached else "computed just now"
st.caption(f"{proj.method_name} {dims}-D of {proj.note}: {how} (first computed in {proj.seconds:.1f} s)."
           + (f" Laid out from the {proj.graph_note}." if proj.graph_note.startswith("approximate") else "")
           + (f" {esc(colour.summary[:1].upper() + colour.summary[1:])}." if colour.summary else "")
           + (f" 3-D maps draw at most {POINTS_LIMIT:,} points." if capped_3d else "")
           + (f" Drawn as a density (more than {POINTS_LIMIT:,} points, or asked for): every point counts in "
              "its cell; hover a cell for its first items, choose *Draw: points* to see and click each point."
              if density else ""))

# the neighbour list beside the chart, as the embedding projectors lay it out: both on one screen
chart_box, side_box = st.columns([3, 2], gap="medium")
downloads_box = st.container()

# -- a point and its neighbours ------------------------------------------------------------
with side_box:
    st.markdown("##### A point and its neighbours")
    if state.point and "map_selected" not in st.session_state:
        if state.point in set(ds.ids):
            select_row(ds.ids.index(state.point))
        else:
            select_row(None)
            st.warning(f"The link's point {esc(state.point)} is not an item of {esc(ds.name)}; none is selected.")
    selected = st.session_state.get("map_selected")
    row = selected[1] if selected and selected[0] == ws.embeddings_key and selected[1] < n else None
    state = state.replace(projection=method, dims=dims, colour=colour_by, point=None if row is None else ds.ids[row],
                          budget=None if asked_budget == default_budget else asked_budget, draw=draw, seed=seed,
                          n_neighbors=params.get("n_neighbors"), min_dist=params.get("min_dist"),
                          n_epochs=params.get("n_epochs"))
    if row is None:
        publish_state(state.replace(compare=None, compare_params=None))

    s1, s2 = st.container(), st.container()
    query = s1.text_input("Find a point by id, label or text", key="map_search",
                          placeholder="e.g. " + example_id(ds.ids))
    highlight: dict = {}
    if query.strip():
        matches = find_items(ds.ids, ds.texts, ds.labels, query)
        if len(matches):  # every match is marked on the map, not only the first 50 the list offers
            every = all_matches(ws.embeddings_key, query) if len(matches) == 50 else matches
            highlight = {"matches": drawn_positions(proj.rows, every),
                         "matches_name": f"{len(every):,} match{'es' if len(every) != 1 else ''} for "
                                         f"“{query.strip()[:30]}”"}
        if len(matches) == 0:
            s2.info(f"No item's id, label or text contains {esc(repr(query))}.")
        else:

            def describe(i: int) -> str:
                head = ds.ids[i] + (f" — {ds.labels[i]}" if ds.labels is not None else "")
                return head if ds.texts is None else f"{head} — {' '.join(ds.texts[i].split())[:80]}"

            found_label = highlight["matches_name"] + (" (the first 50 listed; all ringed on the map)"
                                                      if len(matches) == 50 else " (ringed on the map)")
            s2.selectbox(found_label, [int(i) for i in matches],
                         index=None, format_func=describe, key="map_search_pick",
                         on_change=on_search_pick, placeholder="pick one to show it on the map")
    elif row is None:
        s2.caption("…or switch *Draw* to points and click one on the map (2-D maps)." if density
                   else "…or click a point on the map (2-D maps).")

    if row is not None:
        k1, k2 = st.columns([1, 2])
        k = int(k1.slider("Neighbours k", 1, 50, int(state.k), key="map_k"))
        choices = list(MAP_APPROX)
        approx = k2.selectbox(
            "Compare with", choices, index=index_of(choices, state.compare, DEFAULT_APPROX), key="map_approx",
            format_func=registry.display_name,
            help="Any method of the compression sweep's registry (except LeanVec-OOD, which needs queries). "
                 + " ".join(f"{registry.display_name(m)}: {registry.plain_sentence(m)}" for m in choices),
        )
        with st.expander(f"Settings of {registry.display_name(approx)}"):  # folded: the list stays on screen
            approx_params = method_params(approx)
        build, search = split_params(approx, approx_params)
        state = state.replace(k=k, compare=approx, compare_params={approx: approx_params} if approx_params else None)
        publish_state(state)
        settings = registry.config_name(approx, {**build, **search})
        index_job = None
        try:
            # the cached kNN graph answers at once; without one, one exact search of this point (never a graph)
            use_graph = not proj.sampled and (n <= defaults.BACKGROUND_INDEX_N or ws.has_knn(max(k, GRAPH_K)))
            graph = ws.knn(max(k, GRAPH_K)) if use_graph else None
            scores, ids = exact_neighbours(x, row, k, ws.metric, graph)
            build_json = json.dumps(build, sort_keys=True)
            if n > defaults.BACKGROUND_INDEX_N:  # minutes here: built in a server thread, for every session
                index_key = f"map-index:{ws.embeddings_key}:{ws.metric}:{approx}:{build_json}"
                index_job = start_job(index_key, "index",
                                      lambda _progress: registry.build(approx, x, ws.metric, build))
                if index_job.error is not None:
                    raise ValueError(index_job.error)
                built = None if index_job.running else index_job.result
            else:
                with st.spinner(f"Building {approx} over {n:,} vectors (once per setting)…"):
                    built = approx_index(ws.embeddings_key, ws.metric, approx, build_json, x)
            found = approx_neighbours(built, x, row, k, search) if built is not None else None
        except ValueError as exc:
            st.error(f"Cannot compare neighbours: {esc(exc)}")
        else:
            missed = neighbour_misses(ids, found) if found is not None else []
            label = f" ({esc(ds.labels[row])})" if ds.labels is not None else ""
            st.markdown(f"Selected: **{esc(ds.ids[row])}**{label}")
            if ds.texts is not None:
                st.caption(esc(" ".join(ds.texts[row].split()), 120))
            source = "from the cached kNN graph" if graph is not None else f"exact search over all {n:,} items"
            if found is None:
                st.markdown(f"Its **{len(ids)} exact nearest neighbours**; what **{esc(settings)}** finds appears "
                            f"here once its index over all {n:,} vectors is built.",
                            help=f"Exact neighbours {source}; score: {closeness_label(ws.metric)}.")
                background_build_progress(index_job.key)
            else:
                st.markdown(
                    f"**{esc(settings)}** finds **{len(ids) - len(missed)}** of its **{len(ids)} exact nearest "
                    f"neighbours** (recall@{len(ids)} = {(len(ids) - len(missed)) / max(len(ids), 1):.2f})"
                    + (f" and misses {len(missed)}, marked ✕ on the map." if missed else "."),
                    help=f"Exact neighbours {source}; score: {closeness_label(ws.metric)}.",
                )
            side = neighbour_table(ds, scores, ids, missed if found is not None else None, approx).drop(
                columns=["text", "label"], errors="ignore")
            side = side.rename(columns={"rank": "#", f"found by {approx}": "found"})
            side["id"] = [tail_cut(i, SIDE_ID_CHARS) for i in side["id"]]
            show_table(side, key="map_neighbours", budget=SIDE_PX,
                       column_config={"found": st.column_config.TextColumn(
                           "found", help=f"whether {registry.display_name(approx)} returned it"),
                           "score": st.column_config.NumberColumn("score", help=closeness_label(ws.metric))})
            neighbour_pos = drawn_positions(proj.rows, ids)
            selected_pos = drawn_positions(proj.rows, [row])
            highlight = {
                "selected": int(selected_pos[0]) if selected_pos.size else None,
                "neighbours": neighbour_pos,
                "missed": drawn_positions(proj.rows, missed),
                "missed_name": f"missed by {registry.display_name(approx)}",
                **highlight,
            }
            if proj.sampled:
                st.caption(f"{neighbour_pos.size} of the {len(ids)} neighbours are among the drawn sample"
                           + ("." if selected_pos.size else "; the point itself is not."))
        if st.button("Clear selection", key="map_clear"):
            select_row(None)
            st.rerun()


# -- the map -------------------------------------------------------------------------------
title = f"{proj.method_name} {dims}-D map of {ds.name}" + (f", coloured by {colour.title}" if colour.title else "")
axes = None
if proj.explained_variance:
    axes = tuple(f"PC{j + 1} ({v:.1%} of variance)" for j, v in enumerate(proj.explained_variance))
    st.session_state["map_pca_variance"] = proj.explained_variance
# everything the figure depends on: the vectors, the projection, the colouring, the drawing and the selection
figure_key = (
    str(ws.cache.root), ws.embeddings_key, ds.name, repr(sorted(ds.params.items())), proj.method, dims, proj.note,
    repr(sorted(proj.params.items())), proj.budget, proj.seed, colour_by, draw,
    run_key(recall_run.run) if recall_run is not None else None, tuple(recall_config or ()),
    repr({name: value.tolist() if isinstance(value, np.ndarray) else value for name, value in highlight.items()}),
)
fig = shared("map.figure", figure_key, lambda: map_figure(
    proj.coords,
    colour=colour.values,
    colour_kind=colour.kind,
    colour_title=colour.title,
    hover=hover_texts(ds, proj.rows, width=hover_width(proj.n_shown)),
    title=title,
    note=proj.note,
    axis_titles=axes,
    draw=draw,
    **highlight,
))
with chart_box:
    if dims == 2:
        st.plotly_chart(fig, key="map_chart", on_select=on_chart_select, selection_mode="points",
                        config={"scrollZoom": True})
    else:
        st.plotly_chart(fig, key="map_chart_3d", config={"scrollZoom": True})
    if axes:
        st.caption("PCA axes: " + ", ".join(axes) + f"; together {sum(proj.explained_variance):.1%} of the "
                   f"variance of the {d}-D vectors.")

with downloads_box:
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{ds.name}-{proj.method}-{dims}d")
    b1, b2, b3, b4, b5 = st.columns([1.3, 1.7, 1.25, 1.15, 1.4])  # each button's label whole at 1366 px
    b1.download_button("Coordinates (CSV)", data=lambda: coords_frame(proj, ds).to_csv(index=False).encode(),
                       file_name=f"{stem}.csv", mime="text/csv", key="map_dl_csv", on_click="ignore")
    b2.download_button("With neighbours (Parquet)",
                       data=lambda: table_parquet(map_table(ws, proj, MAP_TABLE_NEIGHBOURS)),
                       file_name=f"{stem}-neighbours.parquet", mime="application/octet-stream",
                       key="map_dl_parquet", on_click="ignore",
                       help=f"id, label, text, coordinates and each item's {MAP_TABLE_NEIGHBOURS} exact nearest "
                            "neighbours (ids and scores), from the cached kNN graph.")
    b3.download_button("Figure (HTML)", data=lambda: figure_html(fig), file_name=f"{stem}.html",
                       mime="text/html", key="map_dl_html", on_click="ignore")
    png_ok, png_why = png_export_status()
    if png_ok:
        b4.download_button("Figure (PNG)", data=lambda: figure_png(fig), file_name=f"{stem}.png",
                           mime="image/png", key="map_dl_png", on_click="ignore",
                           help="Rendered by kaleido in a headless Chromium: takes a few seconds.")
    else:
        b4.caption(f"{png_why}. The camera icon above the chart saves a PNG from your browser.")
    b5.caption("One row per drawn point: the CSV has id, label and the map coordinates; the Parquet also the "
               "text and each item's exact neighbours.")
