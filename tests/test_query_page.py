"""AppTest for the Query comparison page on a small vector workspace and a tiny text workspace."""

from __future__ import annotations

import json
from pathlib import Path

from pagetest import open_view, page_text
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[1] / "views" / "query.py")

VECTORS = {
    "dataset": "synthetic",
    "params": {"n": 500, "dim": 32, "intrinsic_dim": 4, "n_clusters": 3, "seed": 0},
    "encoder": "given-vectors",
    "encoder_options": {},
}
TEXT = {"dataset": "stdlib-docs", "params": {"limit": 300, "seed": 0}, "encoder": "tfidf-svd", "encoder_options": {}}


def open_page(spec: dict) -> AppTest:
    return open_view("query.py", spec)




def method_tables(at: AppTest) -> list:
    return [df.value for df in at.dataframe if "rank" in df.value.columns]


#: Half the main area of a 1366 px wide window with the sidebar open (two result tables per row), minus borders:
#: the screen issue 21 checks pages at (ui/tables.py HALF).
HALF_MAIN_AREA_1280 = 438


def descendants(node):
    yield node
    for child in (getattr(node, "children", None) or {}).values():
        yield from descendants(child)


def shown_width(element) -> int:
    """Pixels the configured widths of a dataframe's shown columns add up to."""
    config = json.loads(element.proto.columns)
    return sum(int(config[c]["width"]) for c in element.proto.column_order)


def test_vector_workspace_pick_a_point_and_compare_methods():
    at = open_page(VECTORS)
    assert at.radio(key="query_mode").options == ["An item from the data"]
    assert "Query item: p000" in page_text(at) or any("p000" in t.value for t in at.text)  # opens answered
    assert len(method_tables(at)) == 4  # the default methods, on the first item
    assert "**500** items" in page_text(at) and "32-dimensional" in page_text(at)

    at.multiselect(key="query_methods").set_value(["flat", "hnsw_flat", "ivf_flat"])
    at.text_input(key="query_item_search").input("p01").run()
    at.selectbox(key="query_item_pick").select_index(0).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]

    results = method_tables(at)
    assert len(results) == 3, "one result table per chosen method"
    flat = results[0]
    assert len(flat) == 10 and flat["in exact top-k"].all() and list(flat["exact rank"]) == list(range(1, 11))
    assert "recall@10 = 1.00" in page_text(at)
    assert "overlap" in page_text(at)
    # the point itself is left out by default
    picked = at.session_state["query_item_row"][1]
    assert f"p{picked:03d}" not in set(flat["id"])

    # moving the cut-off recounts survivors without searching again
    before = at.session_state["query_last"]
    slider = at.slider(key="query_threshold")  # synthetic is L2: the largest distance keeps all
    slider.set_value(slider.max).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["query_last"] is before
    assert "10 of 10 pass the cut-off" in page_text(at)

    # a second query reuses every index
    at.button(key="query_item_random").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert page_text(at).count("index reused from the cache") == 3


def test_text_workspace_free_text_query_with_default_methods():
    at = open_page(TEXT)
    if any(b.key == "query_encode_now" for b in at.button):  # first run in this test home
        assert "is not encoded with **tfidf-svd** yet" in "\n".join(w.value for w in at.warning)
        at.button(key="query_encode_now").click().run()
        assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="query_mode").value == "Free text"
    assert at.multiselect(key="query_methods").value == ["flat", "hnsw_flat", "pq", "binary"]
    at.text_input(key="query_text").input("read a file line by line").run()
    assert not at.exception, [e.value for e in at.exception]
    results = method_tables(at)
    assert len(results) == 4
    assert all(len(t) == 10 and "text" in t.columns for t in results)
    assert "recall@10 = 1.00" in page_text(at)  # flat
    assert len(at.get("plotly_chart")) == 2  # the score curves, and the relevance-filtering curves (stdlib has qrels)

    # one of the dataset's own queries: its relevant document is marked from the qrels
    at.radio(key="query_mode").set_value("One of the dataset's queries").run()
    assert not at.exception, [e.value for e in at.exception]
    results = method_tables(at)
    assert len(results) == 4 and "relevant" in results[0].columns
    assert "qrels judge 1 document relevant" in page_text(at)
    assert "relevant found" in page_text(at)


def test_a_method_that_cannot_run_shows_its_reason_and_the_others_still_run():
    at = open_page(VECTORS)
    at.multiselect(key="query_methods").set_value(["flat", "binary"])
    at.number_input(key="query_p_binary_rerank").set_value(5)  # below k=10: the registry refuses it
    at.button(key="query_item_random").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(method_tables(at)) == 1
    assert any("binary could not run" in e.value and "rerank" in e.value for e in at.error)


def test_fewer_than_two_methods_get_a_prompt():
    at = open_page(VECTORS)
    at.multiselect(key="query_methods").set_value(["flat"]).run()
    assert not at.exception
    assert "Choose at least two methods" in page_text(at)


def test_result_tables_fit_two_per_row_and_the_items_table_marks_where_the_exact_top_k_ends():
    at = open_page(TEXT)
    if any(b.key == "query_encode_now" for b in at.button):
        at.button(key="query_encode_now").click().run()
    at.text_input(key="query_text").input("read a file line by line").run()
    assert not at.exception, [e.value for e in at.exception]
    tables = [df for df in at.dataframe if "rank" in df.value.columns]
    assert len(tables) == 4
    for table in tables:  # every column shown has a fixed width, and they fit half the main area at 1280 px
        assert list(table.proto.column_order) == ["rank", "id", "in exact top-k", "exact rank", "exact score",
                                                  "score", "passes cut-off"]
        assert shown_width(table) <= HALF_MAIN_AREA_1280
    rows_of_two = [block for block in at.main.children.values() if block.type == "flex_container"
                   and [c.type for c in block.children.values()] == ["column", "column"]
                   and sum(type(e).__name__ == "Dataframe" for e in descendants(block)) == 2]
    assert len(rows_of_two) == 2  # flat beside hnsw_flat, pq beside binary

    [items] = [t.value for t in at.table]
    results = {r.method: r for r in at.session_state["query_last"]["results"]}
    exact = at.session_state["query_last"]["exact"]
    flat, pq = results["flat"], results["pq"]
    body = items[items["exact rank"] != ""]
    returned = {int(i) for r in results.values() for i in r.rows} | {int(i) for i in exact.top_rows}
    assert len(body) == len(returned), "one row per item: the exact top-k and everything a method returned"
    ranks = body["exact rank"].astype(int).tolist()
    assert ranks == sorted(ranks) and ranks[:10] == list(flat.exact_ranks)  # exact order; flat is exact
    assert body["flat"].tolist()[:10] == [str(i) for i in range(1, 11)]
    # pq's column gives the rank pq returned each item at: its first result is rank 1 in its column
    first_pq = int(pq.rows[0])
    assert str(int(exact.ranks([first_pq])[0])) in body.loc[body["pq"] == "1", "exact rank"].tolist()
    line = items[items["exact rank"] == ""]
    beyond = [r for r in ranks if r > 10]
    if beyond:  # the line sits right after the last exact top-10 item and says the 10th exact score
        assert len(line) == 1 and line.index[0] == 10
        assert line["exact score"].iloc[0] == f"*rank 10: {exact.kth:.3f}*"
        assert "The line marks where the exact top-10 ends" in page_text(at)
    else:
        assert line.empty and "Every method returned only items of the exact top-10" in page_text(at)
    assert set(body["cut-off"]) <= {"✓", "✗"} and body["text"].str.len().gt(0).all()


def test_on_a_large_base_exact_results_show_at_once_and_indexes_are_built_in_the_background(monkeypatch):
    """Above `BACKGROUND_INDEX_N` vectors the page does not wait for index builds: the exact results show
    at once, the missing methods are built in a shared background job, and appear when it is done."""
    import threading
    import time

    import streamlit as st

    from core.index import defaults, registry
    from ui.background import forget_job, list_jobs

    st.cache_resource.clear()  # an empty index cache
    monkeypatch.setattr(defaults, "BACKGROUND_INDEX_N", 100)  # 500 points count as "large" here
    may_finish = threading.Event()
    build = registry.build

    def slow_build(method, *args, **kwargs):  # exact search builds at once; the others when the test says
        if method != "flat":
            may_finish.wait(60)
        return build(method, *args, **kwargs)

    monkeypatch.setattr(registry, "build", slow_build)
    at = open_page(VECTORS)
    assert not at.exception, [e.value for e in at.exception]
    assert len(method_tables(at)) == 1 and any("in the background" in i.value for i in at.info)  # flat at once
    (job,) = [j for j in list_jobs() if j.key.startswith("query-index:")]
    assert job.running
    may_finish.set()
    t0 = time.time()
    while job.running and time.time() - t0 < 60:
        time.sleep(0.1)
    assert job.error is None
    at.run()
    assert not at.exception and len(method_tables(at)) == 4
    assert not any("in the background" in i.value for i in at.info)
    forget_job(job.key)
    st.cache_resource.clear()
