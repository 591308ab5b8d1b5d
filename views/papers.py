"""What the papers found: each seed paper's claim, its number, this workspace's number and a verdict by a rule."""

import json
from html import escape

import streamlit as st

from core.config import store_path
from core.experiments.papers import CLAIMS, FAILS, HOLDS, NOT_RUN, check_claims, claim_run_ids
from figures.text import markdown_text as esc
from ui.page_states import PAGE_STATES, PapersState
from ui.state import page_state, publish_state, require_workspace, state_link, streamlit_progress

BADGE = {HOLDS: ":green-badge[holds here]", FAILS: ":red-badge[does not hold here]",
         NOT_RUN: ":gray-badge[not run yet]"}
PAGE_NAMES = {"order": "HNSW insertion order", "compression": "Compression", "query": "Query",
              "spaces": "Compare spaces", "map": "Embedding map"}
#: The page where each prepare step's run is started by hand.
STEP_PAGES = {"order": "order", "vs_id": "order", "sweep": "compression", "spaces": "spaces"}

st.title("What the papers found")
ws = require_workspace()
state: PapersState = page_state(PapersState)
publish_state(state)
st.markdown(
    f"The papers behind each page made claims; do they hold on **{esc(ws.dataset.name)}** encoded with "
    f"**{esc(ws.encoder_name)}**? Each row below is one claim in a sentence, the paper's number, this workspace's "
    "number from a saved run, and a verdict computed from them by the rule written under it — so you can disagree "
    "with the rule, not with the arithmetic. A claim that does not hold here is a finding too: small data, another "
    "encoder, another budget."
)


@st.cache_data(show_spinner=False, max_entries=16)
def verdicts(embeddings_key: str, store: str, run_ids_json: str, _ws) -> list:
    """The verdicts, judged once per set of runs (every session shares them)."""
    return check_claims(_ws, run_ids=json.loads(run_ids_json))


def run_step(step: str) -> None:
    from core.experiments.demo import STEPS, prepare_demo

    what = dict(STEPS)[step]
    update, bar = streamlit_progress(f"Computing {what}")
    try:
        prepare_demo(ws, bar=lambda label: (update, lambda: None), say=lambda line: None, steps=(step,))
    except (ValueError, RuntimeError, OSError) as exc:
        bar.empty()
        st.error(f"{esc(what)} failed, nothing was saved: {esc(exc)}")
        return
    bar.empty()
    st.session_state["papers_done"] = f"Saved {what}; the verdicts below read it."
    st.rerun()


if not ws.has_embeddings():
    st.info("This workspace is not encoded yet: encode it on the Data page, then the claims can be checked here.")
    st.stop()
try:
    run_ids = claim_run_ids(ws)
    judged = verdicts(ws.embeddings_key, str(store_path()), json.dumps(run_ids, sort_keys=True), ws)
except (ValueError, OSError) as exc:
    st.error(f"The saved runs cannot be judged: {esc(exc)}.")
    st.stop()
if "papers_done" in st.session_state:
    st.success(esc(st.session_state.pop("papers_done")))

counts = {s: sum(v.status == s for _, v, _ in judged) for s in (HOLDS, FAILS, NOT_RUN)}
c1, c2, c3 = st.columns(3)
c1.metric("Hold here", counts[HOLDS])
c2.metric("Do not hold here", counts[FAILS])
c3.metric("Not run yet", counts[NOT_RUN])

for claim, verdict, run_id in judged:
    with st.container(border=True, key=f"papers_claim_{claim.key}"):
        st.markdown(f"{BADGE[verdict.status]} **{esc(claim.paper)}** — {esc(claim.claim)}")
        paper, ours = st.columns(2)
        paper.markdown(f"**The paper:** {esc(claim.paper_number)}")
        ours.markdown(f"**Here:** {esc(verdict.ours) if verdict.ours else '—'}"
                      + (f" (run #{run_id})" if run_id is not None else ""))
        st.markdown(esc(verdict.sentence))
        st.caption(f"**Rule.** {esc(claim.rule)}")
        if verdict.view is not None:
            page, fields = verdict.view
            href = escape(state_link(PAGE_STATES[page](**fields)), quote=True)
            st.markdown(f'<a href="{href}" target="_self" data-claim="{escape(claim.key, quote=True)}">'
                        f'See it on {escape(PAGE_NAMES.get(page, page))} →</a>', unsafe_allow_html=True)
        if verdict.status == NOT_RUN:
            b1, b2 = st.columns([1, 3], vertical_alignment="center")
            if b1.button("Run it here", key=f"papers_run_{claim.key}",
                         help="Computes and saves the run this claim reads, on this workspace."):
                run_step(claim.step)
            where = STEP_PAGES.get(claim.step)
            b2.caption("Or from the command line: `densescope prepare` saves every run these verdicts read for the "
                       "demo (stdlib-docs with MiniLM)"
                       + (f"; the {PAGE_NAMES[where]} page runs it on any workspace." if where else "."))

st.caption("Numbers are measured on this workspace: recall against exact search on the same vectors, memory as "
           "measured bytes per vector, queries per second in one process. The claims and the papers' numbers are "
           "from the references the app is built on (REFERENCES: Elliott & Clark 2024; Zhang et al., PVLDB 2024; "
           "LeanVec, TMLR 2024; BEBR; Relevance Filtering for EBR; Li, Yosinski et al. 2015; DefSent+ and "
           f"Mu & Viswanath 2018). {len(CLAIMS)} claims.")
