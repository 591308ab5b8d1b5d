"""Compression: what each index or compression method costs in recall for what it saves in memory and time."""

import os
import tempfile
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from core.analysis.sweep import PRESETS
from core.experiments.compression import (
    drilldown,
    embeddings_sentence,
    eval_sizes,
    format_bytes,
    latest_sweep_run,
    load_sweep_run,
    param_choices,
    parse_param_values,
    plan_sweep,
    smallest_answered_budget,
    smallest_near_best,
    summary_sentence,
    sweep_for_workspace,
    sweep_run_params,
    task_quality_costs,
    training_split_queries,
)
from core.experiments.export import config_from_row, export_configuration, search_snippet_of, zip_folder
from core.index.metrics import best_under_budget, get_metric, pareto_frontier, quality_cost, reference_row
from core.index.registry import METHODS, config_name, display_name
from core.store.runs import RunStore
from figures.compression import quality_vs_memory_figure, recall_vs_memory_figure, recall_vs_qps_figure
from figures.map import figure_png, png_export_status
from figures.per_query import per_query_recall_figure
from figures.text import markdown_text as esc
from ui.page_states import BYTES_MODES, QUALITY_METRICS, RECALL_DEFINITIONS, CompressionState, QueryState
from ui.recorded_run import run_recorded
from ui.shared import run_key, shared
from ui.state import (
    execution_picker,
    given_neighbors_of,
    page_state,
    publish_state,
    require_embeddings,
    require_workspace,
    run_to_show,
    state_link,
    streamlit_progress,
)
from ui.tables import show_table

st.title("Compression")

ws = require_workspace()
x = require_embeddings(ws, key="sweep_encode_now")
state: CompressionState = page_state(CompressionState)
ds = ws.dataset
n, d = x.shape
intro = st.container()
LIVE_COLUMNS = ["label", "status", "recall_at_k", "bytes_per_vector", "qps", "p50_ms", "build_s", "reason"]
#: The table at 1366 px: the configuration in plain words, its main measures; MRR, p99, build and train
#: times, label, factory string, threads, reasons and notes are in the CSV (and each chart point's hover).
TABLE_COLUMNS = [
    "configuration", "pareto", "recall_at_k", "ndcg_at_10", "bytes_per_vector", "rerank_bytes_per_vector",
    "compression_ratio", "qps", "p50_ms",
]
BY_ID = "by id"
RECALL_LABELS = dict(zip(RECALL_DEFINITIONS, [BY_ID, "by distance (ann-benchmarks)"], strict=True))
QUALITY_LABELS = dict(zip(QUALITY_METRICS, ["nDCG@10", "MRR@10"], strict=True))
QUALITY_COLUMNS = {"ndcg": "ndcg_at_10", "mrr": "mrr_at_10"}
BYTES_LABELS = dict(zip(BYTES_MODES, ["index + float vectors kept for re-ranking", "the index alone"], strict=True))
BYTES_COLUMNS = {"total": "total_bytes_per_vector", "index": "bytes_per_vector"}
#: estimated sweep time above which the page warns before running
WARN_SECONDS = 60


def code_of(labels: dict[str, str], label: str) -> str:
    """The view-state code of a radio's label (the radios show labels; the state and URL hold codes)."""
    return next(code for code, text in labels.items() if text == label)


def drill_query_state(run, row: dict, query_id: str, drill) -> QueryState:
    """The Query page showing one query of a drill-down: the row's method with every build and search
    parameter, the run's k and the base its queries were searched in (held-out items removed)."""
    cfg = config_from_row(row)
    own = ds.queries is not None and len(ds.queries) > 0
    other = "hnsw_flat" if cfg.method == "flat" else "flat"
    return QueryState(
        mode="query" if own else "item", query=query_id if own else None, item=None if own else query_id,
        methods=("flat", cfg.method) if other == "flat" else ("flat", other),
        params={cfg.method: cfg.params} if cfg.params else None, k=int(drill.k),
        heldout=None if own else len(drill.query_ids), split_seed=0 if own else int(run.params.get("seed", 0)),
    )


def belongs_here(run) -> bool:
    return run is not None and run.kind == "sweep" and run.params.get("embeddings_key") == ws.embeddings_key


def method_label(name: str) -> str:
    return f"{display_name(name)} · {name}"


# -- settings ------------------------------------------------------------------------------------
try:
    _, default_nq, query_source = eval_sizes(ws, None)
except ValueError as exc:
    st.error(f"The compression sweep cannot run here: {esc(exc)}. Pick a dataset with more items in the sidebar.")
    st.stop()
max_nq = len(ds.queries) if ds.queries is not None and len(ds.queries) else n - 1
problems: list[str] = []
with st.container(border=True):
    a1, a2, a3, a4 = st.columns([1, 3.2, 0.8, 0.9])
    preset = a1.selectbox("Preset", list(PRESETS), key="sweep_preset",
                          help="quick: every method family at one or two settings. thorough: every method's full "
                               "grid (minutes to hours; the estimate is shown before you run).")
    methods = a2.multiselect("Methods", list(METHODS), default=list(METHODS), format_func=method_label,
                             key="sweep_methods", help="Each method's parameters are set below.")
    # a method trained on judged queries (task-aware PQ) opens on half of them: the other half trains it
    split_nq = training_split_queries(ws, methods, None)
    opening_nq = split_nq if split_nq is not None else default_nq
    n_queries = int(a4.number_input(
        "Queries", 1, max(1, max_nq), min(opening_nq, max(1, max_nq)), key="sweep_queries",
        help=f"Default: {query_source}." + (f" With task-aware PQ chosen it opens on {split_nq:,}: the other "
                                            "judged queries train it and are never evaluated." if split_nq else "")))
    n_base, nq, query_source = eval_sizes(ws, n_queries)
    k = int(a3.number_input("Recall@k", 1, max(1, min(1000, n_base)), min(10, n_base), key="sweep_k",
                            help="How many of the exact top-k neighbours each method must find."))
    overrides: dict[str, dict[str, list]] = {}
    with st.expander(f"Parameter ranges of the {len(methods)} methods (preset: {preset})", expanded=False):
        st.caption("Each list is swept; a method runs every combination. Build parameters (what the index is "
                   "made with) are built once and shared by the search parameters. Type a number to add it; the "
                   "valid range is in each parameter's help.")
        for method in methods:
            choices = param_choices(preset, method, n=n_base, d=d)
            if not choices:
                st.markdown(f"**{method}** — no parameters")
                continue
            cols = st.columns([1.2] + [2] * len(choices))
            cols[0].markdown(f"**{method}**")
            overrides[method] = {}
            for col, c in zip(cols[1:], choices, strict=True):
                picked = col.multiselect(
                    f"{c.name} ({c.stage})", c.options, default=c.default, key=f"sweep_{preset}_{method}_{c.name}",
                    help=c.help, accept_new_options=c.free,
                )
                try:
                    overrides[method][c.name] = parse_param_values(method, c.name, picked)
                except ValueError as exc:
                    problems.append(str(exc))

plan = None
if not methods:
    problems.append("Pick at least one method.")
if not problems:
    try:
        plan = plan_sweep(ws, preset=preset, methods=methods, overrides=overrides, k=k, n_queries=n_queries)
    except ValueError as exc:
        problems.append(str(exc))
for problem in problems:
    st.error(problem)
if plan is not None:
    line = plan.describe() + ". " + plan.memory_sentence()
    long_run = plan.estimate_s > WARN_SECONDS
    (st.warning if long_run else st.caption)(("This is a long run: " if long_run else "") + line)

execution = execution_picker("sweep_execution")
run_clicked = st.button("Run", key="sweep_run", type="primary", disabled=plan is None,
                        help="Runs the methods picked above and shows the new run in place of the one below.")

# -- run ---------------------------------------------------------------------------------------------
if run_clicked and plan is not None:
    def sweep(update, on_row) -> int:
        with RunStore().recording("sweep", ds.name, ws.encoder_name, sweep_run_params(ws, plan)) as rec:
            for row in sweep_for_workspace(ws, plan=plan, progress=update, recorder=rec, execution=execution,
                                           ray_address=os.environ.get("RAY_ADDRESS")):
                on_row(row)
        return rec.run_id

    finished = run_recorded(
        f"Running {len(plan.configs)} configurations…", "Compression sweep", sweep, stopped="The sweep stopped",
        cannot="Cannot run the sweep", live_columns=LIVE_COLUMNS, live_height=260,
        done=lambda f: (f"Done: {sum(r['status'] == 'ok' for r in f.rows)} of {len(f.rows)} configurations ran; "
                        f"saved as run #{f.run_id}"))
    if finished is not None:
        st.session_state["sweep_run_id"] = finished.run_id

# -- results -------------------------------------------------------------------------------------------
def opening(k: int, nq: int, source: str) -> str:
    return (f"{esc(embeddings_sentence(n, d, ws.encoder_name))}. Each method below stores them in less memory, or "
            f"searches them faster, and pays in recall@{k}: the share of the exact top-{k} neighbours it still finds "
            f"for **{nq:,}** queries ({source}).")


run_id = run_to_show("sweep_run_id", state.run, latest_sweep_run(ws), belongs_here)
shown = None
if run_id is not None:
    try:
        shown = load_sweep_run(run_id)
    except ValueError:
        shown = None
if shown is None or not belongs_here(shown.run) or shown.rows.empty:
    intro.markdown(opening(k, nq, query_source) + " Pick methods and press **Run**: each configuration becomes one "
                   "point on a recall-against-memory chart, and the best trade-offs form its Pareto frontier.")
    st.stop()

run, rows = shown.run, shown.rows
rk = shown.k
counted = st.radio("Bytes per vector count", list(BYTES_LABELS.values()), index=BYTES_MODES.index(state.bytes),
                   horizontal=True, key="sweep_bytes",
                        help="Methods that re-rank a shortlist keep the float32 vectors too (in memory or on disk). "
                             "Count them to compare what must stay in RAM.")
counted_mode = code_of(BYTES_LABELS, counted)
bytes_col = BYTES_COLUMNS[counted_mode]
has_ties = "recall_at_k_ties" in rows and rows["recall_at_k_ties"].notna().any()
recall_options = list(RECALL_DEFINITIONS) if has_ties else ["id"]
recall_def = st.radio(
    "Recall counts", [RECALL_LABELS[o] for o in recall_options],
    index=recall_options.index(state.recall) if state.recall in recall_options else 0,
    horizontal=True, key="sweep_recall_def",
    help="By id: the share of the exact top-k ids a method returns. By distance: ann-benchmarks' k-nn recall "
         "(its knn_threshold rule): a returned item counts when its distance to the query is at most the k-th true "
         "neighbour's plus 1e-3, in ann-benchmarks' units (angular 1 − cos; euclidean |a − b|, not squared), "
         "recomputed from the vectors. The two differ where items lie within 1e-3 of the k-th distance "
         "(duplicates, near-ties).")
recall_mode = code_of(RECALL_LABELS, recall_def)
view_key = (*run_key(run), recall_mode, bytes_col)  # everything the charts and sentences below depend on
state = state.replace(run=run.id, bytes=counted_mode, recall=recall_mode)
publish_state(state)
by_id_rows = rows
if recall_def != BY_ID:
    rows = rows.assign(recall_at_k=rows["recall_at_k_ties"])
differ = int((by_id_rows["recall_at_k_ties"] - by_id_rows["recall_at_k"]).abs().gt(1e-9).sum()) if has_ties else 0
st.caption(f"Shown: recall {recall_def}. " + (
    f"{differ} configuration(s) score differently by distance: this data has items within 1e-3 of the k-th "
    "distance (ann-benchmarks counts them)."
    if differ else "Both definitions give the same numbers here (no item within 1e-3 of the k-th distance)."
    if has_ties else "This run was saved before recall by distance was measured."))
ok = rows[rows["status"] == "ok"]
intro.markdown(
    opening(rk, int(run.params.get("nq", nq)), run.params.get("queries", query_source))
    + f" Here {len(ok)} configurations ran (run #{run.id}). Points up and to the left keep more recall in fewer "
    "bytes; the dotted staircase is the Pareto frontier, the configurations nothing else beats on both. "
    + shared("sweep.summary", view_key, lambda: summary_sentence(rows, bytes_col))
)

st.caption(f"Run #{run.id} · {time.strftime('%Y-%m-%d %H:%M', time.localtime(run.started))} · preset "
           f"{run.params.get('preset')} · k={rk} · {len(rows)} rows · {run.status}.")
png_ok, png_why = png_export_status()
charts = [
    ("memory", "Recall against memory",
     shared("sweep.memory", view_key, lambda: recall_vs_memory_figure(rows, x=bytes_col, k=rk))),
    ("qps", "Recall against speed", shared("sweep.qps", view_key, lambda: recall_vs_qps_figure(rows, k=rk))),
]
for name, _title, fig in charts:
    with st.container():
        st.plotly_chart(fig, key=f"sweep_chart_{name}")
        if png_ok:
            st.download_button("Chart (PNG)", data=lambda fig=fig: figure_png(fig),
                               file_name=f"sweep-{run.id}-{name}.png", mime="image/png", key=f"sweep_png_{name}",
                               on_click="ignore",
                               help="Rendered by kaleido in a headless Chromium: takes a few seconds.")
        else:
            st.caption(f"{png_why}. The camera icon above the chart saves a PNG from your browser.")
has_quality = "ndcg_at_10" in ok and ok["ndcg_at_10"].notna().any()
reference = reference_row(rows)
if has_quality:
    st.subheader("What compression costs the search task")
    quality_label = st.radio("Task quality", list(QUALITY_LABELS.values()), index=QUALITY_METRICS.index(state.quality),
                             horizontal=True, key="sweep_quality",
                            help="Both are scored against the dataset's relevance judgments (qrels), "
                                 "not against exact search.")
    quality_mode = code_of(QUALITY_LABELS, quality_label)
    quality = QUALITY_COLUMNS[quality_mode]
    state = state.replace(quality=quality_mode)
    st.markdown(
        f"Recall@{rk} asks whether an index finds the same neighbours as exact search; this chart asks what it "
        f"costs the actual task: {get_metric(quality).label} of each configuration against the dataset's "
        "relevance judgments, with exact search as the dashed line. A method can lose recall on neighbours "
        "that were never relevant and keep the task almost whole, or the reverse.")
    st.plotly_chart(shared("sweep.quality", (*view_key, quality),
                           lambda: quality_vs_memory_figure(rows, y=quality, x=bytes_col)), key="sweep_chart_quality")
    costs = shared("sweep.costs", (*view_key, quality), lambda: task_quality_costs(rows, quality, bytes_col))
    if costs:
        st.caption("Against exact search, on this frontier: " + "; ".join(esc(c) for c in costs) + ".")
    st.caption("Two learned quantizers train here on the fixed embeddings: task-aware PQ (JPQ-style: codes weighted "
               "by the training queries, centroids fine-tuned for the ranking on judged training queries, never on "
               "the evaluated ones) and learned BEBR (a recurrent binarization trained on the base, searched with "
               "symmetric distances). Not built: training the encoder itself, which JPQ, RepCONC and Distill-VQ do "
               "together with the codes; PQ, OPQ and IVF-PQ are their post-hoc baselines.")
if not has_quality and ds.qrels_are_neighbors:
    try:
        check = given_neighbors_of(ws)
    except ValueError:
        check = None
    if check is not None:
        st.caption(esc(check.sentence()))
st.caption("Diamonds re-rank a shortlist with the float vectors. Queries per second are measured with all queries in "
           f"one batch on {int(ok['threads'].max()) if 'threads' in ok and len(ok) else '?'} thread(s); p50/p99 "
           "latency in the table, one query at a time on one thread.")

# -- the budget question --------------------------------------------------------------------------------
st.subheader("Which method fits my budget?")
b1, b2 = st.columns(2)
float_bytes = 4.0 * d
# opens on a budget that has an answer: the smallest configuration reaching the recall asked (else float32 / 8)
default_budget = smallest_answered_budget(ok, bytes_col, float(state.min_recall), fallback=round(float_bytes / 8, 1))
budget = float(b1.number_input("At most this many bytes per vector", min_value=0.5, max_value=1e6,
                               value=float(state.budget if state.budget is not None else default_budget),
                               step=8.0, key="sweep_budget_bytes",
                               help=f"float32 takes {float_bytes:,.0f} B per vector here; counted as chosen above "
                                    f"({counted})."))
min_recall = float(b2.slider(f"With recall@{rk} at least", 0.0, 1.0, float(state.min_recall), 0.01,
                             key="sweep_budget_recall"))
state = state.replace(budget=budget, min_recall=min_recall)
publish_state(state)
answer = best_under_budget(rows, budget, min_recall, bytes_col=bytes_col)
(st.success if not answer.rows.empty else st.warning)(
    f"Under {budget:,.1f} B/vector ({budget / float_bytes:.1%} of float32, {format_bytes(budget * n)} for all "
    f"{n:,} vectors) with recall@{rk} ≥ {min_recall:.2f}: {answer.explanation}."
    + (f" Task quality: {quality_cost(answer.rows.iloc[0], reference, bytes_col=bytes_col)}."
       if has_quality and reference is not None and not answer.rows.empty
       and pd.notna(answer.rows.iloc[0].get("ndcg_at_10")) else ""))
if not answer.rows.empty:
    best = answer.rows.head(5).copy()
    best.insert(0, "configuration", [config_name(r["method"], r) for r in best.to_dict("records")])
    show_table(best[["configuration", "recall_at_k", bytes_col, "qps", "p50_ms"]], key="sweep_budget_rows",
               column_config={"recall_at_k": st.column_config.NumberColumn(f"recall@{rk}", format="%.3f"),
                              bytes_col: st.column_config.NumberColumn("B/vector", format="%.1f"),
                              "qps": st.column_config.NumberColumn("QPS", format="%.0f"),
                              "p50_ms": st.column_config.NumberColumn("p50 ms", format="%.3f")})

# -- take it home -----------------------------------------------------------------------------------------
st.subheader("Take it home")
labels = list(ok["label"])
if labels:
    # the budget answer, else the smallest configuration within a point of the best recall
    chosen = (answer.rows.iloc[0] if not answer.rows.empty else smallest_near_best(ok, bytes_col))["label"]
    e1, e2 = st.columns([3, 1])
    export_label = e1.selectbox("Configuration to export", labels, index=labels.index(chosen), key="sweep_export_pick",
                                help="Defaults to the budget answer above (without one: the smallest within 1 "
                                     "point of the best recall). The index is rebuilt on the same base "
                                     "with the same seed, and its recall measured again.")
    export_key = f"sweep_export_{ws.embeddings_key}_{run.id}_{export_label}"
    if e2.button("Prepare download", key="sweep_export_go"):
        row = by_id_rows[by_id_rows["label"] == export_label].iloc[0].to_dict()
        try:
            with st.status(f"Building and writing {export_label}…", expanded=False) as status, \
                    tempfile.TemporaryDirectory(prefix="densescope-export-") as tmp:
                update, _bar = streamlit_progress("export")
                folder = Path(tmp) / f"densescope-{row['method']}"
                result = export_configuration(
                    ws, config_from_row(row), folder, k=int(run.params.get("k", rk)),
                    n_queries=run.params.get("n_queries"), seed=int(run.params.get("seed", 0)),
                    row_recall=float(row["recall_at_k"]), run_id=run.id, progress=update)
                st.session_state[export_key] = (zip_folder(folder), result.sentence(), search_snippet_of(folder))
                status.update(label="Export ready", state="complete")
        except (ValueError, MemoryError) as exc:
            st.error(f"Cannot export {esc(export_label)}: {esc(exc)}")
    if export_key in st.session_state:
        data, sentence, snippet = st.session_state[export_key]
        st.success(esc(sentence))
        st.download_button("Download the index (.zip)", data, f"densescope-{export_label.split()[0]}-run{run.id}.zip",
                           "application/zip", key="sweep_export_zip", type="primary")
        with st.expander("search.py: load it and search with these settings"):
            st.code(snippet, language="python")
    else:
        st.caption("The .zip holds the index (or its parts), ids.json (the dataset id of each index row), "
                   "manifest.json (parameters, dataset fingerprint, encoder, versions, checksums) and search.py.")

# -- the table ------------------------------------------------------------------------------------------
st.subheader("All configurations")
table = rows.copy()
table["pareto"] = pareto_frontier(table, bytes_col, "recall_at_k")
table["configuration"] = [config_name(r["method"], r) for r in table.to_dict("records")]
cols = [c for c in TABLE_COLUMNS if c in table and (c not in ("ndcg_at_10", "mrr_at_10") or table[c].notna().any())]
show_table(
    table[cols], key="sweep_table",
    column_config={
        "recall_at_k": st.column_config.NumberColumn(f"recall@{rk}", format="%.3f"),
        "ndcg_at_10": st.column_config.NumberColumn("nDCG@10", format="%.3f"),
        "mrr_at_10": st.column_config.NumberColumn("MRR@10", format="%.3f"),
        "bytes_per_vector": st.column_config.NumberColumn("index B", format="%.1f",
                                                          help="bytes per vector of the index"),
        "rerank_bytes_per_vector": st.column_config.NumberColumn("re-rank B", format="%.0f",
                                                                 help="bytes per vector of the float vectors kept "
                                                                      "for re-ranking"),
        "total_bytes_per_vector": st.column_config.NumberColumn("B/vector (total)", format="%.1f"),
        "compression_ratio": st.column_config.NumberColumn("× smaller", format="%.1f×",
                                                           help="how many times smaller than float32"),
        "qps": st.column_config.NumberColumn("QPS", format="%.0f"),
        "p50_ms": st.column_config.NumberColumn("p50 ms", format="%.3f"),
        "p99_ms": st.column_config.NumberColumn("p99 ms", format="%.3f"),
        "train_s": st.column_config.NumberColumn("train s", format="%.2f"),
        "build_s": st.column_config.NumberColumn("build s", format="%.2f"),
    },
)
st.caption("Click a column header to sort. *pareto* marks the frontier of the memory chart. The CSV below also has "
           "each row's label, faiss factory string, family, threads and notes.")
not_ok = rows[rows["status"] != "ok"]
if not not_ok.empty:
    st.info(f"**{len(not_ok)} configuration(s) did not run.** "
            + " ".join(esc(f"{r.label}: {r.reason}.") for r in not_ok.itertuples()))
notes = sorted({note for note in rows.get("note", pd.Series(dtype=str)).dropna() if note})
if notes:
    with st.expander("Notes on some rows"):
        for note in notes:
            st.markdown(f"- {esc(note)}")
st.download_button("Download rows (CSV)", by_id_rows.to_csv(index=False).encode(), f"sweep-{run.id}.csv",
                   "text/csv", key="sweep_csv")

# -- query by query ----------------------------------------------------------------------------------
st.subheader("Query by query")
st.markdown(f"A mean hides its queries. Pick a configuration to see how recall@{rk} spreads over the "
            f"{int(run.params.get('nq', nq)):,} queries, and which ones it fails: their text, their local "
            "intrinsic dimension (LID, often higher for hard queries) and the exact neighbours it missed.")
choices = list(ok["label"])
if choices:
    worst_first = ok.sort_values("recall_at_k")["label"].tolist()
    default_pick = worst_first[min(1, len(worst_first) - 1)]
    if state.drill is not None and state.drill not in choices and "sweep_drill" not in st.session_state:
        st.warning(f"The link's configuration {esc(state.drill)} is not a configuration of run #{run.id}; showing "
                   f"{esc(default_pick)}.")
    picked = st.selectbox("Configuration", choices,
                          index=choices.index(state.drill if state.drill in choices else default_pick),
                          key="sweep_drill")
    publish_state(state.replace(drill=picked))
    row = by_id_rows[by_id_rows["label"] == picked].iloc[0].to_dict()
    try:
        drill = shared("sweep.drilldown", (*run_key(run), ws.embeddings_key, picked), lambda: drilldown(ws, run, row))
    except ValueError as exc:
        drill = None
        st.warning(f"Cannot drill into this configuration: {esc(exc)}")
    if drill is None:
        st.info("This run kept no per-query results (it ran on Ray, or before they were kept): run it again "
                "in-process to drill into it.")
    else:
        c1, c2, c3 = st.columns(3)
        c1.metric(f"mean recall@{drill.k}", f"{drill.mean:.3f}")
        c2.metric("queries below 50%", f"{drill.share_below_half:.1%}")
        c3.metric("mean by distance (ann-benchmarks)", f"{drill.recall_ties.mean():.3f}")
        st.plotly_chart(shared("sweep.drill_chart", (*run_key(run), ws.embeddings_key, picked),
                               lambda: per_query_recall_figure(drill.recall, k=drill.k)), key="sweep_drill_chart")
        st.caption(esc(drill.sentence()))
        worst = drill.worst.copy()
        position = {q: i for i, q in enumerate(drill.query_ids)}
        if drill.recall_ties is not None:
            worst.insert(worst.columns.get_loc("recall") + 1, "recall_ties",
                         [float(drill.recall_ties[position[q]]) for q in worst["query"]])
        worst["open"] = [state_link(drill_query_state(run, row, q, drill)) for q in worst["query"]]
        show_table(worst, key="sweep_worst", column_config={
            "returned_instead": st.column_config.TextColumn(
                "returned instead", help="items the method returned that are not in the exact top-k"),
            "recall": st.column_config.NumberColumn(f"recall@{drill.k}", format="%.2f",
                                                    help="by id: the share of the exact top-k ids returned; the "
                                                         "Query page's 'found' is this number (items tied exactly "
                                                         "with the k-th score also count there)"),
            "recall_ties": st.column_config.NumberColumn("ann-benchmarks", format="%.2f",
                                                         help="ann-benchmarks' k-nn recall: within 1e-3 of the "
                                                              "k-th true distance counts"),
            "lid": st.column_config.NumberColumn("LID", format="%.1f"),
            "open": st.column_config.LinkColumn("on the Query page", display_text="open"),
        })
