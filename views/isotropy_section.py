"""Compare spaces' section on isotropy post-processing (not a page of its own): for a space written
``ENCODER:abtt=N`` or ``ENCODER:whiten``, its isotropy and task quality before and after
(`core.experiments.isotropy.isotropy_before_after`)."""

from __future__ import annotations

import json
import math

import streamlit as st

from core.experiments.isotropy import is_isotropy_space, isotropy_before_after
from figures.text import markdown_text as esc

COLUMNS = {"when": "", "space": "space", "dim": "dims", "isotropy": "isotropy", "mean_cosine": "mean cosine",
           "top1_variance": "top PC variance", "top10_variance": "top-10 PC variance", "ndcg_at_10": "nDCG@10",
           "mrr_at_10": "MRR@10"}


@st.cache_data(show_spinner=False, max_entries=16)
def _before_after(dataset: str, params: str, text: str):
    return isotropy_before_after(dataset, text, dataset_params=json.loads(params))


def isotropy_section(dataset: str, params_json: str, spaces: list[str]) -> None:
    """Draw the before/after table of each isotropy space among ``spaces`` (nothing when there is none)."""
    chosen = [s for s in dict.fromkeys(spaces) if is_isotropy_space(s)]
    if not chosen:
        return
    st.subheader("Isotropy before and after post-processing")
    st.markdown(
        "All-but-the-top (Mu & Viswanath 2018) subtracts the common mean and removes the top principal directions "
        "that every vector shares; whitening rescales every principal direction to unit variance. Both are fitted "
        "on the base vectors and applied to the queries too, then vectors are renormalised for cosine search. "
        "Does the space spread more evenly, and does it retrieve better?"
    )
    for text in chosen:
        try:
            with st.spinner(f"Measuring {text} before and after…"):
                table = _before_after(dataset, params_json, text)
        except ValueError as exc:
            st.error(f"Cannot measure {esc(text)}: {esc(exc)}")
            continue
        before, after = table.iloc[0], table.iloc[1]
        c1, c2, c3 = st.columns(3)
        c1.metric(f"isotropy of {after['space']}", f"{after['isotropy']:.3f}",
                  f"{after['isotropy'] - before['isotropy']:+.3f} vs {before['space']}")
        c2.metric("mean pairwise cosine", f"{after['mean_cosine']:.4f}",
                  f"{after['mean_cosine'] - before['mean_cosine']:+.4f}", delta_color="inverse")
        if not math.isnan(after["ndcg_at_10"]):
            c3.metric("nDCG@10 (exact search)", f"{after['ndcg_at_10']:.3f}",
                      f"{after['ndcg_at_10'] - before['ndcg_at_10']:+.3f}")
        shown = table[[c for c in COLUMNS if c in table and table[c].notna().any()]].rename(columns=COLUMNS)
        st.dataframe(shown.round(4), hide_index=True, key=f"isotropy_{text}")
    st.caption("isotropy: Mu & Viswanath's min_c Z(c) / max_c Z(c) over the principal directions (1 = even); "
               "mean cosine over all pairs; variance shares of the centred space's top principal components — on a "
               "seeded sample of at most 20,000 items. nDCG@10 and MRR@10: exact search on the dataset's judged "
               "queries (trec_eval's definitions).")
