"""The approximate kNN graph behind big UMAP maps: recall against exact, self removal, the threshold."""

from __future__ import annotations

import numpy as np
import pytest

import core.analysis.projection as projection
from core.analysis.projection import (
    approximate_knn_graph,
    drop_self,
    graph_recall,
    measured_approximate_graph,
    project,
)
from core.data.dataset import Dataset
from core.store.artifacts import ArtifactCache
from core.workspace import Workspace

LINE = np.array([[0.0], [1.0], [3.0], [7.0], [15.0]], dtype=np.float32)  # gaps 1, 2, 4, 8: no ties


def test_graph_recall_hand_case_k1():
    # exact nearest other: 0->1, 1->0, 2->1, 3->2, 4->3; this graph is right for 0, 2 and 4
    I = np.array([[1], [2], [1], [4], [3]])
    recall, measured = graph_recall(LINE, I, "l2", sample=10)
    assert measured == 5 and recall == pytest.approx(3 / 5)


def test_graph_recall_hand_case_k2_and_order_does_not_matter():
    # exact 2 nearest others: 0->{1,2}, 1->{0,2}, 2->{1,0}, 3->{2,1}, 4->{3,2}
    I = np.array([[2, 1], [0, 2], [0, 1], [2, 1], [3, 0]])  # row 4 misses 2: 9 of 10 found
    recall, _ = graph_recall(LINE, I, "l2", sample=10)
    assert recall == pytest.approx(9 / 10)


def test_graph_recall_on_a_sample_uses_the_seeded_rows():
    I = np.array([[1], [2], [1], [4], [3]])  # right for rows 0, 2, 4
    rows = projection.sample_rows(5, 3, seed=7)
    recall, measured = graph_recall(LINE, I, "l2", sample=3, seed=7)
    expected = np.mean([1.0 if r in (0, 2, 4) else 0.0 for r in rows])
    assert measured == 3 and recall == pytest.approx(expected)


def test_drop_self_removes_the_point_by_id_wherever_it_is():
    D = np.array([[9, 8, 7], [9, 8, 7], [9, 8, 7]], dtype=np.float32)
    I = np.array([[0, 5, 6], [4, 1, 6], [5, 6, 7]])  # self first, self second, self missing
    D2, I2 = drop_self(D, I, 2)
    assert I2.tolist() == [[5, 6], [4, 6], [5, 6]]
    assert D2.tolist() == [[8, 7], [9, 7], [9, 8]]


def _clusters(n=2000, d=16, c=20, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(c, d)) * 3
    x = (centres[np.arange(n) % c] + rng.normal(size=(n, d))).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_approximate_graph_recall_matches_a_brute_force_count_and_is_deterministic():
    x = _clusters()
    k = 10
    _, _, I = approximate_knn_graph(x, k, "cosine", M=8, ef_construction=40, ef_search=16)
    assert I.shape == (2000, k) and not (I == np.arange(2000)[:, None]).any()
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    exact = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    by_hand = np.mean([len(set(I[i]) & set(exact[i])) / k for i in range(2000)])
    recall, measured = graph_recall(x, I, "cosine", sample=5000)
    assert measured == 2000 and recall == pytest.approx(by_hand, abs=1e-9)
    assert 0.5 < recall < 1.0  # small efSearch: some misses, so the check can see them
    _, _, again = approximate_knn_graph(x, k, "cosine", M=8, ef_construction=40, ef_search=16)
    assert np.array_equal(I, again)  # built on one thread: the same graph every time


def test_measured_graph_raises_ef_search_until_the_recall_is_reached(monkeypatch):
    monkeypatch.setattr(projection, "APPROX_GRAPH_HNSW",
                        {"M": 4, "ef_construction": 16, "ef_search": 11, "max_ef_search": 1024, "shards": 2})
    x = _clusters(n=1500)
    _, I, info = measured_approximate_graph(x, 10, "cosine")
    assert info["kind"] == "hnsw" and info["recall"] >= projection.MIN_GRAPH_RECALL
    assert info["ef_search"] > 11 and info["recall_sample"] == 1000
    assert info["recall"] == pytest.approx(graph_recall(x, I, "cosine")[0])


def _workspace(tmp_path, x):
    ds = Dataset(name="toy", ids=[f"p{i}" for i in range(x.shape[0])], vectors=x, metric="cosine")
    return Workspace(ds, cache=ArtifactCache(tmp_path / "cache"))


def test_the_map_uses_the_approximate_graph_above_the_threshold(tmp_path, monkeypatch):
    monkeypatch.setattr(projection, "APPROX_GRAPH_POINTS", 300)
    ws = _workspace(tmp_path, _clusters(n=400))

    def no_exact(*args, **kwargs):
        raise AssertionError("the exact graph was computed above the threshold")

    monkeypatch.setattr(projection, "map_graph", no_exact)
    proj = project(ws, "umap", 2, budget=400, params={"n_epochs": 20})
    assert proj.graph["kind"] == "hnsw" and proj.graph["k"] == 14
    assert proj.graph["recall"] >= projection.MIN_GRAPH_RECALL and proj.graph["recall_sample"] == 400
    assert f"recall@14 {proj.graph['recall']:.3f}" in proj.graph_note
    again = project(ws, "umap", 2, budget=400, params={"n_epochs": 20})
    assert again.cached and again.graph == proj.graph


def test_the_map_uses_the_exact_graph_below_the_threshold(tmp_path, monkeypatch):
    monkeypatch.setattr(projection, "APPROX_GRAPH_POINTS", 300)
    ws = _workspace(tmp_path, _clusters(n=400))

    def no_approx(*args, **kwargs):
        raise AssertionError("the approximate graph was used below the threshold")

    monkeypatch.setattr(projection, "measured_approximate_graph", no_approx)
    proj = project(ws, "umap", 2, budget=299, params={"n_epochs": 20})
    assert proj.n_shown == 299 and proj.graph == {"kind": "exact", "k": projection.GRAPH_K}
    assert proj.graph_note.startswith("exact kNN graph")
    assert project(ws, "pca", 2).graph is None


def test_drop_self_of_a_sample_uses_the_rows_ids():
    D = np.zeros((2, 3), dtype=np.float32)
    I = np.array([[3, 0, 1], [1, 4, 2]])  # rows are points 3 and 4
    assert drop_self(D, I, 2, np.array([3, 4]))[1].tolist() == [[0, 1], [1, 2]]


def test_sharded_graph_merges_the_shards_lists_into_the_exact_neighbours_when_the_search_is_wide():
    import faiss

    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 16)).astype(np.float32)  # one cloud, so each shard's graph is connected
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    k = 8
    threads = faiss.omp_get_max_threads()
    index, D, I = approximate_knn_graph(x, k, "cosine", M=16, ef_construction=200, ef_search=600, shards=3)
    assert faiss.omp_get_max_threads() == threads  # each shard's one-thread setting stayed in its thread
    assert [ids.tolist() for ids in index.ids] == [list(range(s, 600, 3)) for s in range(3)]
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    exact = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    assert graph_recall(x, I, "cosine", sample=600)[0] == 1.0  # every shard searched to its end
    assert np.allclose(D, np.take_along_axis(sims, exact, 1), atol=1e-5)  # merged best first
    _, _, again = approximate_knn_graph(x, k, "cosine", M=16, ef_construction=200, ef_search=600, shards=3)
    assert np.array_equal(I, again)


def test_sharded_graph_merges_l2_lists_smallest_distance_first():
    x = np.random.default_rng(4).normal(size=(300, 8)).astype(np.float32)
    _, D, I = approximate_knn_graph(x, 5, "l2", M=16, ef_construction=200, ef_search=300, shards=2)
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    assert np.allclose(D, np.sort(d2, axis=1)[:, :5], rtol=1e-4, atol=1e-4)
    assert (np.diff(D, axis=1) >= 0).all()
    assert np.array_equal(np.sort(I, axis=1), np.sort(np.argsort(d2, axis=1, kind="stable")[:, :5], axis=1))


def test_a_stopped_graph_build_stops_its_shards(monkeypatch):
    import threading
    import time

    import faiss

    adds = []

    class SlowHNSW(faiss.IndexHNSWFlat):  # 20 blocks a shard, 50 ms each: the first report comes mid-build
        def add(self, x):
            time.sleep(0.05)
            adds.append(len(x))
            return super().add(x)

    monkeypatch.setattr(projection.faiss, "IndexHNSWFlat", SlowHNSW)
    x = np.random.default_rng(5).normal(size=(4000, 8)).astype(np.float32)

    class Stopped(Exception):
        pass

    def progress(done, total, message):
        if "HNSW build" in message:
            raise Stopped

    with pytest.raises(Stopped):
        approximate_knn_graph(x, 5, "cosine", M=8, ef_construction=40, block=100, progress=progress)
    for t in threading.enumerate():
        if t.name.startswith("hnsw-shard-"):
            t.join(10)
    assert not [t for t in threading.enumerate() if t.name.startswith("hnsw-shard-")]
    assert 0 < len(adds) < 40  # the shards stopped after their block, not at the end of their 2 x 20 blocks
