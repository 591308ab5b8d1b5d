"""Embedding map engine: sampling, hubness, neighbour misses, PCA/UMAP projections, figures."""

from __future__ import annotations

import numpy as np
import pytest

from core.analysis.neighbourhoods import (
    example_id,
    find_items,
    k_occurrence,
    neighbour_misses,
    neighbour_table,
    skewness,
)
from core.analysis.projection import (
    coords_frame,
    drawn_positions,
    graph_distances,
    map_colour,
    pca_project,
    project,
    sample_note,
    sample_rows,
    umap_knn_input,
)
from core.data.dataset import Dataset
from core.index.defaults import approx_defaults, approx_neighbours, exact_neighbours, split_params
from core.index.exact import knn_graph
from core.store.artifacts import ArtifactCache
from core.workspace import Workspace
from figures.map import map_figure
from figures.text import escape_hover

# ------------------------------------------------------------------ sampling


def test_sample_rows_keeps_everything_within_budget():
    assert sample_rows(5, 10).tolist() == [0, 1, 2, 3, 4]
    assert sample_rows(10, 10).tolist() == list(range(10))
    assert sample_rows(0, 10).size == 0


def test_sample_rows_is_seeded_sorted_and_of_the_stated_size():
    rows = sample_rows(400_000, 20_000, seed=0)
    assert rows.shape == (20_000,) and rows.dtype == np.int64
    assert np.all(np.diff(rows) > 0)  # sorted, no repeats
    assert rows.min() >= 0 and rows.max() < 400_000
    assert np.array_equal(rows, sample_rows(400_000, 20_000, seed=0))
    assert not np.array_equal(rows, sample_rows(400_000, 20_000, seed=1))
    assert rows[-1] > 20_000  # a random sample, not the first N rows


def test_sample_rows_rejects_a_bad_budget():
    with pytest.raises(ValueError, match="budget"):
        sample_rows(10, 0)


def test_sample_note_says_what_is_drawn():
    assert sample_note(400_000, 20_000, 0) == "20,000 of 400,000 points, a random sample (seed 0)"
    assert sample_note(500, 500, 3) == "all 500 points"


# ------------------------------------------------------------------ hubness


def test_k_occurrence_hand_case():
    # 4 points, 2 neighbours each: 0 is in the lists of 1, 2, 3; 1 in 0, 2, 3; 2 in 0, 1; 3 in none
    I = np.array([[1, 2], [0, 2], [0, 1], [0, 1]])
    assert k_occurrence(I).tolist() == [3, 3, 2, 0]
    assert k_occurrence(I).sum() == I.size
    assert k_occurrence(I, k=1).tolist() == [3, 1, 0, 0]
    # missing neighbours (-1) are not counted; n can exceed the rows given
    assert k_occurrence(np.array([[1, -1], [0, 2]]), n=4).tolist() == [1, 1, 1, 0]


def test_k_occurrence_rejects_bad_input():
    with pytest.raises(ValueError, match="out of range"):
        k_occurrence(np.array([[5]]), n=2)
    with pytest.raises(ValueError, match="k=3"):
        k_occurrence(np.array([[1, 0]]), k=3)


def test_skewness():
    assert skewness(np.array([3, 3, 3])) == 0.0
    assert skewness(np.array([1, 2, 3])) == pytest.approx(0.0)
    assert skewness(np.array([0, 0, 0, 10])) > 1  # one hub


# ------------------------------------------------------------------ neighbour misses


def test_neighbour_misses_keeps_exact_order():
    assert neighbour_misses([5, 3, 9, 1], [3, 1, 7, -1]) == [5, 9]
    assert neighbour_misses(np.array([5, 3]), np.array([3, 5])) == []
    assert neighbour_misses([4, 2], []) == [4, 2]
    missed = neighbour_misses(np.array([7, 8]), np.array([8]))
    assert missed == [7] and type(missed[0]) is int
    assert neighbour_misses(["a", "b"], ["b"]) == ["a"]


# ------------------------------------------------------------------ helpers


def _clusters(n=300, d=16, k=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * 4
    labels = np.arange(n) % k
    x = (centres[labels] + rng.normal(size=(n, d))).astype(np.float32)
    return x, labels


def _workspace(tmp_path, x, labels=None, metric="cosine", texts=None):
    n = x.shape[0]
    ds = Dataset(
        name="toy",
        ids=[f"p{i}" for i in range(n)],
        vectors=x,
        labels=None if labels is None else [f"c{v}" for v in labels],
        metric=metric,
    )
    return Workspace(ds, cache=ArtifactCache(tmp_path / "cache"))


# ------------------------------------------------------------------ PCA


def test_pca_projection_shape_and_variance(rng):
    x = (rng.normal(size=(500, 6)) * np.array([10, 5, 1, 1, 1, 1])).astype(np.float32)
    coords, ratio = pca_project(x, 2)
    assert coords.shape == (500, 2) and coords.dtype == np.float32
    total = (np.array([10, 5, 1, 1, 1, 1]) ** 2).sum()
    assert ratio == pytest.approx([100 / total, 25 / total], abs=0.03)
    assert ratio[0] > ratio[1]
    assert np.var(coords[:, 0]) > np.var(coords[:, 1])
    assert np.allclose(coords.mean(axis=0), 0, atol=1e-3)
    c3, r3 = pca_project(x, 3)
    assert c3.shape == (500, 3) and r3.shape == (3,)
    assert np.allclose(c3[:, :2], coords, atol=1e-4)  # same axes, same signs
    with pytest.raises(ValueError, match="at least 3 dimensions"):
        pca_project(x[:, :2], 3)


def test_pca_map_of_a_workspace_is_cached(tmp_path):
    x, labels = _clusters()
    ws = _workspace(tmp_path, x, labels)
    first = project(ws, "pca", 2)
    assert first.coords.shape == (300, 2) and not first.cached
    assert len(first.explained_variance) == 2
    again = project(ws, "pca", 2)
    assert again.cached and np.array_equal(again.coords, first.coords)
    assert again.explained_variance == pytest.approx(first.explained_variance)


# ------------------------------------------------------------------ UMAP input


def test_graph_distances_match_euclidean_for_unit_vectors(rng):
    x = rng.normal(size=(50, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    D, I = knn_graph(x, 5, "cosine")
    dist = graph_distances(D, "cosine")
    true = np.linalg.norm(x[:, None, :] - x[I], axis=2)
    assert np.allclose(dist, true, atol=1e-3)
    assert np.all(np.diff(dist, axis=1) >= -1e-6)
    D2, I2 = knn_graph(x, 5, "l2")
    assert np.allclose(graph_distances(D2, "l2"), np.linalg.norm(x[:, None, :] - x[I2], axis=2), atol=1e-3)


def test_umap_knn_input_puts_the_point_itself_first():
    D = np.array([[0.9, 0.5, 0.1], [0.8, 0.7, 0.2]], dtype=np.float32)
    I = np.array([[1, 2, 3], [0, 3, 2]])
    knn_i, knn_d = umap_knn_input(D, I, "cosine", n_neighbors=3)
    assert knn_i.tolist() == [[0, 1, 2], [1, 0, 3]]
    assert knn_i.dtype == np.int64 and knn_d.dtype == np.float32
    assert knn_d[:, 0].tolist() == [0.0, 0.0]
    assert knn_d[0, 1] == pytest.approx(np.sqrt(2 - 2 * 0.9), rel=1e-5)
    with pytest.raises(ValueError, match="needs 4"):
        umap_knn_input(D, I, "cosine", n_neighbors=5)


# ------------------------------------------------------------------ UMAP


def test_umap_uses_the_precomputed_graph_and_is_cached(tmp_path, monkeypatch):
    import umap.umap_

    def no_nndescent(*args, **kwargs):
        raise AssertionError("UMAP recomputed the neighbours instead of using the precomputed graph")

    monkeypatch.setattr(umap.umap_, "nearest_neighbors", no_nndescent)
    x, labels = _clusters()
    ws = _workspace(tmp_path, x, labels)
    seen = []
    proj = project(ws, "umap", 2, params={"n_epochs": 60}, progress=lambda d, t, m="": seen.append(m))
    assert proj.coords.shape == (300, 2) and np.isfinite(proj.coords).all()
    assert not proj.cached
    assert any("epoch" in m for m in seen)  # umap's tqdm bar reached the progress function
    # neighbours in the map mostly share the category of the point (3 well-separated clusters)
    _, I2 = knn_graph(proj.coords, 10, "l2")
    assert np.mean(labels[I2] == labels[:, None]) > 0.9
    again = project(ws, "umap", 2, params={"n_epochs": 60})
    assert again.cached and np.array_equal(again.coords, proj.coords)
    three = project(ws, "umap", 3, params={"n_epochs": 30})
    assert three.coords.shape == (300, 3) and not three.cached


def test_umap_on_a_sample_uses_the_samples_own_graph(tmp_path):
    x, labels = _clusters(n=400)
    ws = _workspace(tmp_path, x, labels)
    proj = project(ws, "umap", 2, budget=250, seed=1, params={"n_epochs": 30})
    assert proj.sampled and proj.n_shown == 250
    assert proj.note == "250 of 400 points, a random sample (seed 1)"
    assert np.array_equal(proj.rows, sample_rows(400, 250, 1))
    frame = coords_frame(proj, ws.dataset)
    assert list(frame.columns) == ["id", "label", "x", "y"] and len(frame) == 250
    assert frame["id"].iloc[0] == f"p{proj.rows[0]}"


def test_project_rejects_bad_requests(tmp_path):
    ws = _workspace(tmp_path, _clusters(n=50)[0])
    with pytest.raises(ValueError, match="2 or 3"):
        project(ws, "pca", 4)
    with pytest.raises(ValueError, match="unknown projection"):
        project(ws, "tsne", 2)
    with pytest.raises(ValueError, match="unknown UMAP parameters"):
        project(ws, "umap", 2, params={"perplexity": 30})


# ------------------------------------------------------------------ colours


def test_map_colours(tmp_path):
    x, labels = _clusters(n=200)
    ws = _workspace(tmp_path, x, labels)
    proj = project(ws, "pca", 2)
    hub = map_colour(ws, proj, "hubness")
    assert hub.kind == "continuous" and hub.values.sum() == 200 * 10
    lid = map_colour(ws, proj, "LID")
    assert np.isfinite(lid.values).all() and lid.values.shape == (200,)
    cat = map_colour(ws, proj, "category")
    assert cat.kind == "category" and set(cat.values) == {"c0", "c1", "c2"}
    norm = map_colour(ws, proj, "norm")
    assert norm.values.shape == (200,) and norm.values.min() > 0
    nolabels = _workspace(tmp_path / "b", x)
    with pytest.raises(ValueError, match="no categories"):
        map_colour(nolabels, project(nolabels, "pca", 2), "category")


def test_drawn_positions():
    rows = np.array([2, 5, 9])
    assert drawn_positions(rows, [9, 3, 2]).tolist() == [2, 0]
    assert drawn_positions(rows, []).size == 0


# ------------------------------------------------------------------ neighbours of a point


def test_exact_and_approximate_neighbours(tmp_path):
    x, labels = _clusters(n=300)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    D, I = knn_graph(x, 30, "cosine")
    s_graph, i_graph = exact_neighbours(x, 7, 10, "cosine", (D, I))
    s_search, i_search = exact_neighbours(x, 7, 10, "cosine")
    assert i_graph.tolist() == i_search.tolist() and 7 not in i_search.tolist()
    assert np.allclose(s_graph, s_search, atol=1e-5)

    from core.index import registry

    params = approx_defaults("hnsw_flat", 300, 16)
    assert params["M"] == 16
    build, search = split_params("hnsw_flat", params)
    built = registry.build("hnsw_flat", x, "cosine", build)
    found = approx_neighbours(built, x, 7, 10, search)
    assert len(found) == 10 and 7 not in found.tolist()
    assert len(neighbour_misses(i_search, found)) <= 3  # a good HNSW on 300 points misses little
    table = neighbour_table(_workspace(tmp_path, x, labels).dataset, s_search, i_search,
                            neighbour_misses(i_search, found), "hnsw_flat")
    assert list(table.columns[:4]) == ["rank", "id", "label", "score"] and len(table) == 10
    assert approx_defaults("pq", 1000, 50)["m"] in (25, 10, 5, 2, 1)  # PQ m must divide d


def test_find_items():
    ids = ["json.dumps", "os.path.join", "re.sub"]
    texts = ["Serialize obj", "Join paths <a>", "Return the string"]
    labels = ["json", "os", "re"]
    assert find_items(ids, texts, labels, "JOIN").tolist() == [1]
    assert find_items(ids, texts, labels, "string").tolist() == [2]
    assert find_items(ids, texts, labels, "  ").size == 0
    assert find_items(ids, None, None, "re.").tolist() == [2]


def test_find_items_ranks_the_word_before_words_that_contain_it():
    """Issue 21: "king" on the GloVe map listed making, working, taking before king."""
    ids = ["the", "making", "working", "taking", "king", "burger_king", "kingdom", "kings"]
    texts = ["a", "b", "c", "d", "e", "f", "g", "the king's speech"]
    assert find_items(ids, None, None, "king").tolist() == [4, 5, 6, 7, 1, 2, 3]
    assert find_items(ids, None, None, "king", limit=3).tolist() == [4, 5, 6]
    labels = ["x"] * 7 + ["royal"]
    assert find_items(ids, texts, labels, "royal").tolist() == [7]  # a label match
    assert find_items(["a", "b"], ["one thing", "the king"], None, "king").tolist() == [1]  # a text match


# ------------------------------------------------------------------ figures


def test_escape_hover():
    assert escape_hover("<b>x</b> & y") == "&lt;b&gt;x&lt;/b&gt; &amp; y"
    assert escape_hover("a\n  b") == "a<br>b"
    cut = escape_hover("word " * 100, width=20)
    assert cut.endswith("…") and len(cut) <= 20


def test_map_figure_2d_and_3d():
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(100, 2)).astype(np.float32)
    labels = np.array([f"c{i % 25}" for i in range(100)], dtype=object)
    fig = map_figure(coords, colour=labels, colour_kind="category", hover=["<i>t</i>"] * 100,
                     title="UMAP", note="showing 100 of 1,000 points, random sample, seed 0",
                     selected=3, neighbours=np.array([4, 5]), missed=np.array([5]))
    assert {t.type for t in fig.data} == {"scattergl"}
    names = [t.name for t in fig.data]
    assert any(name.startswith("other (5 categories)") for name in names)
    assert "selected point" in names and "exact neighbours" in names
    assert "showing 100 of 1,000 points" in fig.layout.title.text
    assert fig.data[0].hovertext[0] == "&lt;i&gt;t&lt;/i&gt;"
    # every drawn position appears exactly once across the colour traces
    colour_traces = [t for t in fig.data if t.name not in ("selected point", "exact neighbours", "missed")]
    assert sorted(np.concatenate([t.customdata for t in colour_traces]).tolist()) == list(range(100))
    values = rng.normal(size=100)
    values[0] = np.nan
    fig3 = map_figure(rng.normal(size=(100, 3)), colour=values, colour_kind="continuous", colour_title="LID")
    assert {t.type for t in fig3.data} == {"scatter3d"}
    assert fig3.data[0].name == "no value"


def test_cli_map_writes_coordinates(tmp_path, fresh_home, capsys):
    pytest.importorskip("core.data.loading")
    from core.cli.main import main

    x, _ = _clusters(n=120)
    path = tmp_path / "toy.npy"
    np.save(path, x)
    out = tmp_path / "coords.csv"
    code = main(["map", "--path", str(path), "--method", "pca", "--dims", "3", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    import pandas as pd

    frame = pd.read_csv(out)
    assert list(frame.columns) == ["id", "label", "x", "y", "z"] and len(frame) == 120
    assert "explained variance" in capsys.readouterr().out
    pq_out = tmp_path / "map.parquet"
    assert main(["map", "--path", str(path), "--method", "pca", "--out", str(pq_out), "--neighbours", "5"]) == 0
    assert "5 exact neighbours each" in capsys.readouterr().out
    table = pd.read_parquet(pq_out)
    assert len(table) == 120 and all(len(v) == 5 for v in table["neighbor_ids"])
    assert main(["map", "--path", str(path), "--out", str(tmp_path / "map.xlsx")]) == 2


def test_background_umap_import_does_not_break_figures_in_another_thread():
    """`preload_umap` imports umap in a thread; plotly peeks at sys.modules["pandas"] meanwhile.

    Without importing pandas first, the figure below failed with "partially initialized
    module 'pandas'". Runs in a new process so umap is not imported yet.
    """
    import subprocess
    import sys
    from pathlib import Path

    script = """
import threading, numpy as np
import core.analysis.projection as P
from figures.map import map_figure
P.preload_umap()
worker = next((t for t in threading.enumerate() if t.name == "preload-umap"), None)
n = 0
while (worker is not None and worker.is_alive()) or n < 3:
    map_figure(np.random.rand(50, 2), colour=np.random.rand(50), colour_kind="continuous").to_json()
    n += 1
print("ok", n)
"""
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok")


def test_the_legend_moves_under_the_map_when_a_colour_bar_takes_the_right_edge():
    coords = np.random.default_rng(0).standard_normal((50, 2)).astype(np.float32)
    values = np.linspace(0, 1, 50)
    fig = map_figure(coords, colour=values, colour_kind="continuous", colour_title="LID", selected=3,
                     neighbours=np.array([1, 2]))
    assert fig.layout.legend.orientation == "h" and fig.layout.legend.yanchor == "top"
    assert any(getattr(t.marker, "showscale", False) for t in fig.data)  # the colour bar stays on the right
    plain = map_figure(coords, selected=3)
    assert plain.layout.legend.orientation is None  # no colour bar: the legend keeps the right edge


def test_map_table_has_text_and_exact_neighbours_and_round_trips_parquet(fresh_home):
    import io

    import pyarrow.parquet as pq

    from core.analysis.projection import map_table, project, table_parquet
    from core.data.dataset import Dataset
    from core.workspace import Workspace

    x = np.array([[0, 0], [1, 0], [3, 0], [7, 0]], dtype=np.float32)
    ds = Dataset(name="line", ids=["a", "b", "c", "<b>d</b>"], vectors=x, metric="l2", labels=["p", "p", "q", "q"],
                 titles=["first", "second", "third", "fourth"])
    ws = Workspace.open(ds)
    proj = project(ws, "pca", 2)
    frame = map_table(ws, proj, k=2)
    assert list(frame.columns) == ["id", "label", "text", "x", "y", "neighbor_ids", "neighbor_l2_distance"]
    by_id = frame.set_index("id")
    assert by_id.loc["a", "neighbor_ids"] == ["b", "c"] and by_id.loc["a", "neighbor_l2_distance"] == [1.0, 3.0]
    assert by_id.loc["<b>d</b>", "neighbor_ids"] == ["c", "b"] and by_id.loc["<b>d</b>", "text"] == "fourth"
    back = pq.read_table(io.BytesIO(table_parquet(frame))).to_pandas()
    assert list(back.loc[0, "neighbor_ids"]) == list(frame.loc[0, "neighbor_ids"])


def test_the_search_example_is_a_word_not_punctuation():
    assert example_id([",", ".", "the", "of"]) == "the"
    assert example_id(["os.path.join", "x"]) == "os.path.join"
    assert example_id(["1", "2"]) == "1"  # no word among them: the first id
    assert example_id([]) == "an id"
    assert example_id(["a" * 50]) == "a" * 30
