"""ui.recorded_run: a recorded study run from a page, its live rows, its stop message and its done label."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _page(fail: bool):
    def script():
        import streamlit as st

        from ui.recorded_run import run_recorded

        def work(update, on_row):
            for i in range(3):
                update(i + 1, 3, "rows")
                on_row({"i": i, "recall": i / 2})
            if st.session_state.get("fail"):
                raise ValueError("the base has no vectors <b>left</b>")
            return 7

        finished = run_recorded("Running…", "Study", work, stopped="The study stopped", cannot="Cannot run it",
                                done=lambda f: f"Done: {len(f.rows)} rows saved as run #{f.run_id}",
                                live_columns=["i", "recall"])
        st.session_state["result"] = None if finished is None else (finished.run_id, finished.rows)

    at = AppTest.from_function(script)
    at.session_state["fail"] = fail
    return at.run()


def test_a_finished_study_returns_its_run_and_rows_and_says_done():
    at = _page(fail=False)
    assert not at.exception
    rows = [{"i": 0, "recall": 0.0}, {"i": 1, "recall": 0.5}, {"i": 2, "recall": 1.0}]
    assert at.session_state["result"] == (7, rows)
    assert [s.label for s in at.status] == ["Done: 3 rows saved as run #7"] and not at.error


def test_a_stopped_study_says_why_once_escaped_and_returns_nothing():
    at = _page(fail=True)
    assert not at.exception and at.session_state["result"] is None
    assert [s.label for s in at.status] == ["The study stopped"]
    (error,) = at.error
    assert error.value == "Cannot run it: the base has no vectors \\<b\\>left\\</b\\>"  # markdown-escaped, said once
