import numpy as np

from core.data.describe import category_table, norm_summary, vector_norms
from figures.data import category_bar, norm_histogram


def test_category_bar_draws_the_largest_on_top():
    table = category_table(["a", "b", "b", "c", "c", "c"])
    assert table["items"].tolist() == [3, 2, 1]
    fig = category_bar(table, top=2)
    assert list(fig.data[0].y) == ["b", "c"] and list(fig.data[0].x) == [2, 3]


def test_norms_of_unit_rows_are_reported_as_unit():
    x = np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float32)
    norms = vector_norms(x)
    assert norms.tolist() == [5.0, 0.0]
    s = norm_summary(norms)
    assert s["zero"] == 1 and not s["unit"] and s["max"] == 5.0
    assert norm_histogram(norms).data[0].x.tolist() == [5.0, 0.0]


# -- the Embedding map's figure at scale (issue 14) ---------------------------------------------------------


def _map_spec(fig) -> str:
    import plotly.io as pio

    return pio.to_json(fig, validate=False)  # what st.plotly_chart sends


def _map_json(fig) -> dict:
    import json

    return json.loads(_map_spec(fig))


def _typed(value) -> bool:
    return isinstance(value, dict) and set(value) >= {"dtype", "bdata"}


def test_a_100k_point_map_sends_typed_arrays_and_no_per_point_colour():
    import json

    from figures.map import COLOUR_LEVELS, map_figure

    rng = np.random.default_rng(0)
    m = 100_000
    coords = rng.normal(size=(m, 2)).astype(np.float32)
    values = rng.normal(size=m)
    fig = map_figure(coords, colour=values, colour_kind="continuous", colour_title="L2 norm",
                     hover=[f"w{i}" for i in range(m)], draw="points")
    sent = _map_spec(fig)
    spec = json.loads(sent)
    points = [t for t in spec["data"] if "customdata" in t]
    assert 1 < len(points) <= COLOUR_LEVELS and all(t["type"] == "scattergl" for t in points)
    for t in points:
        assert _typed(t["x"]) and _typed(t["y"]) and _typed(t["customdata"]), t["name"]
        assert t["x"]["dtype"] == "u2" and isinstance(t["marker"]["color"], str)  # one colour per trace
        assert t["hovertemplate"].startswith("%{hovertext}<br>L2 norm: ")
    assert sum(len(t["hovertext"]) for t in points) == m
    assert len(sent) < 25 * m  # ~21 bytes a point with short labels (the old figure: ~65)


def test_every_point_trace_maps_its_points_back_to_their_positions():
    import base64

    from figures.map import map_figure, map_grid

    rng = np.random.default_rng(1)
    coords = rng.normal(size=(500, 2)).astype(np.float32)
    labels = np.array([f"c{i % 23}" for i in range(500)], dtype=object)  # 20 colours + "other"
    grid = map_grid(coords)
    for kw in ({"colour": labels, "colour_kind": "category"},
               {"colour": rng.normal(size=500), "colour_kind": "continuous", "colour_title": "LID"}, {}):
        spec = _map_json(map_figure(coords, hover=[f"p{i}" for i in range(500)], selected=7,
                                    neighbours=np.array([3, 9]), draw="points", **kw))
        seen = []
        for t in spec["data"]:
            if "customdata" not in t:
                continue
            decode = {"u2": np.uint16, "i2": np.int16, "i4": np.int32, "i1": np.int8, "u1": np.uint8}
            pos = np.frombuffer(base64.b64decode(t["customdata"]["bdata"]), decode[t["customdata"]["dtype"]])
            x = np.frombuffer(base64.b64decode(t["x"]["bdata"]), np.uint16)
            assert (x == grid[pos, 0]).all(), t["name"]  # a click on point j of this trace selects pos[j]
            assert t["hovertext"] == [f"p{i}" for i in pos]
            if t["name"] not in ("selected point", "exact neighbours"):
                seen += pos.tolist()
        assert sorted(seen) == list(range(500))  # every point drawn exactly once


def test_markup_in_a_label_stays_literal_in_points_and_in_density_cells():
    from figures.map import map_figure

    coords = np.array([[0, 0], [1, 1], [1, 0], [0, 1]], dtype=np.float32)
    hover = ["<a href=x>a</a>", "<b>b</b>", "plain", "x & y"]
    for draw in ("points", "density"):
        spec = _map_json(map_figure(coords, hover=hover, draw=draw, selected=0))
        text = str(spec["data"])
        assert "&lt;a href=x&gt;a&lt;/a&gt;" in text and "&lt;b&gt;b&lt;/b&gt;" in text and "x &amp; y" in text
        assert "<a href" not in text and "<b>" not in text, draw


def test_a_map_above_the_points_limit_is_drawn_as_a_density_and_says_so():
    from figures.map import POINTS_LIMIT, density_cells, draws_density, map_figure, map_grid

    assert not draws_density(POINTS_LIMIT, 2) and draws_density(POINTS_LIMIT + 1, 2)
    assert not draws_density(POINTS_LIMIT + 1, 2, "points") and draws_density(10, 2, "density")
    assert not draws_density(POINTS_LIMIT + 1, 3)  # 3-D maps stay points
    rng = np.random.default_rng(2)
    coords = rng.normal(size=(POINTS_LIMIT + 1, 2)).astype(np.float32)
    fig = map_figure(coords, hover=[str(i) for i in range(POINTS_LIMIT + 1)], title="PCA", note="all points",
                     selected=5, neighbours=np.array([6, 7]))
    kinds = [t.type for t in fig.data]
    assert kinds[0] == "heatmap" and "scattergl" not in kinds  # no WebGL at all: highlights are SVG
    assert "drawn as a density" in fig.layout.title.text
    at_limit = map_figure(coords[:POINTS_LIMIT])
    assert [t.type for t in at_limit.data] == ["scattergl"]
    # hand-counted grid: four points, two in one corner cell, one in each other corner
    small = np.array([[0, 0], [0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float32)
    cell, cx, cy = density_cells(map_grid(small), bins=(2, 2))
    assert cell.tolist() == [0, 0, 1, 2, 3] and len(cx) == 2 and len(cy) == 2
    spec = _map_json(map_figure(small, hover=list("abcde"), draw="density"))
    heat = spec["data"][0]
    assert heat["type"] == "heatmap" and _typed(heat["z"])
    cells = [t for row in heat["text"] for t in row if t]
    assert "2 points<br>a<br>b" in cells  # a cell names its first items, in order
    assert sum(int(t.split(" ")[0]) for t in cells) == 5


def test_continuous_colour_levels_cover_every_value_once():
    from figures.map import colour_levels

    values = np.arange(101, dtype=np.float64)  # percentiles 1 and 99: 1.0 and 99.0
    level, edges, lo, hi = colour_levels(values, levels=4)
    assert (lo, hi) == (1.0, 99.0) and edges[0] == 0.0 and edges[-1] == 100.0
    assert level[0] == 0 and level[1] == 0 and level[100] == 3 and level[50] == 2  # (50 - 1) / 24.5 = 2
    assert np.bincount(level, minlength=4).sum() == 101
