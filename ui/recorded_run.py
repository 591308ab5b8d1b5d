"""Running a recorded study from a page: a status box with a progress bar, the rows appearing live, one
message when it stops, and the saved run's number when it is done.

The Compression sweep, the insertion-order study, the recall-against-ID study and the encoder ranking all
run the same way; `run_recorded` is that way, so each page only says what to run and how to word it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd
import streamlit as st

from core.progress import ProgressFn
from figures.text import markdown_text as esc
from ui.state import streamlit_progress

#: ``work(progress, on_row)`` runs the study inside its own ``RunStore().recording(...)``, hands every
#: row to ``on_row`` and returns the saved run's id.
Work = Callable[[ProgressFn, Callable[[dict], None]], int]


@dataclass
class Finished:
    """A study that ran to its end: the saved run and the rows it recorded."""

    run_id: int
    rows: list[dict] = field(default_factory=list)


def run_recorded(title: str, bar_label: str, work: Work, *, stopped: str, cannot: str,
                 done: Callable[[Finished], str] = lambda f: f"Done: saved as run #{f.run_id}",
                 live_columns: Sequence[str] | None = None, live_height: int = 240,
                 errors: tuple[type[BaseException], ...] = (ValueError,)) -> Finished | None:
    """Run ``work`` in an ``st.status`` box titled ``title``; None when it stopped on one of ``errors``.

    With ``live_columns`` the rows so far show in a table (newest first) while it runs. When it stops,
    the box says ``stopped`` and one error says ``cannot: <reason>``; when done, the box says
    ``done(finished)`` and folds away.
    """
    with st.status(title, expanded=True) as status:
        update, bar = streamlit_progress(bar_label)
        live = st.empty() if live_columns else None
        rows: list[dict] = []

        def on_row(row: dict) -> None:
            rows.append(row)
            if live is not None:
                live.dataframe(pd.DataFrame(rows)[list(live_columns)].iloc[::-1], hide_index=True,
                               height=live_height)

        try:
            run_id = work(update, on_row)
        except errors as exc:
            bar.empty()
            status.update(label=stopped, state="error")
            st.error(f"{cannot}: {esc(exc)}")
            return None
        bar.empty()
        if live is not None:
            live.empty()
        finished = Finished(run_id, rows)
        status.update(label=done(finished), state="complete", expanded=False)
    return finished
