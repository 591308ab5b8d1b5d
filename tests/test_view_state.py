"""One view state per page (`ui.view_state`, `ui.page_states`): round trips, bad values, link length, and
drill-down links that reopen exactly their row (Compression -> Query, Order -> Query)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from ui.page_states import (
    PAGE_STATES,
    CompressionState,
    IntrinsicState,
    MapState,
    OrderState,
    QueryState,
    RunsState,
    SpacesState,
)
from ui.view_state import MAX_LINK_CHARS, workspace_query

ROOT = Path(__file__).resolve().parents[1]

#: A value different from the default for every field of every page's state.
NON_DEFAULT = {
    QueryState: QueryState(mode="item", text="read a file", query="q:os.path", item="p0042", exclude_self=False,
                           methods=("flat", "binary", "order_study"),
                           params={"binary": {"center": True, "rerank": 0},
                                   "order_study": {"backend": "faiss", "order": "random", "seed": 2, "ef_search": 10}},
                           k=7, cutoff=0.4375, filter_threshold=0.25, heldout=50, split_seed=3, order_run=12),
    CompressionState: CompressionState(run=4, recall="ties", quality="mrr", bytes="index", budget=48.5, min_recall=0.75,
                                       drill="BFlat on sign(x), rerank=0"),
    OrderState: OrderState(run=3, backend="hnswlib", ef=40, order="random", seed=1, vsid_run=9, rank_run=4,
                           rank_spaces="minilm;minilm(pooling=cls);tfidf-svd:abtt=3", rank_metric="mrr_at_10"),
    MapState: MapState(projection="umap", dims=3, colour="lid", budget=20_000, draw="density", seed=5, n_neighbors=30,
                       min_dist=0.25, n_epochs=100, point="p0007", compare="ivf_pq",
                       compare_params={"ivf_pq": {"nlist": 16, "m": 8, "nprobe": 4}}, k=20),
    IntrinsicState: IntrinsicState(k=50, pca_threshold=0.95),
    SpacesState: SpacesState(a_encoder="minilm", a_how="truncate", a_dims=64, b_encoder="tfidf-svd", b_how="pca",
                             b_dims=32, k=25, item="os.path.join"),
    RunsState: RunsState(run=5, other=2),
}


def test_every_page_with_settings_has_a_non_default_case():
    assert set(NON_DEFAULT) == {cls for cls in PAGE_STATES.values() if cls.url_fields()}
    for cls, state in NON_DEFAULT.items():
        for f in cls.url_fields():
            assert getattr(state, f.name) != f.default, (cls.__name__, f.name)


@pytest.mark.parametrize("cls", list(NON_DEFAULT), ids=lambda c: c.__name__)
def test_state_url_state_round_trip(cls):
    state = NON_DEFAULT[cls]
    query = state.to_query()
    assert len(query) == len(cls.url_fields())  # every field differs from its default, so each is written
    back, warnings = cls.from_query(query)
    assert warnings == [] and back == state
    # the link carries the same values after the workspace's
    link = state.link({"dataset": "synthetic", "params": {"n": 500}, "encoder": "given-vectors"})
    parsed = dict(parse_qsl(urlsplit(link).query))
    assert urlsplit(link).path == f"/{cls.PAGE}" and parsed["dataset"] == "synthetic"
    assert cls.from_query(parsed)[0] == state
    # defaults are left out of the URL
    assert cls().to_query() == {}


def test_bad_values_give_one_warning_each_and_the_default():
    state, warnings = QueryState.from_query({
        "mode": "<b>bold</b>", "k": "9" * 20, "cutoff": "nan", "exclude": "maybe", "methods": "flat,<script>",
        "mparams": '{"binary": {"rerank": -5}, "pq": {"m": 8}}', "order_run": "9" * 20, "q": "x" * 400,
    })
    assert len(warnings) == 8, warnings
    assert state.mode is None and state.k == 50 and state.cutoff is None and state.exclude_self is True
    assert state.methods is None and state.params == {"pq": {"m": 8}} and state.order_run is None
    assert len(state.text) == 300
    assert any("binary: rerank must be" in w for w in warnings)
    assert any("order_run=" in w and "not offered" in w for w in warnings)
    state, warnings = CompressionState.from_query({"sweep_run": "abc", "recall": "both", "min_recall": "2",
                                                   "budget": "1e300"})
    assert state.run is None and state.recall == "id" and state.min_recall == 1.0 and state.budget == 1e6
    assert len(warnings) == 4 and "showing the latest instead" in warnings[0]
    for raw in ("-1", "0", "9" * 20):  # no run id is clipped into another run
        state, warnings = OrderState.from_query({"order_run": raw})
        assert state.run is None and len(warnings) == 1
    state, warnings = MapState.from_query({"compare": "flat", "cparams": "[1, 2]", "dims": "4"})
    assert state.compare is None and state.compare_params is None and state.dims == 3 and len(warnings) == 3


def test_the_largest_states_link_stays_under_2000_characters():
    big = {
        QueryState: QueryState(mode="text", text="é" * 300, methods=("ivf_rabitq", "random_projection", "leanvec_ood",
                                                                     "order_study"),
                               params={"ivf_rabitq": {"nlist": 65536, "nb_bits": 9, "nprobe": 65536, "qb": 8},
                                       "random_projection": {"d_out": 4096, "codec": "sq8", "rerank": 10000},
                                       "leanvec_ood": {"d_out": 4096, "codec": "sq8", "rerank": 10000},
                                       "order_study": {"backend": "hnswlib", "order": "lid-desc", "seed": 2**31 - 1,
                                                       "ef_search": 4096}},
                               k=50, cutoff=-0.123456, heldout=9_999_999, split_seed=2**31 - 1, order_run=2**53,
                               exclude_self=False),
        MapState: dataclasses.replace(NON_DEFAULT[MapState], point="é" * 200,
                                      compare_params={"ivf_rabitq": {"nlist": 65536, "nb_bits": 9, "nprobe": 65536,
                                                                     "qb": 8}}),
        SpacesState: dataclasses.replace(NON_DEFAULT[SpacesState], a_encoder="é" * 200, b_encoder="é" * 200,
                                         item="é" * 200),
    }
    workspace = {"dataset": "synthetic", "encoder": "given-vectors",
                 "params": {"n": 200_000, "dim": 4096, "intrinsic_dim": 4096, "n_clusters": 100, "noise": 0.5,
                            "seed": 2**31 - 1}}
    for cls, state in big.items():
        link = state.link(workspace)
        assert cls.from_query(dict(parse_qsl(urlsplit(link).query)))[0] == state
        if len(link) > MAX_LINK_CHARS:  # only free text in a non-Latin script gets here: the page offers Save view
            assert any(f.name in ("text", "point", "a_encoder", "b_encoder", "item") for f in cls.url_fields())
        ascii_state = dataclasses.replace(state, **{f.name: "x" * len(getattr(state, f.name))
                                                    for f in cls.url_fields() if isinstance(getattr(state, f.name), str)
                                                    and "é" in getattr(state, f.name)})
        assert len(ascii_state.link(workspace)) <= MAX_LINK_CHARS, cls.__name__


# ----------------------------------------------------------------- drill-down links reopen their row

PARAMS = {"n": 1200, "dim": 32, "intrinsic_dim": 12, "noise": 0.05, "n_clusters": 4, "seed": 0}
SPEC = {"dataset": "synthetic", "params": PARAMS, "encoder": "given-vectors", "encoder_options": {}}


@pytest.fixture
def home(fresh_home):
    st.cache_resource.clear()
    st.cache_data.clear()
    yield fresh_home
    st.cache_resource.clear()
    st.cache_data.clear()


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_link(link: str) -> AppTest:
    """The page a link names, opened as a fresh visit would: its query parameters only, no session."""
    parts = urlsplit(link)
    at = AppTest.from_file(str(ROOT / "views" / f"{parts.path.strip('/')}.py"), default_timeout=300)
    for key, value in parse_qsl(parts.query):
        at.query_params[key] = value
    at.run()
    return ok(at)


def found_on_query_page(at: AppTest, method: str) -> tuple[int, int]:
    """``(found, k)`` from the Query page's sentence "... each method found: **m** 7/10, ..."."""
    text = "\n".join(m.value for m in at.markdown)
    hit = re.search(rf"\*\*{re.escape(method)}\*\* (\d+)/(\d+)", text)
    assert hit, text[:2000]
    return int(hit.group(1)), int(hit.group(2))


def worst_table(at: AppTest, column: str = "open"):
    tables = [df.value for df in at.dataframe if column in df.value.columns]
    assert tables, "no drill-down table"
    return tables[0]


def test_a_compression_drill_down_link_opens_its_rows_configuration_with_the_same_recall(home):
    from core.experiments.compression import sweep_for_workspace
    from core.store.runs import RunStore
    from core.workspace import Workspace

    ws = Workspace.open("synthetic", "given-vectors", dataset_params=PARAMS)
    overrides = {"binary": {"center": [False], "rerank": [0, 20]}, "pq": {"m": [4]}}
    with RunStore().recording("sweep", "synthetic", ws.encoder_name, {"embeddings_key": ws.embeddings_key,
                                                                      "k": 10, "n_queries": 40, "seed": 0}) as rec:
        rows = list(sweep_for_workspace(ws, methods=["binary", "pq"], overrides=overrides, k=10, n_queries=40,
                                        recorder=rec, latency_queries=5))
    assert all(r["status"] == "ok" for r in rows) and len(rows) == 3
    checked, recalls = 0, []
    for row in rows:
        at = AppTest.from_file(str(ROOT / "views" / "compression.py"), default_timeout=300)
        at.session_state["ws_spec"] = SPEC
        at.run()
        ok(at).selectbox(key="sweep_drill").set_value(row["label"]).run()
        worst = worst_table(ok(at))
        assert at.query_params["drill"] in (row["label"], [row["label"]])
        for _, item in worst.head(2).iterrows():
            page = open_link(item["open"])
            found, k = found_on_query_page(page, row["method"])
            assert k == 10
            assert found / k == pytest.approx(item["recall"]), (row["label"], item["query"])
            assert "held out of the base" in "\n".join(t.value for t in page.text)
            checked += 1
            recalls.append(found / k)
    assert checked == 6 and len(set(recalls)) >= 3  # the rows differ: with and without re-rank, PQ


def test_an_order_drill_down_link_opens_the_studys_own_build_with_the_same_recall(home):
    from core.experiments.insertion_order import (
        OrderStudyParams,
        order_run_params,
        order_study_for_workspace,
        prepare_order_study,
    )
    from core.store.runs import RunStore
    from core.workspace import Workspace

    ws = Workspace.open("synthetic", "given-vectors", dataset_params=PARAMS)
    params = OrderStudyParams(backends=("faiss",), orders=("lid-asc", "random"), seeds=(0, 1), ef_search=(4, 16),
                              n_queries=40, lid_k=10, M=4, ef_construction=8)
    inputs = prepare_order_study(ws, params)
    with RunStore().recording("order", "synthetic", ws.encoder_name, order_run_params(ws, params, inputs)) as rec:
        list(order_study_for_workspace(ws, params, recorder=rec, inputs=inputs, jobs=1))
    checked = 0
    for order, seed in (("lid-asc", None), ("random", 1)):
        at = AppTest.from_file(str(ROOT / "views" / "order.py"), default_timeout=300)
        at.session_state["ws_spec"] = SPEC
        at.run()
        ok(at).selectbox(key="order_lid_ef").set_value(4).run()
        ok(at).selectbox(key="order_drill_order").set_value(order).run()
        if seed is not None:
            ok(at).selectbox(key="order_drill_seed").set_value(seed).run()
        assert ok(at).query_params["order"] == order and at.query_params["ef"] == "4"
        worst = worst_table(at)
        assert worst["recall"].min() < 1.0
        for _, item in worst.head(3).iterrows():
            page = open_link(item["open"])
            found, k = found_on_query_page(page, "order_study")
            assert found / k == pytest.approx(item["recall"]), (order, item["query"])
            checked += 1
    assert checked == 6


def test_a_copied_query_link_reopens_every_setting(home):
    state = QueryState(mode="item", item="p0005", methods=("flat", "ivf_flat", "binary"),
                       params={"ivf_flat": {"nlist": 8, "nprobe": 2}, "binary": {"center": True, "rerank": 0}},
                       k=7, exclude_self=False, cutoff=0.5)
    page = open_link(state.link(SPEC))
    assert page.multiselect(key="query_methods").value == ["flat", "ivf_flat", "binary"]
    assert page.slider(key="query_k").value == 7 and page.checkbox(key="query_exclude_self").value is False
    assert page.number_input(key="query_p_ivf_flat_nprobe").value == 2
    assert page.selectbox(key="query_p_binary_center").value is True
    assert page.number_input(key="query_p_binary_rerank").value == 0
    assert page.slider(key="query_threshold").value == pytest.approx(0.5)
    # and the page's own URL is that state again
    back, warnings = QueryState.from_query(dict(page.query_params.items()) if hasattr(page.query_params, "items")
                                           else page.query_params)
    assert warnings == [] and back.methods == state.methods and back.params == state.params and back.k == 7


def test_workspace_query_keeps_the_params():
    assert workspace_query(SPEC)["params"] == '{"dim":32,"intrinsic_dim":12,"n":1200,"n_clusters":4,"noise":0.05,' \
                                              '"seed":0}'


def test_a_view_too_long_to_link_is_saved_under_a_short_id(home):
    long_text = "深層学習による検索 " * 30  # 299 characters, about 2.5 kB as a URL
    state = QueryState(mode="text", text=long_text.strip(), methods=("flat", "binary"), k=5)
    spec = {"dataset": "stdlib-docs", "params": {"limit": 120, "seed": 0}, "encoder": "tfidf-svd"}
    assert len(state.link(spec)) > MAX_LINK_CHARS
    from core.workspace import Workspace

    Workspace.open("stdlib-docs", "tfidf-svd", dataset_params=spec["params"]).embeddings()
    at = open_link(state.link(spec))
    assert any("more than 2,000" in c.value for c in at.caption), [c.value for c in at.caption]
    at.button(key="save_view_query").click().run()
    saved = [s.value for s in ok(at).success if "Saved as view" in s.value]
    assert saved, [s.value for s in at.success]
    short = re.search(r"(/query\?\S+)", saved[0].replace("\\", "")).group(1)
    assert len(short) < 200 and "view=" in short
    again = open_link(short)
    assert again.text_input(key="query_text").value == long_text.strip()
    assert again.multiselect(key="query_methods").value == ["flat", "binary"] and again.slider(key="query_k").value == 5
    bad = open_link(short.replace(re.search(r"view=\d+", short).group(0), "view=999999"))
    assert any("not a saved view" in w.value for w in bad.warning)
