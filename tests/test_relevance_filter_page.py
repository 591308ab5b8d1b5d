"""AppTest: the Query page's relevance-filtering section on a judged dataset, and its message on one without."""

from __future__ import annotations

import json

from pagetest import page_text
from streamlit.testing.v1 import AppTest
from test_query_page import PAGE, TEXT, VECTORS


def open_judged(query: dict | None = None) -> AppTest:
    """The Query page on the judged text workspace (stdlib-docs, 300 items), from a link's ``query``."""
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["ws_spec"] = TEXT
    at.query_params.update({"methods": "flat,hnsw_flat", **(query or {})})  # two quick methods
    at.run()
    if any(b.key == "query_encode_now" for b in at.button):  # first run in this test home
        at.button(key="query_encode_now").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_section_renders_on_a_judged_dataset_and_marks_what_the_mapped_threshold_keeps():
    at = open_judged({"mode": "query"})
    text = page_text(at)
    assert "Relevance filtering" in text and "Rossi et al." in text
    assert "the mapping never saw" in text and "For this query the mapped threshold" in text
    [items] = [t.value for t in at.table]
    body = items[items["exact rank"] != ""]
    assert list(items.columns).index("mapped") == list(items.columns).index("cut-off") + 1
    assert set(body["mapped"]) <= {"✓", "✗"}
    assert "✓ in *mapped*" in text
    names = [{t.get("name") for t in json.loads(c.proto.spec)["data"]} for c in at.get("plotly_chart")]
    assert any({"mapped threshold", "raw cut-off", "top-k"} <= n for n in names)  # the curves figure
    # the threshold is the view state's: in the URL, and a stricter one keeps no more results
    slider = at.slider(key="query_filter_threshold")
    assert float(at.query_params["fthreshold"]) == slider.value
    kept_before = (body["mapped"] == "✓").sum()
    slider.set_value(0.999).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.query_params["fthreshold"] == "0.999"
    [items] = [t.value for t in at.table]
    assert (items.loc[items["exact rank"] != "", "mapped"] == "✓").sum() <= kept_before


def test_a_link_opens_on_its_mapped_threshold():
    at = open_judged({"mode": "query", "fthreshold": "0.25"})
    assert at.slider(key="query_filter_threshold").value == 0.25
    assert "mapped threshold 0.250" in page_text(at)


def test_without_judgments_the_section_says_it_is_not_available():
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.session_state["ws_spec"] = VECTORS
    at.query_params.update({"methods": "flat,hnsw_flat"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not any(s.key == "query_filter_threshold" for s in at.slider)
    text = page_text(at)
    assert "Relevance filtering" in text and "is not available here" in text and "relevance judgments" in text
    [items] = [t.value for t in at.table]
    assert "mapped" not in items.columns


def test_a_bad_threshold_in_a_link_warns_once_and_the_section_still_renders():
    at = open_judged({"mode": "query", "fthreshold": "5"})
    assert any("fthreshold" in w.value and "outside" in w.value for w in at.warning), [w.value for w in at.warning]
    assert at.slider(key="query_filter_threshold").value == 0.999
    assert "For this query the mapped threshold 0.999" in page_text(at)
