"""AppTest for the Embedding map page on a small synthetic vector workspace."""

from __future__ import annotations

from pathlib import Path

from pagetest import open_view, page_text
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[1] / "views" / "map.py")

SPEC = {
    "dataset": "synthetic",
    "params": {"n": 500, "dim": 32, "intrinsic_dim": 4, "n_clusters": 3, "seed": 0},
    "encoder": "given-vectors",
    "encoder_options": {},
}


def open_map(spec: dict = SPEC) -> AppTest:
    return open_view("map.py", spec)




def test_map_page_draws_a_pca_map_with_live_numbers_then_opens_on_umap_once_one_is_cached(fresh_home):
    import streamlit as st

    st.cache_resource.clear()
    at = open_map()
    assert len(at.get("plotly_chart")) == 1
    text = page_text(at)
    assert "**500** items" in text and "32-dimensional" in text
    assert "PCA 2-D of all 500 points" in text
    assert "of variance" in text  # PCA axes report their explained variance
    assert not at.error
    at.radio(key="map_method").set_value("umap").run()
    assert "UMAP 2-D of all 500 points" in page_text(at)
    again = open_map()
    assert again.radio(key="map_method").value == "umap" and "UMAP 2-D" in page_text(again)
    st.cache_resource.clear()


def test_a_copied_map_link_reopens_the_same_view():
    at = open_map()
    at.radio(key="map_method").set_value("umap")
    at.radio(key="map_dims").set_value(3)
    at.selectbox(key="map_colour").set_value("LID")
    at.run()
    link = dict(at.query_params)
    assert link["projection"] in (["umap"], "umap") and link["dims"] in (["3"], "3") and link["colour"] in (["LID"],
                                                                                                          "LID")
    fresh = AppTest.from_file(PAGE, default_timeout=120)
    fresh.session_state["ws_spec"] = SPEC
    for key, value in link.items():
        fresh.query_params[key] = value[0] if isinstance(value, list) else value
    fresh.query_params["point"] = "p007"
    fresh.run()
    assert not fresh.exception, [e.value for e in fresh.exception]
    assert fresh.radio(key="map_method").value == "umap" and fresh.radio(key="map_dims").value == 3
    assert fresh.selectbox(key="map_colour").value == "LID" and "UMAP 3-D" in page_text(fresh)
    assert "Selected:" in page_text(fresh)
    bad = AppTest.from_file(PAGE, default_timeout=120)
    bad.session_state["ws_spec"] = SPEC
    bad.query_params["projection"] = "<b>tsne</b>"
    bad.query_params["point"] = "no-such-item"
    bad.run()
    assert not bad.exception and "is not one of pca, umap" in page_text(bad).replace("\\", "")
    assert "is not an item of" in page_text(bad)


def test_map_page_umap_3d_and_colours():
    at = open_map()
    at.radio(key="map_method").set_value("umap")
    at.selectbox(key="map_colour").set_value("hubness")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("plotly_chart")) == 1
    assert "UMAP 2-D of all 500 points" in page_text(at)
    assert "k-occurrence" in page_text(at)
    at.radio(key="map_dims").set_value(3)
    at.selectbox(key="map_colour").set_value("LID")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "UMAP 3-D" in page_text(at)
    # the same map again comes from the artifact cache
    at.run()
    assert "loaded from the cache" in page_text(at)


def test_map_page_search_a_point_and_compare_with_hnsw():
    at = open_map()
    at.text_input(key="map_search").input("p01").run()
    pick = at.selectbox(key="map_search_pick")
    assert len(pick.options) > 1
    pick.select_index(0).run()
    assert not at.exception, [e.value for e in at.exception]
    tables = [df.value for df in at.dataframe]
    assert tables, "the neighbour table is shown"
    table = tables[0]
    assert len(table) == 10 and list(table.columns) == ["#", "id", "score", "found"]  # the list beside the map
    assert "exact nearest neighbours" in page_text(at) and "HNSW-Flat · " in page_text(at)
    at.selectbox(key="map_approx").set_value("ivf_flat").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "IVF-Flat · " in page_text(at) and "found" in at.dataframe[0].value.columns


def test_a_search_rings_every_match_on_the_map_not_only_the_listed_50():
    import json

    at = open_map()
    at.text_input(key="map_search").input("p").run()  # every id starts with p: all 500 points match
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.selectbox(key="map_search_pick").options) == 50
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    (ring,) = [t for t in figure["data"] if str(t.get("name", "")).startswith("500 matches")]
    assert len(ring["customdata"]["bdata"]) > 0 and ring["marker"]["line"]["color"] == "#00d000"
    at.text_input(key="map_search").input("p017").run()
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    (ring,) = [t for t in figure["data"] if str(t.get("name", "")).startswith("1 match ")]


def test_map_page_samples_above_the_budget_and_says_so():
    spec = {**SPEC, "params": {**SPEC["params"], "n": 1200}}
    at = open_map(spec)
    at.number_input(key="map_budget_pca").set_value(1000).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "1,000 of 1,200 points, a random sample (seed 0)" in page_text(at)


def test_a_link_can_ask_for_a_budget_and_a_density_and_the_page_says_what_it_drew():
    import json

    spec = {**SPEC, "params": {**SPEC["params"], "n": 1200}}
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["ws_spec"] = spec
    at.query_params["budget"] = "1000"
    at.query_params["draw"] = "density"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    text = page_text(at)
    assert "1,000 of 1,200 points, a random sample (seed 0)" in text
    assert "Drawn as a density" in text and "switch *Draw* to points" in text.replace("\\", "")
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert figure["data"][0]["type"] == "heatmap" and "drawn as a density" in figure["layout"]["title"]["text"]
    assert at.number_input(key="map_budget_pca").value == 1000 and at.radio(key="map_draw").value == "density"
    at.radio(key="map_draw").set_value("points").run()
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert {t["type"] for t in figure["data"]} == {"scattergl"} and "Drawn as a density" not in page_text(at)
    link = dict(at.query_params)
    assert link.get("budget") in ("1000", ["1000"]) and link.get("draw") in ("points", ["points"])
    at.radio(key="map_draw").set_value("auto").run()
    assert "draw" not in dict(at.query_params)  # the default is left out of the link


def test_a_large_umap_runs_in_the_background_with_pca_meanwhile_then_replaces_it(fresh_home, monkeypatch):
    import time

    import streamlit as st

    from core.analysis import projection
    from ui.background import forget_job, list_jobs

    st.cache_resource.clear()
    monkeypatch.setattr(projection, "UMAP_BACKGROUND_POINTS", 100)  # 500 points count as "large" here
    at = open_map()
    at.radio(key="map_method").set_value("umap").run()
    assert not at.exception, [e.value for e in at.exception]
    text = page_text(at)
    assert "runs in the background for everyone who asks" in text and "PCA 2-D of all 500 points" in text
    assert len(at.get("plotly_chart")) == 1  # a map to look at meanwhile
    (job,) = [j for j in list_jobs() if j.key.startswith("umap:")]
    t0 = time.time()
    while job.running and time.time() - t0 < 120:
        time.sleep(0.2)
    assert job.error is None and not job.running
    at.run()
    assert "UMAP 2-D of all 500 points" in page_text(at) and "in the background" not in page_text(at)
    forget_job(job.key)
    st.cache_resource.clear()


def test_on_a_large_base_the_neighbours_show_at_once_and_the_index_is_built_in_the_background(monkeypatch):
    import threading
    import time

    from core.index import defaults, registry
    from ui.background import forget_job, list_jobs

    monkeypatch.setattr(defaults, "BACKGROUND_INDEX_N", 100)  # 500 points count as "large" here
    may_finish = threading.Event()
    build = registry.build

    def slow_build(*args, **kwargs):  # the build ends when the test says so
        may_finish.wait(60)
        return build(*args, **kwargs)

    monkeypatch.setattr(registry, "build", slow_build)
    at = open_map()
    at.text_input(key="map_search").input("p02").run()
    at.selectbox(key="map_search_pick").select_index(0).run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert len(table) == 10 and "found" not in table.columns
    jobs = [j for j in list_jobs() if j.key.startswith("map-index:")]
    assert len(jobs) == 1 and jobs[0].running
    assert "appears here once its index over all 500 vectors is built" in page_text(at)
    may_finish.set()
    t0 = time.time()
    while jobs[0].running and time.time() - t0 < 60:
        time.sleep(0.1)
    assert jobs[0].error is None
    at.run()
    assert "found" in at.dataframe[0].value.columns
    assert "finds **" in "\n".join(m.value for m in at.markdown)
    forget_job(jobs[0].key)
