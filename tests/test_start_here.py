"""Home's *Start here*: six cards from the saved runs, each linking with its page's full view state, and their
SVG thumbnails (escaped, the same bytes for the same data)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest
from pagetest import open_view

from figures.thumbnails import bar_thumbnail, card_thumbnail, histogram_thumbnail, line_thumbnail, map_thumbnail
from ui.page_states import PAGE_STATES

TOUR = {"dataset": "stdlib-docs", "params": {"limit": 300, "seed": 0}, "encoder": "tfidf-svd", "encoder_options": {}}


@pytest.fixture(scope="module")
def prepared():
    """The small text workspace with every run `densescope prepare` saves (kept in the test home)."""
    from core.experiments.demo import prepare_demo
    from core.workspace import Workspace

    ws = Workspace.open(TOUR["dataset"], TOUR["encoder"], dataset_params=TOUR["params"])
    ws.embeddings()
    ws.query_embeddings()
    prepare_demo(ws, say=lambda line: None)
    return ws


def card_links(at) -> dict[str, str]:
    out = {}
    for m in at.markdown:
        if 'data-card="' in m.value:
            key = m.value.split('data-card="', 1)[1].split('"', 1)[0]
            out[key] = m.value.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    return out


def test_home_cards_link_to_the_states_they_describe(prepared):
    from core.experiments.compression import latest_sweep_run
    from core.experiments.insertion_order import latest_order_run
    from core.experiments.recall_vs_id import latest_vs_id_run

    at = open_view("home.py", TOUR)
    links = card_links(at)
    assert list(links) == ["map", "query", "budget", "order", "vs_id", "spaces"]
    states = {}
    for key, link in links.items():
        parts = urlsplit(link)
        page = parts.path.strip("/")
        query = dict(parse_qsl(parts.query))
        assert (query["dataset"], query["encoder"]) == (TOUR["dataset"], TOUR["encoder"])
        state, warnings = PAGE_STATES[page].from_query(query)
        assert not warnings, (key, warnings)
        states[key] = state
    ds = prepared.dataset
    assert states["map"].PAGE == "map" and states["map"].compare == "binary" and states["map"].point in ds.ids
    assert states["map"].projection == "umap"
    q = states["query"]
    assert q.mode == "query" and q.query in ds.queries.ids and q.methods[0] == "flat" and len(q.methods) == 4
    assert q.params["hnsw_flat"]["ef_search"] > 0
    sweep, order, vs_id = latest_sweep_run(prepared), latest_order_run(prepared), latest_vs_id_run()
    assert states["budget"].run == sweep.id and states["budget"].budget > 0
    assert (states["order"].run, states["order"].ef) == (order.id, 10)
    assert states["vs_id"].vsid_run == vs_id.id
    assert (states["spaces"].a_encoder, states["spaces"].b_encoder) == ("tfidf-svd", "glove-avg")
    captions = " ".join(c.value for c in at.caption)
    assert "of the 10 nearest neighbours" in captions and "queries/s" in captions


def test_home_without_saved_runs_says_how_to_prepare_them(fresh_home):
    spec = {"dataset": "synthetic", "params": {"n": 200, "dim": 8, "intrinsic_dim": 2, "noise": 0.0, "n_clusters": 2,
                                               "seed": 0}, "encoder": "given-vectors", "encoder_options": {}}
    at = open_view("home.py", spec)
    assert not card_links(at)
    assert any("densescope prepare" in i.value for i in at.info)


def test_thumbnails_escape_labels_and_are_deterministic():
    svg = bar_thumbnail(["<script>x</script>", "b&c"], [0.5, 0.9], title='"quoted"')
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "b&amp;c" in svg and "&quot;quoted&quot;" in svg
    assert svg == bar_thumbnail(["<script>x</script>", "b&c"], [0.5, 0.9], title='"quoted"')
    rng = np.random.default_rng(0)
    drawn = [
        map_thumbnail(rng.random(50), rng.random(50), found=rng.random((3, 2)), missed=rng.random((2, 2)),
                      selected=(0.5, 0.5)),
        line_thumbnail({"ef 10": (np.array([2, 8, 32]), np.array([1.0, 0.8, 0.5]))}, log_x=True),
        histogram_thumbnail(rng.random(100), bins=11),
        card_thumbnail({"kind": "scatter", "x": [48, 385, 1536], "y": [0.6, 0.99, 1.0], "pick": (385, 0.99),
                        "budget": 400, "floor": 0.9}),
    ]
    for svg in drawn:
        assert svg.startswith("<svg") and svg.endswith("</svg>") and "nan" not in svg
    assert drawn[0].count("<circle") == 50 + 3 + 1  # every point, the found neighbours, the selected ring
    assert drawn[0].count("<path") == 2  # one cross per missed neighbour


def test_map_legend_lists_categories_by_name_numbers_as_numbers_and_other_last():
    from figures.map import legend_order, map_figure

    assert legend_order(["cluster 10", "cluster 2", "b", "A", "cluster 0"]) == [
        "A", "b", "cluster 0", "cluster 2", "cluster 10"]
    counts = {"0": 40, "3": 30, "2": 20, "1": 10, "4": 5}  # most frequent first: 0, 3, 2, 1, 4
    labels = np.array([c for c, n in counts.items() for _ in range(n)], dtype=object)
    coords = np.random.default_rng(0).normal(size=(labels.size, 2)).astype(np.float32)
    fig = map_figure(coords, colour=labels, colour_kind="category")
    assert [t.name for t in fig.data if t.showlegend is not False] == ["0", "1", "2", "3", "4"]
    many = np.array([f"c{i % 25}" for i in range(100)], dtype=object)  # 25 categories: 5 go to "other"
    fig = map_figure(coords[:1].repeat(100, axis=0), colour=many, colour_kind="category")
    ranked = sorted(fig.data, key=lambda t: (t.legendrank if t.legendrank is not None else 1000))
    assert ranked[-1].name.startswith("other (5 categories)")
