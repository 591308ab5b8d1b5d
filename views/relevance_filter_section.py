"""The Query page's relevance-filtering section (not a page of its own): the mapped threshold and its curves.

`mapped_threshold_control` draws the global threshold on the query-adaptive mapped score (a field of
`ui.page_states.QueryState`, so it is in the URL) and returns this query's mapping, which the page's items
table uses to mark the results the threshold keeps; `relevance_filter_section` draws the held-out curves
of the mapped threshold, the raw cut-off and top-k. The mapping is fitted once per workspace and settings
(`st.cache_resource`): moving a slider or changing the query never refits it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from core.experiments.relevance_filter import (
    DEPTH,
    MAPPED,
    RAW,
    TEST_SIZE,
    TOP_K,
    QueryMapping,
    RelevanceFilterResult,
    query_mapping,
    relevance_filter,
    unavailable_reason,
)
from figures.relevance_filter import filter_curves_figure
from figures.text import markdown_text as esc
from ui.page_states import QueryState
from ui.shared import shared
from ui.state import page_state, publish_state

SPLIT_SEED = 0
PAPER = "*Relevance Filtering for Embedding-based Retrieval* (Rossi et al., Walmart, CIKM 2024)"


@dataclass(frozen=True)
class FilterView:
    """What the section shows: the fitted result and this query's mapping, or why there is none."""

    result: RelevanceFilterResult | None = None
    mapping: QueryMapping | None = None
    reason: str | None = None
    query_in_training: bool = False
    fit_key: tuple = ()  # what the fitted result depends on (embeddings and settings)

    def keeps(self, scores: np.ndarray) -> np.ndarray | None:
        """Which of this query's exact scores the mapped threshold keeps (``None`` when not offered)."""
        return None if self.mapping is None else self.mapping.keeps(scores)


@st.cache_resource(show_spinner="Fitting the relevance mapping on this dataset's judged queries…", max_entries=8)
def fitted_filter(embeddings_key: str, depth: int, seed: int, test_size: float, _ws) -> RelevanceFilterResult:
    """`relevance_filter` of a workspace, once per (embeddings, settings); the embeddings key covers the
    dataset's fingerprint (its queries and qrels) and the encoder."""
    return relevance_filter(_ws, depth=depth, seed=seed, test_size=test_size)


def mapped_threshold_control(ws, exact, *, own_base: bool = True, query_id: str | None = None) -> FilterView:
    """The mapped-threshold slider (where the dataset has judgments) and this query's mapping.

    ``exact``: the page's `ExactReference` of the query over the base searched; ``own_base`` is false when
    the page searches an experiment's base (held-out items removed), where the mapping does not apply.
    """
    reason = unavailable_reason(ws)
    if reason is None and not own_base:
        reason = "the page searches an experiment's base with items held out, not the dataset's own base"
    if reason is not None:
        return FilterView(reason=reason)
    try:
        result = fitted_filter(ws.embeddings_key, DEPTH, SPLIT_SEED, TEST_SIZE, ws)
    except ValueError as exc:
        return FilterView(reason=str(exc))
    state: QueryState = page_state(QueryState)
    if "query_filter_threshold" not in st.session_state:
        linked = state.filter_threshold
        st.session_state["query_filter_threshold"] = round(linked if linked is not None else result.train_threshold, 3)
    threshold = float(st.slider(
        "Mapped threshold: minimum mapped relevance score", 0.001, 0.999, step=0.001, format="%.3f",
        key="query_filter_threshold",
        help="Query-adaptive relevance filtering (Rossi et al. 2024): each query's scores are mapped to a relevance "
             "score in 0–1 by a mapping fitted on this dataset's judged queries, and one threshold cuts every "
             f"query. It opens on {result.train_threshold:.3f}, the best F1 on the training queries.",
    ))
    publish_state(state.replace(filter_threshold=round(threshold, 6)))
    try:
        mapping = query_mapping(result, exact.scores, threshold, exact.excluded)
    except ValueError as exc:
        return FilterView(result=result, reason=str(exc), fit_key=(ws.embeddings_key, DEPTH, SPLIT_SEED, TEST_SIZE))
    return FilterView(result, mapping, query_in_training=query_id is not None and query_id in set(result.train_ids),
                      fit_key=(ws.embeddings_key, DEPTH, SPLIT_SEED, TEST_SIZE))


def mapped_caption(view: FilterView) -> str:
    """What the items table's *mapped* column means (empty when it is not shown)."""
    if view.mapping is None:
        return ""
    return (f" ✓ in *mapped*: its mapped relevance score passes the mapped threshold {view.mapping.threshold:.3f} "
            "(query-adaptive filtering, see *Relevance filtering* below).")


def teaching_sentence(result: RelevanceFilterResult) -> str:
    """The section's opening: the method, the split, and the gain at the raw cut-off's best-F1 recall."""
    recall, raw_p, mapped_p = result.gain_at_raw_best()
    best = result.best_f1().set_index("method")["best_f1"]
    return (
        f"Which of a query's results are worth keeping? Following {PAPER}, each query's raw scores are mapped through "
        "a query-dependent function (their *Cosine Adapter*; here sigmoid(a·score + b), with a and b computed from "
        f"the query's own top-{result.depth} scores) and one global threshold cuts every query. The chart compares it "
        "with one "
        f"raw cut-off and with top-k on **{len(result.test_ids):,}** judged queries the mapping never saw (it was "
        f"fitted on the other **{len(result.train_ids):,}**): at recall **{recall:.2f}**, where the raw cut-off's F1 "
        f"is best, **{raw_p:.0%}** of the raw cut-off's results are relevant and "
        f"**{mapped_p:.0%}** of the mapped threshold's; best F1 {best[MAPPED]:.3f} mapped, {best[RAW]:.3f} raw "
        f"cut-off, {best[TOP_K]:.3f} top-k."
    )


def this_query_sentence(view: FilterView, exact, cutoff: float | None) -> str:
    m = view.mapping
    kept = int(m.keeps(exact.scores[exact.top_rows]).sum())
    side = "at most" if m.metric == "l2" else "at least"
    text = (f"For this query the mapped threshold {m.threshold:.3f} amounts to a raw score of {side} "
            f"**{m.raw_cut_off:.4f}**" + (f" (the cut-off slider is at {cutoff:.4f})" if cutoff is not None else "")
            + f"; it keeps **{kept}** of the exact top-{exact.k}.")
    if view.query_in_training:
        text += " This query is one of the mapping's training queries, so its marks are not a held-out test."
    return text


def relevance_filter_section(view: FilterView, exact, cutoff: float | None) -> None:
    """The section: what relevance filtering does here and its held-out curves, or why it is not offered."""
    st.subheader("Relevance filtering")
    if view.result is None:
        st.info(f"Relevance filtering with a query-adaptive mapping ({PAPER}) is not available here: "
                f"{esc(view.reason)}.")
        return
    result = view.result
    st.markdown(teaching_sentence(result))
    if view.mapping is not None:
        st.markdown(this_query_sentence(view, exact, cutoff))
    elif view.reason:
        st.caption(f"This query's results are not marked: {esc(view.reason)}.")
    points = result.operating_points(view.mapping.threshold if view.mapping else result.train_threshold, cutoff)
    marks = (view.mapping.threshold if view.mapping else result.train_threshold, cutoff)
    st.plotly_chart(shared("query.filter_curves", (*view.fit_key, *marks),
                           lambda: filter_curves_figure(result.rows(), points)), key="query_filter_curves")
    st.caption("Precision and recall of the results kept, pooled over the held-out queries (each query's candidates "
               f"are its exact top-{result.depth}; recall counts every document judged relevant). Higher at the same "
               "recall is better. The diamonds mark the page's mapped threshold and raw cut-off on these queries.")
    honest = result.at_training_thresholds()
    st.caption("Best F1 above is taken on the held-out curve itself, an upper bound for each method alike. At the "
               "thresholds of best F1 on the training queries, on the held-out ones: "
               + "; ".join(f"{r.method} {r.threshold:.3f} gives F1 {r.f1:.3f} (precision {r.precision:.3f}, "
                           f"recall {r.recall:.3f})" for r in honest.itertuples()) + ".")
