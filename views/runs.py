"""Runs: every experiment saved, with its parameters and rows; compare, export, delete."""

import io

import streamlit as st

from core.store.compare import change_summary, compact_comparison, compare_runs
from core.store.runs import RunStore
from figures.text import markdown_text as esc
from ui.page_states import RunsState
from ui.state import index_of, page_state, publish_state
from ui.tables import fitting_columns, show_table

st.title("Runs")
st.markdown(
    "Every experiment you ran — in the app or from the command line — is saved here with its parameters, "
    "environment and result rows. Open one, compare two of the same kind, export, or delete."
)

store = RunStore()
flash = st.session_state.pop("runs_flash", None)
if flash:
    st.success(flash)
runs = store.list_runs()
if not runs:
    st.info("No runs yet. Run a sweep, an intrinsic-dimension estimate or an insertion-order study, "
            "or `densescope sweep ...` from a terminal.")
    st.stop()

frame = store.runs_frame()
kinds = sorted(frame["kind"].unique())
kind = st.selectbox("Kind", ["all", *kinds], key="runs_kind")
shown = frame if kind == "all" else frame[frame["kind"] == kind]
show_table(shown, key="runs_list")
st.caption(f"{len(shown)} of {len(frame)} runs. A run whose process ended without finishing it shows as "
           "interrupted, with the rows it saved.")

by_id = {r.id: r for r in runs}
ids = list(shown["id"])
state: RunsState = page_state(RunsState)
if state.run is not None and state.run not in ids and "runs_open" not in st.session_state:
    st.warning(f"The link's run={state.run} is not a saved run listed here; opening #{ids[0]}.")
run_id = st.selectbox("Open run", ids, index=index_of(ids, state.run, ids[0]), format_func=lambda i: by_id[i].label(),
                      key="runs_open")
run = by_id[run_id]
state = state.replace(run=run.id)
publish_state(state.replace(other=None))
rows = store.rows(run.id)

st.subheader(run.label())
if run.message:
    (st.error if run.status == "failed" else st.info)(esc(run.message))
c1, c2 = st.columns(2)
with c1.expander("Parameters", expanded=True):
    st.json(run.params)
with c2.expander("Environment"):
    st.json(run.environment)
visible, left_out = fitting_columns(rows)
show_table(rows[visible], key="runs_rows")
if left_out:
    st.caption(f"{len(left_out)} more column(s) in the downloads: {esc(', '.join(left_out))}.")

d1, d2, d3 = st.columns(3)
d1.download_button("Download CSV", rows.to_csv(index=False).encode(), f"run-{run.id}.csv", "text/csv",
                   key="runs_csv", disabled=rows.empty)
buf = io.BytesIO()
if not rows.empty:
    rows.to_parquet(buf, index=False)
d2.download_button("Download Parquet", buf.getvalue(), f"run-{run.id}.parquet", "application/octet-stream",
                   key="runs_parquet", disabled=rows.empty)
if d3.button("Delete this run", key="runs_delete"):
    st.session_state.runs_confirm_delete = run.id
if st.session_state.get("runs_confirm_delete") == run.id:
    st.warning(f"Delete run #{run.id} and its {run.n_rows} rows? This cannot be undone.")
    if st.button("Yes, delete", key="runs_delete_yes", type="primary"):
        store.delete_run(run.id)
        st.session_state.runs_confirm_delete = None
        st.session_state.runs_flash = f"Deleted run #{run.id} and its {run.n_rows} rows."
        publish_state(RunsState())
        st.rerun()

same_kind = [i for i in ids if by_id[i].kind == run.kind and i != run.id]
if same_kind:
    st.subheader("Compare with another run")
    other_id = st.selectbox("Other run", same_kind, format_func=lambda i: by_id[i].label(), key="runs_other",
                            index=index_of(same_kind, state.other, same_kind[0]))
    publish_state(state.replace(other=other_id))
    try:
        table = compare_runs(rows, store.rows(other_id), f"#{run.id}", f"#{other_id}")
    except ValueError as exc:
        st.error(esc(exc))
    else:
        st.markdown(esc(change_summary(table, f"#{run.id}", f"#{other_id}")))
        show_table(compact_comparison(table, f"#{run.id}", f"#{other_id}"), key="runs_compare")
        st.caption("Rows are matched on their shared configuration columns; Δ = other run minus this run. "
                   "The first measures are shown; the CSV has every one.")
        st.download_button("Download the comparison (CSV)", table.to_csv(index=False).encode(),
                           f"runs-{run.id}-vs-{other_id}.csv", "text/csv", key="runs_compare_csv")
