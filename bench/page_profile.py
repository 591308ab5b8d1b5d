"""Where a page's server time goes on a warm view: one cProfile per page, run in this process.

Each page is run through Streamlit's AppTest (the same script a browser session runs, with the
same process-wide caches): a few warm-up views first, then ``--views`` profiled views, each in a
new AppTest session. Prints, per page, the CPU seconds of a warm view (all threads of the process)
and the functions with the most cumulative time (project code and the Streamlit/plotly calls it
makes), so a change can be
aimed at what costs most. Baseline: the bare Streamlit page of ``server_cpu.py`` (one plotly
scatter of 2,648 points and a 100-row table) profiled the same way, in the same process.

    python -m bench.page_profile [--pages spaces,compression] [--views 3] [--top 25]

DENSESCOPE_HOME as set (the demo home after `densescope prepare`).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import tempfile
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["home", "data", "map", "query", "intrinsic", "order", "compression", "spaces", "runs"]
BARE = '''import numpy as np, plotly.express as px, streamlit as st
st.title("baseline")
x = np.random.default_rng(0).standard_normal((2648, 2))
st.plotly_chart(px.scatter(x=x[:, 0], y=x[:, 1]))
st.dataframe({"a": list(range(100)), "b": [str(i) for i in range(100)]})
'''


#: The page runs inside this wrapper, in AppTest's script thread, so the profile sees the script.
WRAPPER = '''import cProfile, runpy, time
import streamlit as st
_prof = cProfile.Profile()
_t0 = time.thread_time()
_prof.enable()
try:
    runpy.run_path({page!r}, run_name="__main__")
finally:
    _prof.disable()
    st.session_state["_profile"] = (_prof, time.thread_time() - _t0)
'''


def one_view(wrapper: str) -> tuple[float, cProfile.Profile]:
    """CPU seconds of this process (every thread: BLAS and OpenMP workers too) for one fresh session's
    run, and the profile of its script thread."""
    at = AppTest.from_file(wrapper, default_timeout=600)
    t0 = time.process_time()
    at.run()
    spent = time.process_time() - t0
    if at.exception:
        raise SystemExit(f"{wrapper}: {[e.value for e in at.exception]}")
    prof, _script_thread_s = at.session_state["_profile"]
    return spent, prof


def profile_page(path: str, views: int, warm: int = 2) -> tuple[float, pstats.Stats]:
    wrapper = Path(tempfile.mkdtemp(prefix="page-profile-")) / "wrapped.py"
    wrapper.write_text(WRAPPER.format(page=path))
    for _ in range(warm):
        one_view(str(wrapper))
    spent, stats = [], None
    for _ in range(views):
        s, prof = one_view(str(wrapper))
        spent.append(s)
        stats = pstats.Stats(prof) if stats is None else (stats.add(prof) or stats)
    return statistics.median(spent), stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", default=",".join(PAGES))
    ap.add_argument("--views", type=int, default=3)
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    bare = Path(tempfile.mkdtemp(prefix="page-profile-")) / "bare.py"
    bare.write_text(BARE)
    base, _ = profile_page(str(bare), a.views)
    print(f"{'baseline':12s} CPU per warm view {base:5.2f} s   x1.00")
    for page in a.pages.split(","):
        spent, stats = profile_page(str(ROOT / "views" / f"{page}.py"), a.views)
        print(f"{page:12s} CPU per warm view {spent:5.2f} s   x{spent / base:4.2f}")
        out = io.StringIO()
        stats.stream = out
        stats.sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(a.top)
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    main()
