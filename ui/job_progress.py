"""A background job's progress on a page: polled every 2 s, the page reruns when the job is done."""

from __future__ import annotations

import streamlit as st

from ui.background import get_job, queue_position


@st.fragment(run_every=2.0)
def background_build_progress(key: str) -> None:
    """Progress of the index build ``key`` (its share when it reports one, else its seconds so far)."""
    job = get_job(key)
    if job is None or not job.running:
        st.rerun()
    where = queue_position(key)
    if where is not None:
        st.progress(0.0, text=f"Queued: {where + 1} background job(s) before it")
        return
    share = job.fraction if job.total else 0.0
    st.progress(share, text=f"Building in the background: {job.message or 'starting'} ({job.seconds:.0f} s so far; "
                            "once per setting, for everyone)")
