"""Issue 21: a class sees clean pages — plain names, the glossary on every page, integers as integers,
legend colours people can tell apart, compression charts drawn as ann-benchmarks draws them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.index.registry import METHODS, PLAIN, config_name, display_name, plain_sentence
from figures.colours import (
    EXTRA_FAMILY_COLOURS,
    FAMILY_COLOURS,
    OTHER_COLOUR,
    PALETTE,
    colour_distance,
    min_pairwise_distance,
)
from figures.compression import log_ticks, point_labels, recall_vs_memory_figure, recall_vs_qps_figure
from figures.numbers import integer_columns, value_text
from ui.glossary import GLOSSARY

ROOT = Path(__file__).resolve().parents[1]
#: ΔE (CIE76) above which two small dots read as different colours.
DISTINCT = 20.0


# -- colours -------------------------------------------------------------------------------------------------


def test_cie76_distance_on_hand_computed_colours():
    assert colour_distance("#000000", "#ffffff") == pytest.approx(100.0, abs=0.01)  # L* 0 to 100
    assert colour_distance("#1f77b4", "#1f77b4") == 0.0
    assert colour_distance("#ff0000", "#000000") == pytest.approx(117.34, abs=0.05)  # sRGB red: L 53.24 a 80.09 b 67.20


def test_the_map_palette_is_distinct_for_up_to_20_categories_and_never_the_other_grey():
    from figures.map import MAX_CATEGORIES, map_figure

    assert len(PALETTE) >= MAX_CATEGORIES == 20
    for n in range(2, MAX_CATEGORIES + 1):
        assert min_pairwise_distance(PALETTE[:n]) > DISTINCT, n
    assert min(colour_distance(c, OTHER_COLOUR) for c in PALETTE) > DISTINCT
    # what the map draws: 25 categories -> 20 colours of their own and one grey "other"
    rng = np.random.default_rng(0)
    labels = np.array([f"c{i}" for i in range(25)])[rng.integers(0, 25, 600)]
    fig = map_figure(rng.standard_normal((600, 2)), colour=labels, colour_kind="category")
    colours = [t.marker.color for t in fig.data]
    assert colours.count(OTHER_COLOUR) == 1 and len(set(colours)) == len(colours) == 21
    assert min_pairwise_distance([c for c in colours if c != OTHER_COLOUR]) > DISTINCT


def test_compression_families_have_distinct_colours():
    colours = list(FAMILY_COLOURS.values()) + EXTRA_FAMILY_COLOURS
    assert min_pairwise_distance(colours) > DISTINCT
    assert colour_distance(FAMILY_COLOURS["pq"], FAMILY_COLOURS["reduction"]) > DISTINCT  # was ΔE 13


def test_a_constant_colour_gets_a_readable_scale_not_1_000000001():
    from figures.map import colour_levels, map_figure

    _, _, lo, hi = colour_levels(np.full(50, 1.0) + np.linspace(0, 1e-9, 50))
    assert (lo, hi) == (pytest.approx(0.99), pytest.approx(1.01))
    fig = map_figure(np.random.default_rng(0).standard_normal((50, 2)), colour=np.ones(50),
                     colour_kind="continuous", colour_title="L2 norm", axis_titles=("PC1", "PC2"))
    bar = next(t for t in fig.data if t.marker.showscale)
    assert bar.marker.colorbar.tickformat == ".4~g"
    assert fig.layout.legend.y < 0  # under the x axis title, not over it


# -- compression charts --------------------------------------------------------------------------------------


def sweep_rows() -> pd.DataFrame:
    rows = [{"method": "flat", "family": "exact", "label": "flat", "bytes_per_vector": 1536.0, "recall_at_k": 1.0,
             "qps": 2_000.0}]
    for nprobe, recall, qps in ((1, 0.5, 90_000.0), (4, 0.8, 40_000.0), (16, 0.97, 11_000.0)):
        rows.append({"method": "ivf_flat", "family": "ivf", "label": f"ivf_flat nlist=64 nprobe={nprobe}",
                     "nlist": 64.0, "nprobe": float(nprobe), "bytes_per_vector": 1544.0, "recall_at_k": recall,
                     "qps": qps})
    for m, recall in ((8, 0.3), (16, 0.45), (32, 0.62)):
        rows.append({"method": "pq", "family": "pq", "label": f"pq m={m}", "m": float(m),
                     "bytes_per_vector": float(m), "recall_at_k": recall, "qps": 30_000.0 / m})
    rows.append({"method": "pca", "family": "reduction", "label": "pca d_out=96", "d_out": 96.0, "codec": "sq8",
                 "rerank": 0.0, "bytes_per_vector": 96.0, "recall_at_k": 0.7, "qps": 50_000.0})
    return pd.DataFrame(rows).assign(status="ok", k=10)


def test_the_memory_chart_draws_one_line_per_method_labelled_at_each_point():
    fig = recall_vs_memory_figure(sweep_rows())
    lines = {t.name: t for t in fig.data if t.name != "Pareto frontier"}
    assert set(lines) == {"Flat (exact)", "IVF-Flat", "PQ", "PCA (fewer dimensions)"}  # one trace per method
    pq = lines["PQ"]
    assert pq.mode == "lines+markers+text" and list(pq.x) == [8.0, 16.0, 32.0]  # along x, through the sweep
    assert list(pq.text) == ["m=8", "m=16", "m=32"]  # the parameter that changes, an integer
    assert list(lines["IVF-Flat"].text) == ["nprobe=1", "nprobe=4", "nprobe=16"]  # nlist is the same: not said
    assert list(lines["PCA (fewer dimensions)"].text) == ["d_out=96 codec=sq8"]  # one point: its first settings
    assert pq.line.color == FAMILY_COLOURS["pq"] != lines["PCA (fewer dimensions)"].line.color
    assert fig.layout.xaxis.type == "log"
    assert list(fig.layout.xaxis.ticktext) == ["5", "10", "20", "50", "100", "200", "500", "1k", "2k"]


def test_the_speed_chart_has_a_clean_log_axis_and_the_same_lines():
    fig = recall_vs_qps_figure(sweep_rows())
    assert fig.layout.yaxis.type == "log"
    assert list(fig.layout.yaxis.ticktext) == ["500", "1k", "2k", "5k", "10k", "20k", "50k", "100k"]
    ivf = next(t for t in fig.data if t.name == "IVF-Flat")
    assert list(ivf.x) == [0.5, 0.8, 0.97] and list(ivf.text) == ["nprobe=1", "nprobe=4", "nprobe=16"]


def test_log_ticks_step_1_2_5_with_one_past_each_end():
    vals, texts = log_ticks(3.0, 40.0)
    assert vals == [2.0, 5.0, 10.0, 20.0, 50.0] and texts == ["2", "5", "10", "20", "50"]
    assert log_ticks(1.0, 1.0)[1] == ["0.5", "1", "2"]
    assert log_ticks(0.0, 5.0) == ([], [])
    assert log_ticks(1e5, 2e6)[1] == ["50k", "100k", "200k", "500k", "1M", "2M", "5M"]


def test_point_labels_write_integers_as_integers():
    part = pd.DataFrame({"method": ["hnsw_flat"] * 2, "M": [16.0, 16.0], "ef_construction": [40.0, 40.0],
                         "ef_search": [16.0, 64.0]})
    assert point_labels(part) == ["ef_search=16", "ef_search=64"]


# -- integers and plain names --------------------------------------------------------------------------------


def test_integers_render_as_integers():
    assert [value_text(v) for v in (51.0, np.float64(8.0), np.int64(3), 7, 0.25, True, np.nan, None, "sq8")] == [
        "51", "8", "3", "7", "0.25", "True", "", "", "sq8"]
    frame = pd.DataFrame({"nlist": [51.0, np.nan], "recall": [0.5, 1.0], "name": ["a", "b"]})
    shown = integer_columns(frame)
    assert str(shown["nlist"].dtype) == "Int64" and shown["nlist"].iloc[0] == 51 and pd.isna(shown["nlist"].iloc[1])
    assert str(shown["recall"].dtype) == "float64"  # 1.0 and 0.5: not whole numbers
    assert str(frame["nlist"].dtype) == "float64"  # a copy: the rows themselves are untouched
    assert config_name("ivf_pq", {"nlist": 51.0, "m": 48.0, "nprobe": 8.0, "recall_at_k": 0.7}) == (
        "IVF-PQ · 51 clusters, 48 pieces, 8 clusters searched")


def test_every_method_has_a_plain_name_and_one_plain_sentence():
    for name in METHODS:
        assert display_name(name) != name or name in ("flat",), name
        sentence = plain_sentence(name)
        assert sentence == PLAIN[name] and sentence.endswith(".") and sentence.count(". ") == 0, name
        for jargon in ("x8np", "BFlat", "IndexRaBitQ", "qb=", "LeanVec-ID"):
            assert jargon not in sentence and jargon not in display_name(name), (name, jargon)
    assert config_name("binary", {"center": False, "rerank": 0}) == "Binary codes (sign bits)"
    assert config_name("binary", {"center": True, "rerank": 100}) == "Binary codes (sign bits) · centred, re-score 100"
    assert config_name("rabitq", {"nb_bits": 1, "qb": 8}) == "RaBitQ · 1 bit per number, query at 8 bits"


# -- the glossary on every page ------------------------------------------------------------------------------

TERMS = ("recall@k", "nDCG", "PQ", "IVF", "HNSW", "efSearch", "LID", "CKA", "isotropy", "hubness")
SYNTH = {"dataset": "synthetic", "params": {"n": 300, "dim": 16, "intrinsic_dim": 4, "noise": 0.0,
                                             "n_clusters": 3, "seed": 0},
         "encoder": "given-vectors", "encoder_options": {}}


def test_the_glossary_has_each_term_in_plain_sentences_with_whose_definition():
    names = [t.term for t in GLOSSARY]
    for term in TERMS:
        assert any(n.startswith(term) for n in names), term
    for t in GLOSSARY:
        assert t.plain.endswith(".") and len(t.plain) > 60 and t.source, t.term


def test_the_glossary_is_reachable_from_every_page(fresh_home):
    import ast

    import streamlit as st

    tree = ast.parse((ROOT / "app.py").read_text())  # the router's page list, read without running it
    (PAGES,) = [ast.literal_eval(node.value) for node in tree.body
                if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PAGES"]
    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["ws_spec"] = SYNTH
    at.run()
    pages = [path for entries in PAGES.values() for path, _, _ in entries if (ROOT / path).exists()]
    assert len(pages) >= 9
    for path in pages:
        at.switch_page(path).run()
        assert not at.exception, (path, [e.value for e in at.exception])
        boxes = [e for e in at.sidebar.expander if e.label.startswith("Glossary")]
        assert len(boxes) == 1, path
        text = "\n".join(m.value for m in boxes[0].markdown)
        for term in TERMS:
            assert f"**{term}" in text, (path, term)


# -- runs compared ----------------------------------------------------------------------------------------------


def test_two_compare_runs_compare_on_their_agreement_and_deltas_come_first():
    from core.store.compare import change_summary, compact_comparison, compare_runs

    a = pd.DataFrame({"id": ["x", "y", "z"], "agreement": [0.5, 0.2, 1.0]})
    b = pd.DataFrame({"id": ["x", "y", "z"], "agreement": [0.6, 0.2, 0.7]})
    table = compare_runs(a, b, "#1", "#2")
    assert list(table["Δ agreement"]) == pytest.approx([0.1, 0.0, -0.3])
    assert "share no result column" not in change_summary(table, "#1", "#2")
    sweep_a = pd.DataFrame({"method": ["pq", "ivf_flat"], "m": [8.0, np.nan], "nlist": [np.nan, 51.0],
                            "recall_at_k": [0.5, 0.9], "qps": [10.0, 20.0]})
    sweep_b = sweep_a.assign(recall_at_k=[0.55, 0.8])
    compact = compact_comparison(compare_runs(sweep_a, sweep_b, "#1", "#2"), "#1", "#2")
    assert list(compact.columns[:4]) == ["configuration", "Δ recall_at_k", "recall_at_k #1", "recall_at_k #2"]
    assert sorted(compact["configuration"]) == ["method=ivf_flat nlist=51", "method=pq m=8"]  # no None, no 8.0


# -- tables that fit ------------------------------------------------------------------------------------------


def test_table_widths_fit_the_budget_prose_wraps_first_and_short_columns_keep_theirs():
    from ui.tables import CHAR_PX, PAD_PX, fit_widths, fitting_columns, tail_cut

    frame = pd.DataFrame({"row": [43, 108], "id": ["asyncio.Future.remove_done_callback", "atexit"],
                          "text": ["Remove all instances of a callback from the call when done list. " * 4] * 2})
    widths, row_height = fit_widths(frame, 600)
    assert sum(widths.values()) <= 600
    assert widths["id"] == int(np.ceil(35 * CHAR_PX + PAD_PX))  # the id is whole
    assert widths["text"] < 600 and row_height is not None  # the text gave way, and wraps
    assert fit_widths(frame[["row", "id"]], 600) == ({"row": 50, "id": widths["id"]}, None)  # fits: natural widths
    many = pd.DataFrame({f"column {i}": [0.5] for i in range(20)})
    assert sum(fit_widths(many, 900)[0].values()) <= 900  # too many columns: all squeezed, still within the page
    shown, left = fitting_columns(pd.DataFrame({"a": [1], "empty": [None], "results_key": ["k"], **{
        f"m{i}": [1.5] for i in range(30)}}), budget=300)
    assert shown[0] == "a" and "empty" in left and "results_key" in left and len(shown) < 31
    assert tail_cut("asyncio.Future.remove_done_callback", 12) == "…ne_callback" and tail_cut("io", 12) == "io"
