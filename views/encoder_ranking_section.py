"""The Order page's section on encoder rankings under HNSW and exact search (not a page of its own).

`encoder_ranking_section(ws)` draws it: the spaces to rank and the metric (fields of `OrderState`), a button
that runs `core.experiments.encoder_ranking.rank_encoders` with progress and saves the run, then the saved
run: the slope chart, both rankings side by side, Kendall's τ per HNSW setting.
"""

from __future__ import annotations

import time

import streamlit as st

from core.encode.registry import visitor_may_use
from core.experiments.encoder_ranking import (
    DEFAULT_SPACES,
    KIND,
    METRICS,
    RankingParams,
    check_ranking_inputs,
    judged_queries,
    latest_ranking_run,
    load_ranking_rows,
    rank_encoders,
    ranking_agreement,
    ranking_long,
    ranking_run_params,
    ranking_sentences,
    ranking_table,
    split_spaces,
)
from core.experiments.spaces import SpaceSpec
from core.store.runs import RunStore
from figures.encoder_ranking import rank_slope_figure
from figures.text import markdown_text as esc
from ui.page_states import OrderState
from ui.recorded_run import run_recorded
from ui.state import page_state, publish_state, run_to_show

#: Spaces offered beside the defaults: the isotropy post-processings and a harder truncation.
EXTRA_SPACES = ("minilm:abtt=1", "minilm:abtt=5", "minilm:whiten", "minilm:truncate=32", "tfidf-svd:abtt=3",
                "tfidf-svd:truncate=64")


def _belongs(ws):
    fingerprint = ws.dataset.fingerprint()
    return lambda run: (run is not None and run.kind == KIND
                        and run.params.get("dataset_fingerprint") == fingerprint)


def _visitor_may_rank(text: str) -> bool:
    """A space from a link may be ranked when it parses and its encoder is one a visitor may open
    (a registered name, or a model folder inside the operator's roots: `visitor_may_use`)."""
    try:
        spec = SpaceSpec.parse(text)
    except ValueError:
        return False
    return visitor_may_use(spec.encoder)


def encoder_ranking_section(ws) -> None:
    st.subheader("Does approximate search change which encoder wins?")
    st.markdown(
        "Benchmarks rank embedding models by a task score computed with *exact* search, but a deployment searches "
        "an HNSW graph. Elliott & Clark (2024) found that evaluating with HNSW at vector-database defaults "
        "(M=16, efConstruction=128, efSearch 10 and 40) instead of exact search moved a model up to three places. "
        "Here each space of this dataset is scored by nDCG@10 and MRR@10 (trec_eval's definitions) with both, "
        "and the rankings are set side by side: a line that crosses another in the chart is a rank HNSW changed."
    )
    ds = ws.dataset
    if ds.kind != "text":
        st.info("This dataset's vectors are given: there is one space only, nothing to rank. Pick a text dataset "
                "with queries and relevance judgments (stdlib-docs, a BEIR folder).")
        return
    try:
        _, judged = judged_queries(ws)
    except ValueError as exc:
        st.info(f"Ranking encoders needs relevance judgments: {esc(exc)}")
        return
    state: OrderState = page_state(OrderState)
    options = list(dict.fromkeys([*DEFAULT_SPACES, *EXTRA_SPACES]))
    linked = split_spaces(state.rank_spaces) if state.rank_spaces else list(DEFAULT_SPACES)
    refused = [s for s in linked if not _visitor_may_rank(s)]
    if refused and "rank_spaces" not in st.session_state:
        st.warning(f"The link's spaces {esc(', '.join(refused))} are not encoders this server offers; left out.")
    linked = [s for s in linked if s not in refused] or list(DEFAULT_SPACES)
    options += [s for s in linked if s not in options]
    c1, c2, c3 = st.columns([4, 1.2, 1], vertical_alignment="bottom")
    spaces = c1.multiselect("Spaces to rank", options, default=linked, key="rank_spaces",
                            help="An encoder, its options or a derived space, as on Compare spaces: "
                                 "(pooling=cls) pools the CLS token, :truncate=N keeps the first N dimensions, "
                                 ":abtt=N removes the mean and top N principal directions, :whiten whitens.")
    metric = c2.selectbox("Ranked by", list(METRICS), format_func=METRICS.get, key="rank_metric",
                          index=list(METRICS).index(state.rank_metric))
    clicked = c3.button("Rank the spaces", key="rank_encoders_run", type="primary")
    state = state.replace(rank_spaces=";".join(spaces), rank_metric=metric)
    publish_state(state)
    try:
        params = RankingParams(spaces=tuple(spaces))
    except ValueError as exc:
        st.error(f"Cannot rank these spaces: {esc(exc)}")
        return
    st.caption(f"{len(judged):,} judged queries over {ds.n:,} passages; HNSW (faiss, built on one thread in the "
               f"items' order) at M={params.M}, efConstruction={params.ef_construction}, efSearch "
               f"{', '.join(map(str, params.ef_search))}. A space whose encoder has not encoded this dataset yet is "
               "encoded first (minutes for a transformer on a few cores), then cached for every page; derived "
               "spaces reuse their encoder's vectors.")
    if clicked:
        _run(ws, params)
    run_id = run_to_show("rank_run_id", state.rank_run, latest_ranking_run(ws), _belongs(ws))
    if run_id is None:
        st.info("No saved ranking for this dataset yet: press **Rank the spaces**.")
        return
    _show(run_id, metric)


def _run(ws, params: RankingParams) -> None:
    def ranking(update, on_row) -> int:
        check_ranking_inputs(ws.dataset, params)
        with RunStore().recording(KIND, ws.dataset.name, ", ".join(params.spaces),
                                  ranking_run_params(ws, params)) as rec:
            for row in rank_encoders(ws.dataset, params, progress=update, recorder=rec):
                on_row(row)
        return rec.run_id

    finished = run_recorded(f"Ranking {len(params.spaces)} spaces…", "Encoder ranking", ranking,
                            stopped="The ranking stopped", cannot="Cannot rank these spaces",
                            errors=(ValueError, OSError, RuntimeError))
    if finished is not None:
        st.session_state["rank_run_id"] = finished.run_id


def _show(run_id: int, metric: str) -> None:
    run = RunStore().get_run(run_id)
    rows = load_ranking_rows(run_id)
    publish_state(page_state(OrderState).replace(rank_run=run_id))
    if rows.empty:
        st.info(f"Run #{run_id} saved no rows.")
        return
    name = METRICS[metric]
    p = run.params
    st.caption(f"Run #{run.id} · {time.strftime('%Y-%m-%d %H:%M', time.localtime(run.started))} · "
               f"{rows['space'].nunique()} spaces · "
               f"{int(rows['n_queries'].iloc[0]):,} judged queries over {int(rows['n_base'].iloc[0]):,} items · "
               f"M={p.get('M')}, efConstruction={p.get('ef_construction')} · {run.status}.")
    st.plotly_chart(rank_slope_figure(ranking_long(rows, metric), metric_name=name), key="rank_chart")
    agreement = ranking_agreement(rows, metric)
    st.dataframe(agreement.rename(columns={
        "search": "HNSW setting", "kendall_tau": "Kendall τ", "max_change": "largest move",
        "spaces_moved": "spaces moved", "winner_exact": "winner (exact)", "winner_hnsw": "winner (HNSW)",
        "mean_recall": "mean recall@10"}).round(3), hide_index=True, key="rank_agreement")
    st.caption("Kendall's τ-b between the exact scores and the HNSW scores of the same spaces: 1 = the same "
               "order, −1 = reversed. Recall@10 is HNSW's against exact search on the same vectors.")
    for sentence in ranking_sentences(rows, metric):
        st.markdown("- " + esc(sentence))
    st.dataframe(ranking_table(rows, metric).round(3), hide_index=True, key="rank_table")
    st.caption("change: places a space moved under HNSW (+ up, − down). Ties share a rank.")
