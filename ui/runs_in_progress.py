"""The header line on every page naming the runs still in progress (called from `ui.sidebar.workspace_picker`,
which every page runs before its own script, so the line sits at the top of the main area)."""

from __future__ import annotations

import sqlite3
import time

import streamlit as st

from core.store.runs import Run, RunStore
from figures.text import markdown_text

#: The page where each kind of run is started, followed and stopped.
RUN_PAGES = {"sweep": "Compression", "order": "HNSW insertion order", "order-vs-id": "HNSW insertion order",
             "id": "Intrinsic dimension", "compare": "Compare spaces", "cutoff": "What the papers found",
             "geometry": "What the papers found"}


def running_runs(dataset: str, store: RunStore | None = None) -> list[Run]:
    """Runs of ``dataset`` in progress, oldest first: status ``running`` with a live owner (listing the
    runs first marks those whose owner is gone as interrupted)."""
    runs = (store or RunStore()).list_runs(dataset=dataset)
    return sorted((r for r in runs if r.status == "running"), key=lambda r: r.id)


def run_line(run: Run) -> str:
    """``Run #12 (sweep) in progress — started 14:05 …`` with where its Stop is (markdown, user text escaped)."""
    started = time.strftime("%H:%M", time.localtime(run.started))
    rows = f"{run.n_rows:,} row{'s' if run.n_rows != 1 else ''} saved so far"
    page = RUN_PAGES.get(run.kind)
    tab = f"the tab showing it on the {page} page" if page else "the tab showing it"
    return (f"**Run #{run.id} ({markdown_text(run.kind)}) in progress** — started {started} · "
            f"{markdown_text(run.dataset)} · {markdown_text(run.encoder)} · {rows}. Stop it where it runs: "
            f"Stop (top right) in {tab}, or Ctrl-C for a `densescope` command; its saved rows are kept.")


def show_runs_in_progress(dataset: str) -> None:
    """One compact info box naming the workspace's runs in progress; nothing when there are none."""
    try:
        runs = running_runs(dataset)
    except (sqlite3.Error, OSError, ValueError):  # ValueError: RunStoreDamaged
        return  # the header never breaks a page: the Runs page says what is wrong with the store
    if runs:
        st.info("  \n".join(run_line(r) for r in runs), icon=":material/hourglass_top:")
