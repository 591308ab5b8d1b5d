"""Ground truth is not a relevance judgment (issue 20): an ann-benchmarks HDF5's ``neighbors`` are kept apart,
checked against exact search and never scored as nDCG/MRR."""

from __future__ import annotations

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")


def ann_file(path, *, wrong: bool = False):
    from core.index.exact import exact_search

    rng = np.random.default_rng(0)
    xb = rng.standard_normal((400, 12)).astype(np.float32)
    xb /= np.linalg.norm(xb, axis=1, keepdims=True)
    xq = rng.standard_normal((30, 12)).astype(np.float32)
    xq /= np.linalg.norm(xq, axis=1, keepdims=True)
    _, gt = exact_search(xb, xq, 20, "cosine")
    if wrong:  # as if computed with another metric: the first five queries get other neighbours
        gt[:5] = gt[:5, ::-1]
    with h5py.File(path, "w") as f:
        f.attrs["distance"] = "angular"
        f.create_dataset("train", data=xb)
        f.create_dataset("test", data=xq)
        f.create_dataset("neighbors", data=gt.astype(np.int32))
    return path


def open_ws(path, tmp_path):
    from core.data.loading import load_file
    from core.store.artifacts import ArtifactCache
    from core.workspace import Workspace

    return Workspace(load_file(path), cache=ArtifactCache(tmp_path / "cache"))


def test_file_neighbours_are_ground_truth_checked_against_exact_search_not_judgments(tmp_path):
    from core.experiments.compression import sweep_for_workspace
    from core.experiments.relevance import exact_relevance, given_neighbors_check

    ws = open_ws(ann_file(tmp_path / "ann.hdf5"), tmp_path)
    ds = ws.dataset
    assert ds.qrels_are_neighbors and not ds.has_qrels
    ev = ws.eval_set()
    assert ev.qrels is None and len(ev.given_neighbors) == 30 and len(ev.given_neighbors[0]) == 20
    check = given_neighbors_check(ws)
    assert check.agreement == 1.0 and check.n_differ == 0 and "agree with it for all 30 queries" in check.sentence()
    assert exact_relevance(ws) is None  # no task quality from ground truth
    rows = list(sweep_for_workspace(ws, methods=["flat", "sq"], overrides={"sq": {"qtype": ["int4"]}}, k=10,
                                    latency_queries=2))
    assert all(np.isnan(r["ndcg_at_10"]) and np.isnan(r["mrr_at_10"]) for r in rows), rows
    assert next(r for r in rows if r["method"] == "flat")["recall_at_k"] == 1.0


def test_neighbours_that_differ_from_exact_search_are_said(tmp_path):
    from core.experiments.relevance import given_neighbors_check

    check = given_neighbors_check(open_ws(ann_file(tmp_path / "off.hdf5", wrong=True), tmp_path))
    assert check.n_differ == 5 and check.agreement < 1.0 and "differ from it for 5 of 30 queries" in check.sentence()


def test_a_qrels_file_attached_to_it_is_judgments_again(tmp_path):
    from core.data.judgments import attach_judgments

    ws = open_ws(ann_file(tmp_path / "ann.hdf5"), tmp_path)
    judged = attach_judgments(ws.dataset, None, {"q0": {"0": 2, "5": 1}})
    assert judged.has_qrels and not judged.qrels_are_neighbors


def test_the_data_page_says_the_files_neighbours_are_ground_truth(tmp_path, fresh_home):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from core.data.uploads import save_upload

    path = ann_file(tmp_path / "ann.hdf5", wrong=True)
    name = save_upload(path.read_bytes(), "ann.hdf5")
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "views" / "data.py"), default_timeout=300)
    at.session_state["ws_spec"] = {"dataset": name, "params": {}, "encoder": "given-vectors", "encoder_options": {}}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    said = "\n".join(c.value for c in at.caption)
    assert "ground truth for recall, not relevance judgments" in said and "differ from it for 5 of 30" in said
    assert not [m for m in at.metric if m.label == "nDCG@10"]
