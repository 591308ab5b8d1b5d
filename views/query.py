"""Query comparison: one query, 2-4 indexes side by side, each result marked against exact search.

The page's settings live in one `ui.page_states.QueryState`: widgets start from it, it is the URL, and the
drill-down links of Compression and Order build one (method with every build and search parameter, k,
the experiment's evaluation base), so a row's per-query recall reappears here.
"""

import json

import numpy as np
import pandas as pd
import streamlit as st

from core.analysis.neighbourhoods import closeness_label, find_items
from core.data.dataset import take_rows
from core.experiments.query_comparison import (
    DEFAULT_METHODS,
    MAX_METHODS,
    ORDER_STUDY,
    IndexCache,
    compare_query,
    exact_reference,
    example_query,
    method_defaults,
    order_study_method,
    overlap_frame,
    passes,
    relevant_rows,
    result_frame,
    score_rows,
    snippet,
    summary_line,
    threshold_range,
    with_threshold,
)
from core.index import defaults, registry
from core.index.defaults import split_params
from core.index.exact import higher_is_closer
from core.store.runs import RunStore
from figures.query import score_curves_figure
from figures.text import markdown_text as esc
from ui.background import forget_job, start_job
from ui.job_progress import background_build_progress
from ui.page_states import MODE_LABELS, QueryState
from ui.shared import shared
from ui.state import (
    not_offered,
    offer_saved_view,
    page_state,
    publish_state,
    require_embeddings,
    require_workspace,
)
from ui.tables import tail_cut
from views.relevance_filter_section import mapped_caption, mapped_threshold_control, relevance_filter_section

st.title("Query comparison")

ws = require_workspace()
full_x = require_embeddings(ws, key="query_encode_now")
full_ds = ws.dataset
state: QueryState = page_state(QueryState)
metric = ws.metric
encoder = ws.vectors_label
intro = st.container()

FREE_TEXT, OWN_QUERY, ITEM = MODE_LABELS["text"], MODE_LABELS["query"], MODE_LABELS["item"]
MODE_CODES = {label: code for code, label in MODE_LABELS.items()}
CUT_OFF = {"cosine": "minimum cosine similarity", "ip": "minimum inner product", "l2": "maximum squared L2 distance"}
has_queries = full_ds.queries is not None and len(full_ds.queries) > 0


# -- Streamlit plumbing: caches and callbacks ----------------------------------------------
@st.cache_resource(show_spinner=False)
def index_cache() -> IndexCache:
    """Built indexes shared by every session of this app process."""
    return IndexCache(max_entries=12)


@st.cache_data(show_spinner=False, max_entries=64)
def encode_text(embeddings_key: str, text: str, _ws) -> np.ndarray:
    return _ws.encode_queries([text])


# -- the base searched: all items, or an experiment's base (its held-out queries removed) -----------------
split = None
if state.heldout is not None and not has_queries:
    try:
        split = ws.eval_set(state.heldout, state.split_seed)
    except ValueError as exc:
        st.warning(f"The link's held-out split cannot be made here ({esc(exc)}); searching all items.")
if split is not None:
    use_split = st.checkbox(
        f"Search the experiment's base: {split.xb.shape[0]:,} items, without the {len(split.query_ids):,} held out "
        f"as its queries (seed {state.split_seed})", value=True, key="query_use_split",
        help="The link came from an experiment that held some items out of the base as its queries; searching "
             "the same base reproduces its per-query recall. Untick to search all items.")
    if not use_split:
        split = None
if split is not None:
    x, ds = split.xb, take_rows(full_ds, split.base_rows)
    base_position = {int(r): i for i, r in enumerate(split.base_rows)}
    base_key = f"{ws.embeddings_key}:heldout:{len(split.query_ids)}:{state.split_seed}"
else:
    x, ds, base_position, base_key = full_x, full_ds, None, ws.embeddings_key
n, d = x.shape

#: A free-text query that the docstring corpora answer well, so the page opens answered.
#: The item a vector dataset opens on when it has no free text (GloVe's first word is "the").
EXAMPLE_ITEMS = {"glove-6b-50d": "king"}


def pick_item(row: int | None) -> None:
    st.session_state["query_item_row"] = None if row is None else (ws.embeddings_key, int(row))


def on_item_pick() -> None:
    picked = st.session_state.get("query_item_pick")
    if picked is not None:
        pick_item(int(picked))


def on_random_item() -> None:
    draws = st.session_state.get("query_random_draws", 0)
    st.session_state["query_random_draws"] = draws + 1
    pick_item(int(np.random.default_rng(draws).integers(full_ds.n)))


def describe(i: int) -> str:
    """An item of the whole dataset, for pickers."""
    head = full_ds.ids[i] + (f" — {full_ds.labels[i]}" if full_ds.labels is not None else "")
    return head if full_ds.texts is None else f"{head} — {snippet(full_ds.texts[i], 80)}"


def method_params(method: str) -> dict:
    """One widget per build and search parameter of a method, starting from the view state's values."""
    linked = state.method_params(method)
    if method == ORDER_STUDY:
        c0, c1 = st.columns([3, 1])
        c0.markdown(f"**{method}**: " + ", ".join(f"{k} {esc(v)}" for k, v in linked.items() if k != "ef_search"))
        linked["ef_search"] = int(c1.number_input("ef_search", 1, 4096, int(linked.get("ef_search", 16)),
                                                  key=f"query_p_{method}_ef_search",
                                                  help="efSearch of the study's graph (search parameter)"))
        return linked
    spec = registry.get_method(method)
    defaults = {**method_defaults(method, n, d), **linked}
    values: dict = {}
    if not spec.params:
        st.caption(f"**{method}** has no parameters.")
        return values
    cols = st.columns([1] + [2] * len(spec.params))
    cols[0].markdown(f"**{method}**")
    for col, p in zip(cols[1:], spec.params, strict=True):
        key = f"query_p_{method}_{p.name}"
        kind = "build" if p in spec.build_params else "search"
        if p.choices is not None:
            choices = list(p.choices)
            values[p.name] = col.selectbox(p.name, choices, index=choices.index(defaults[p.name]), key=key,
                                           help=f"{p.help} ({kind} parameter)")
        else:
            value = min(max(int(defaults[p.name]), p.low), p.high)
            values[p.name] = int(col.number_input(p.name, p.low, p.high, value, key=key,
                                                  help=f"{p.help} ({kind} parameter)"))
    return values


# -- the query -------------------------------------------------------------------------------
modes = ([FREE_TEXT] if full_ds.kind == "text" else []) + ([OWN_QUERY] if has_queries else []) + [ITEM]
linked_mode = MODE_LABELS.get(state.mode) if state.mode else None
if linked_mode is not None and linked_mode not in modes and "query_mode" not in st.session_state:
    not_offered("mode", state.mode, [MODE_CODES[m] for m in modes], MODE_CODES[modes[0]])
mode = st.radio("Query", modes, index=modes.index(linked_mode) if linked_mode in modes else 0, horizontal=True,
                key="query_mode",
                help="Free text is encoded with the workspace's encoder. A dataset query marks the documents "
                     "its relevance judgments (qrels) name. An item from the data searches with its own vector.")

xq = None
exclude_row = None
query_id = None
text = ""
row = None
exclude = state.exclude_self
query_sig: list = [mode]
if mode == FREE_TEXT:
    text = st.text_input("Query text", value=state.text if state.text is not None else example_query(full_ds),
                         key="query_text", max_chars=300,
                         placeholder="e.g. read a file line by line", help="Press Enter (or Search) to run it.")
    if text.strip():
        try:
            with st.spinner(f"Encoding the query with {ws.encoder_name}…"):
                # the example query is read from the cache (prepare encoded it); others are encoded now
                xq = (ws.encode_query_text(text.strip()) if text.strip() == example_query(ds)
                      else encode_text(ws.embeddings_key, text.strip(), ws))
        except (ValueError, RuntimeError) as exc:
            st.error(f"Cannot encode this query: {esc(exc)}")
        query_sig.append(text.strip())
elif mode == OWN_QUERY:
    q = full_ds.queries
    if state.query and state.query not in set(q.ids) and "query_own" not in st.session_state:
        st.warning(f"The link's query {esc(state.query)} is not one of this dataset's queries; showing the first.")
    qi = st.selectbox(f"Query ({len(q):,}; type to filter)", range(len(q)),
                      index=q.ids.index(state.query) if state.query in set(q.ids) else 0, key="query_own",
                      format_func=lambda i: q.ids[i] + (f" — {snippet(q.texts[i], 100)}" if q.texts else ""))
    query_id = q.ids[qi]
    try:
        if q.vectors is not None or ws.has_query_embeddings():  # given, or encoded once and cached
            xq = ws.query_embeddings()[qi : qi + 1]
        else:
            with st.spinner(f"Encoding the query with {ws.encoder_name}…"):
                xq = encode_text(ws.embeddings_key, q.texts[qi], ws)
    except (ValueError, RuntimeError) as exc:
        st.error(f"Cannot encode this query: {esc(exc)}")
    if q.texts:
        st.text(q.texts[qi])
    query_sig.append(query_id)
else:
    s1, s2, s3 = st.columns([1, 2, 0.6])
    search_text = s1.text_input("Find an item by id, label or text", key="query_item_search",
                                placeholder="e.g. " + snippet(full_ds.labels[0] if full_ds.labels else full_ds.ids[0],
                                                              30))
    if search_text.strip():
        matches = find_items(full_ds.ids, full_ds.texts, full_ds.labels, search_text)
        if len(matches) == 0:
            s2.info("No item's id, label or text contains that text.")
        else:
            found = f"{len(matches):,} match{'es' if len(matches) != 1 else ''}"
            s2.selectbox(found + (" (first 50)" if len(matches) == 50 else ""), [int(i) for i in matches],
                         index=None, format_func=describe, key="query_item_pick", on_change=on_item_pick,
                         placeholder="pick one as the query")
    s3.button("Random item", key="query_item_random", on_click=on_random_item)
    if "query_item_row" not in st.session_state:
        ids = full_ds.ids
        if state.item and state.item in set(ids):
            pick_item(ids.index(state.item))
        else:
            if state.item:
                st.warning(f"The link's item {esc(state.item)} is not an item of {esc(full_ds.name)}; "
                           "showing the first.")
            example = EXAMPLE_ITEMS.get(full_ds.name)
            pick_item(ids.index(example) if example in set(ids) else 0)  # opens answered on a telling item
    picked = st.session_state.get("query_item_row")
    row = picked[1] if picked and picked[0] == ws.embeddings_key and picked[1] < full_ds.n else None
    exclude = st.checkbox("Leave the item itself out of the results", value=state.exclude_self,
                          key="query_exclude_self", help="Otherwise every method returns the item itself at rank 1.")
    if row is not None:
        position = row if base_position is None else base_position.get(row)
        held_out = base_position is not None and position is None
        st.text("Query item: " + describe(row) + (" (held out of the base)" if held_out else ""))
        xq = full_x[row : row + 1]
        exclude_row = position if exclude and position is not None else None
        query_sig += [row, exclude, base_key]

# -- the methods ------------------------------------------------------------------------------
study_run = None
if state.order_run is not None:
    try:
        study_run = RunStore().get_run(state.order_run)
        if study_run.kind != "order" or study_run.params.get("embeddings_key") not in (None, ws.embeddings_key):
            raise ValueError("not an insertion-order study of these embeddings")
    except (ValueError, OverflowError):
        st.warning(f"The link's order_run={state.order_run} is not a saved insertion-order study of this "
                   "workspace; its build is not offered.")
        study_run = None
options = [m for m in registry.METHODS if m != "leanvec_ood" or has_queries]
if study_run is not None:
    options.append(ORDER_STUDY)
m1, m2 = st.columns([3, 1])
linked_methods = [m for m in (state.methods or ()) if m in options][:MAX_METHODS]
if state.methods and "query_methods" not in st.session_state:
    dropped = [m for m in state.methods if m not in options]
    if dropped:
        st.warning(f"The link's methods {esc(', '.join(dropped))} are not offered here; ignored.")
chosen = m1.multiselect(
    f"Methods ({2}–{MAX_METHODS})", options,
    default=linked_methods if len(linked_methods) >= 2 else [m for m in DEFAULT_METHODS if m in options],
    max_selections=MAX_METHODS, key="query_methods",
    format_func=lambda m: "Insertion-order study build · order_study" if m == ORDER_STUDY
    else f"{registry.display_name(m)} · {m}",
    help="Any method of the compression sweep's registry (flat is exact search); the Method parameters below "
         "set how each is built and searched.",
)
k_max = max(1, min(50, n - 1))
k_default = min(state.k if state.k is not None else 10, k_max)
k = int(m2.slider("Results per method (k)", 1, k_max, k_default, key="query_k")) if k_max > 1 else 1
with st.expander("Method parameters", expanded=False):
    st.caption("Build parameters change the index (built once per setting, then cached); search parameters only "
               "change how it is searched.")
    params = {m: method_params(m) for m in chosen}
force = st.button("Search", key="query_run", type="primary")

intro.markdown(
    f"Do different indexes return the same answers to one query? Each method's table lists the top-**{k}** it "
    f"returns from the **{n:,}** items of **{esc(ds.name)}** ({d}-dimensional {esc(encoder)}, "
    f"metric {metric}), "
    "each result marked against exact search over all of them: is it in the exact top-k, at which exact rank; "
    "the table of items below them gives each item's text and the rank each method gave it. "
    "The summary line gives this query's recall@k, how much the methods agree (overlap) and the search latency; "
    "the cut-off slider shows how many results would survive a relevance threshold."
)

state = QueryState(
    mode=MODE_CODES[mode],
    text=text.strip() if mode == FREE_TEXT else None,
    query=query_id if mode == OWN_QUERY else None,
    item=full_ds.ids[row] if mode == ITEM and row is not None else None,
    exclude_self=bool(exclude),
    methods=tuple(chosen),
    params={m: p for m, p in params.items() if p},
    k=k,
    cutoff=state.cutoff,
    filter_threshold=state.filter_threshold,
    heldout=len(split.query_ids) if split is not None else None,
    split_seed=state.split_seed if split is not None else 0,
    order_run=study_run.id if study_run is not None else None,
)
publish_state(state)
offer_saved_view(state)
if len(chosen) < 2:
    st.info(f"Choose at least two methods (up to {MAX_METHODS}) to compare.")
    st.stop()
if xq is None:
    prompt = {FREE_TEXT: "Type a query and press Enter.", OWN_QUERY: "Pick one of the dataset's queries.",
              ITEM: "Search for an item (or draw a random one) to use its vector as the query."}[mode]
    st.info(prompt)
    st.stop()

# -- run (cached: moving the cut-off slider does not search again) ---------------------------------
external = {}
choices = []
for m in chosen:
    if m == ORDER_STUDY:
        extra, build, search = order_study_method(ws, study_run, params[m])
        external[m] = extra
        choices.append((m, build, search))
    else:
        choices.append((m, *split_params(m, params[m])))
signature = json.dumps([base_key, query_sig, choices, k], default=str)
last = st.session_state.get("query_last")
pending = None  # the background job building this base's missing indexes, if any
if force or last is None or last["signature"] != signature or last.get("pending"):
    cache = index_cache()
    missing = [m for m, build, _ in choices if not cache.has(base_key, metric, m, build)]
    try:
        xq_train = ws.query_embeddings() if "leanvec_ood" in chosen else None
        exact = exact_reference(x, xq, k, metric, exclude_row)
        run = dict(exact=exact, exclude_row=exclude_row, relevant=relevant_rows(ds, query_id), cache=cache,
                   embeddings_key=base_key, xq_train=xq_train, external=external)
        if set(missing) - {"flat"} and n > defaults.BACKGROUND_INDEX_N:
            # minutes on a large base: built in a server thread, for every session; exact search (flat: no
            # training, a copy of the vectors) and the methods already built show at once, the others when ready
            missing = [m for m in missing if m != "flat"]
            todo = [c for c in choices if c[0] in missing]
            job_key = f"query-index:{base_key}:{metric}:{json.dumps(todo, default=str)}"

            def build_missing(progress):
                return compare_query(x, xq, todo, k, metric, **run, progress=progress)

            pending = start_job(job_key, "index", build_missing)
            if not pending.running and any(
                    r.ok and not cache.has(base_key, metric, r.method, r.build_params) for r in pending.result or []):
                forget_job(job_key)  # built once, evicted from the index cache since: build again
                pending = start_job(job_key, "index", build_missing)
            if pending.error is not None:
                st.error(f"Building {', '.join(missing)} failed: {esc(pending.error)}")
            if pending.running:
                ready = [c for c in choices if c[0] not in missing]
                results = compare_query(x, xq, ready, k, metric, **run) if ready else []
            else:  # done: what could not be built says why in its column (without building it twice)
                ready = [c for c in choices if cache.has(base_key, metric, c[0], c[1])]
                results = [r for r in (pending.result or []) if not r.ok] + (
                    compare_query(x, xq, ready, k, metric, **run) if ready else [])
                order = {m: i for i, (m, _, _) in enumerate(choices)}
                results.sort(key=lambda r: order.get(r.method, len(order)))
                pending = None
        elif missing:
            with st.status(f"Building {', '.join(missing)} over {n:,} vectors (once per setting)…",
                           expanded=True) as status:
                results = compare_query(x, xq, choices, k, metric, **run,
                                        progress=lambda done, total, message: status.write(message.capitalize()))
                built = [r for r in results if r.ok and not r.reused]
                failed = [r.method for r in results if not r.ok and r.method in missing]
                label = (f"Built {', '.join(r.method for r in built)} in {sum(r.build_s for r in built):.1f} s; "
                         "cached, so the next query is instant." if built else "No index could be built.")
                if failed:
                    label += f" {', '.join(failed)} could not run (see its column)."
                status.update(label=label, state="complete" if built else "error", expanded=False)
        elif force:
            results = compare_query(x, xq, choices, k, metric, **run)
        else:  # the same query over the same indexes: searched (and timed) once per server, not per visitor
            results = shared("query.results", (signature,), lambda: compare_query(x, xq, choices, k, metric, **run))
    except (ValueError, RuntimeError) as exc:
        st.error(f"Cannot run this comparison: {esc(exc)}")
        st.stop()
    last = {"signature": signature, "results": results, "exact": exact, "pending": pending is not None}
    st.session_state["query_last"] = last
if pending is not None:
    st.info(f"{', '.join(m for m, _, _ in choices if all(r.method != m for r in last['results']))}: building "
            f"the index over all {n:,} vectors in the background, once per setting for everyone; exact search "
            "and the methods already built are shown meanwhile.")
    background_build_progress(pending.key)
results, exact = last["results"], last["exact"]
ran = [r for r in results if r.ok]

# -- cut-off -----------------------------------------------------------------------------------------
lo, hi, default = threshold_range(exact, results)
if st.session_state.get("query_threshold_range") != (lo, hi, signature):
    st.session_state["query_threshold_range"] = (lo, hi, signature)
    linked_cut = state.cutoff
    st.session_state["query_threshold"] = linked_cut if linked_cut is not None and lo <= linked_cut <= hi else default
threshold = float(st.slider(
    f"Cut-off: {CUT_OFF[metric]}", lo, hi, step=(hi - lo) / 200, format="%.4f", key="query_threshold",
    help="Relevance filtering: a search always returns k results; a score cut-off keeps only those close enough, "
         "trading recall for precision. Applied to each result's exact score, so methods whose own scores are "
         "estimates (PQ) or Hamming distances (binary codes) compare fairly.",
))
publish_state(state.replace(cutoff=round(threshold, 6)))
filter_view = mapped_threshold_control(ws, exact, own_base=split is None, query_id=query_id)  # relevance filtering
results = with_threshold(results, threshold, metric)
relevant = relevant_rows(ds, query_id)

recalls = ", ".join(f"**{r.method}** {r.found}/{k}" for r in ran)
sentence = (f"Of this query's exact top-{k}, each method found: {recalls}." if ran
            else "No method could run on this query.")
if ran:
    sentence += (f" At the cut-off, {exact.count_passing(threshold):,} of the {exact.n:,} items qualify "
                 f"({exact.top_k_passing(threshold)} of the exact top-{k}).")
if relevant:
    sentence += f" The qrels judge {len(relevant)} document{'s' if len(relevant) != 1 else ''} relevant to it."
st.markdown(sentence)
st.caption(f"Scores: {closeness_label(metric)}. *score* is the method's own (an estimate for compressed codes, a "
           "Hamming distance for binary codes without re-rank); *exact* is the exact score, recomputed from the float "
           "vectors, and *exact #* the exact rank (ties share the best rank).")

# -- two methods per row: every column of a result table fits without scrolling sideways ------------------
#: Column widths in pixels: the seven columns fit in half the main area of a 1280 px wide window.
ID_PX = 142
ID_CHARS = 17  # what fits in ID_PX at the 14 px font


def registry_description(method: str) -> str:
    spec = registry.METHODS.get(method)
    return spec.description if spec is not None else ""


config = {
    "rank": st.column_config.NumberColumn("#", width=30, help="rank in this method's results"),
    "id": st.column_config.TextColumn("id", width=ID_PX, help="the item's id (long ids keep their end: the whole id "
                                                               "and its text are in the table below)"),
    "in exact top-k": st.column_config.CheckboxColumn("top-k", width=46, help=f"among the exact top-{k} (ties count)"),
    "exact rank": st.column_config.NumberColumn("exact #", width=52, help="rank in exact search (1 = nearest)"),
    "exact score": st.column_config.NumberColumn("exact", format="%.3f", width=56,
                                                 help="exact score, recomputed from the float vectors"),
    "score": st.column_config.NumberColumn("score", format="%.3f", width=56, help="the method's own score"),
    "passes cut-off": st.column_config.CheckboxColumn("cut-off", width=52,
                                                      help=f"exact score passes the {CUT_OFF[metric]}"),
}
order = ["rank", "id", "in exact top-k", "exact rank", "exact score", "score", "passes cut-off"]


def method_column(r) -> None:
    st.markdown(f"#### {esc(registry.display_name(r.method))}",
                help=f"{r.method}: {r.label}. {registry_description(r.method)}")
    st.caption(esc(registry.config_name(r.method, {**r.build_params, **r.search_params})) + " — "
               + esc(registry.plain_sentence(r.method)))
    if not r.ok:
        st.error(f"{r.method} could not run: {esc(r.error)}")
        return
    line = summary_line(r)
    if relevant:
        line += f" · relevant found {r.relevant_found} of {len(relevant)}"
    st.markdown(line)
    built = "index reused from the cache" if r.reused else f"index built in {r.build_s:.2f} s"
    st.caption(built + (f"; {r.note}" if r.note else ""))
    table = result_frame(r, ds, threshold, metric, judged=bool(relevant))
    table["id"] = [tail_cut(i, ID_CHARS) for i in table["id"]]
    st.dataframe(table, hide_index=True, width="stretch", column_config=config, key=f"query_table_{r.method}",
                 column_order=[c for c in order if c in table.columns])


for start in range(0, len(results), 2):
    pair = results[start : start + 2]
    for col, r in zip(st.columns(2), pair, strict=False):
        with col:
            method_column(r)


# -- the items, once each: exact rank, which method returned it where, and the text (wrapped) ----------------
def items_table() -> tuple[pd.DataFrame, bool]:
    """One row per item in the exact top-k or in any method's results, in exact order, and a line where the
    exact top-k ends; markdown-escaped (st.table renders markdown). Also: whether any item lies beyond it."""
    rows = np.unique(np.concatenate([exact.top_rows, *[r.rows for r in ran]]).astype(np.int64))
    rows = rows[rows >= 0]
    ranks = exact.ranks(rows)
    order_ = np.lexsort((rows, ranks))
    rows, ranks = rows[order_], ranks[order_]
    in_top = exact.in_top_k(rows)
    kept = passes(exact.scores[rows], threshold, metric)
    kept_mapped = filter_view.keeps(exact.scores[rows])
    positions = {r.method: {int(i): p + 1 for p, i in enumerate(r.rows)} for r in ran}
    has_text = ds.texts is not None or ds.titles is not None or ds.labels is not None
    out = []
    for i, row in enumerate(rows):
        row = int(row)
        if i > 0 and in_top[i - 1] and not in_top[i]:
            out.append({"exact rank": "", "id": f"*exact top-{k} ends here*",
                        "exact score": f"*rank {k}: {exact.kth:.3f}*"})
        item = {"exact rank": str(int(ranks[i])), "id": esc(ds.ids[row]), "exact score": f"{exact.scores[row]:.3f}",
                "cut-off": "✓" if kept[i] else "✗"}
        if kept_mapped is not None:
            item["mapped"] = "✓" if kept_mapped[i] else "✗"
        item.update({m: str(pos[row]) if row in pos else "—" for m, pos in positions.items()})
        if relevant:
            item["relevant"] = str(relevant.get(row, 0))
        if has_text:
            label = str(ds.labels[row]) if ds.labels is not None else ""
            text = ds.display_text(row) if ds.texts is not None or ds.titles is not None else ""
            item["text"] = esc(f"[{label}] {text}" if label and text else (text or label), 150)
        out.append(item)
    return pd.DataFrame(out).fillna(""), bool(in_top.size and not in_top.all())


if ran:
    st.markdown(f"**The items**: the exact top-{k} and every other item a method returned, in exact order")
    items, beyond = items_table()
    styled = items.style.set_properties(subset=["id"], **{"overflow-wrap": "anywhere", "min-width": "7rem"})
    if "text" in items.columns:  # the text gets the room; long ids wrap at any character
        styled = styled.set_properties(subset=["text"], **{"width": "48%"})
    st.table(styled, hide_index=True, height="content" if len(items) <= 24 else 640)
    st.caption("Each method's column gives the rank at which it returned the item (— not returned). "
               + (f"The line marks where the exact top-{k} ends, at exact score {exact.kth:.3f}; below it are the "
                  "items methods returned in place of the ones they missed. " if beyond
                  else f"Every method returned only items of the exact top-{k}. ")
               + f"✓ in *cut-off*: the exact score passes the {CUT_OFF[metric]}." + mapped_caption(filter_view))
    if ds.titles is not None and ds.texts is not None:
        st.caption("*text* shows each item as *title — passage*. Only the passage (after the dash) was encoded and "
                   "searched; the title is shown to help you read it. In the docstring corpora the title is the "
                   "docstring's first line, and the dataset's queries are those first lines: a query's relevant "
                   "item starts with the query's own words, which its vector never saw.")

# -- agreement and score curves ---------------------------------------------------------------------------
if len(ran) >= 2:
    o1, o2 = st.columns([2, 3])
    with o1:
        st.markdown(f"**Overlap** |A ∩ B| / {k} between methods")
        overlaps = overlap_frame(results)
        st.dataframe(overlaps, width="stretch", key="query_overlap",
                     column_config={"_index": st.column_config.TextColumn("", width=80),
                                    **{m: st.column_config.NumberColumn(m, format="%.2f", width=56)
                                       for m in overlaps.columns}})
    with o2:
        fig = shared("query.scores", (signature, threshold, metric), lambda: score_curves_figure(
            score_rows(results, exact), threshold=threshold, score_title=f"exact score ({closeness_label(metric)})",
            higher_is_closer=higher_is_closer(metric)))
        st.plotly_chart(fig, key="query_scores")
        st.caption("Each method's results by rank, at their exact scores; the dashed grey line is the exact top-k. "
                   "A line that falls away from it returned worse neighbours; the black dash-dot line is the cut-off.")

relevance_filter_section(filter_view, exact, threshold)
