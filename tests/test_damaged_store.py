"""A damaged run store (issue 19): detected at open, said once without server paths, never overwritten;
pages that do not need it keep working; an empty file reads as "no runs yet"."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def store_with_runs(fresh_home):
    from core.store.runs import RunStore

    store = RunStore()
    for i in range(300):  # enough rows for a file of a few hundred KB
        run_id = store.start_run("sweep", "stdlib-docs", "minilm", {"i": i, "pad": "x" * 400}, environment={})
        store.add_rows(run_id, [{"method": "flat", "recall_at_k": 1.0, "note": "y" * 300}])
        store.finish_run(run_id)
    st.cache_resource.clear()
    return store.path


@pytest.mark.parametrize("keep_kb", [4, 60, 200])
def test_a_truncated_store_is_refused_and_left_as_it_is(store_with_runs, keep_kb):
    from core.store.runs import RunStore, RunStoreDamaged

    path = store_with_runs
    assert path.stat().st_size > keep_kb * 1024
    with open(path, "r+b") as f:
        f.truncate(keep_kb * 1024)
    before = sha(path)
    with pytest.raises(RunStoreDamaged) as info:
        RunStore()
    assert str(path) in str(info.value)  # the operator's message names the file
    assert str(path) not in info.value.visitor_message and "/" not in info.value.visitor_message
    assert sha(path) == before

    # the CLI: one line, exit 2, no traceback
    done = subprocess.run([sys.executable, "-m", "core", "runs"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("error: the run store") and "Traceback" not in done.stderr
    # the app: pages that need runs say so once; Data keeps working; nothing is written
    for page, needs_runs in (("views/home.py", True), ("views/runs.py", True), ("views/compression.py", True),
                             ("views/order.py", True), ("views/data.py", False)):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
        at.session_state["ws_spec"] = {"dataset": "synthetic", "params": {"n": 500, "dim": 16, "seed": 0},
                                       "encoder": "given-vectors", "encoder_options": {}}
        at.run()
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
        said = [e.value for e in at.error]
        assert (any("run store is damaged" in e for e in said)) == needs_runs, (page, said)
        assert not any(str(path.parent) in e for e in said)
    assert sha(path) == before


def test_an_empty_store_file_reads_as_no_runs_yet(fresh_home):
    from core import config
    from core.store.runs import RunStore

    path = config.store_path()
    path.write_bytes(b"")
    assert RunStore().list_runs() == []
    done = subprocess.run([sys.executable, "-m", "core", "runs"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "no runs yet" in done.stdout


def test_a_page_says_which_cached_files_it_found_corrupt_and_recomputed(fresh_home):
    from core.experiments.intrinsic import DEFAULT_LID_K, lid_for_workspace
    from core.workspace import Workspace

    spec = {"dataset": "synthetic", "params": {"n": 400, "dim": 16, "seed": 0}, "encoder": "given-vectors",
            "encoder_options": {}}
    ws = Workspace.open("synthetic", "given-vectors", dataset_params=spec["params"])
    ws.embeddings()
    lid_for_workspace(ws, DEFAULT_LID_K)  # what the page shows at once
    damaged = 0
    for artifact in (Path(fresh_home) / "artifacts").rglob("*.npy"):
        if artifact.parent.name != "embeddings":  # the LID and its kNN graph, not the vectors
            with open(artifact, "r+b") as f:
                f.truncate(max(1, artifact.stat().st_size // 2))
            damaged += 1
    assert damaged
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["ws_spec"] = spec
    at.run()
    at.switch_page("views/intrinsic.py").run()
    if not any("were corrupt" in w.value for w in at.warning):  # the estimate runs on request
        at.button(key="id_estimate").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("were corrupt" in w.value and "recomputed" in w.value for w in at.warning), [w.value for w in at.warning]
