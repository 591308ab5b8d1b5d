"""The glossary: the words the pages use, each in plain sentences, each saying whose definition the
project follows. Reachable from every page (a sidebar expander drawn by `ui.sidebar.workspace_picker`).

The text is data here (`GLOSSARY`) so a test can check every term is there; `show_glossary` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True)
class Term:
    term: str
    plain: str  # what it means, in plain sentences
    source: str  # whose definition the project follows


GLOSSARY: tuple[Term, ...] = (
    Term("recall@k", "Of the k items exact search returns for a query, the share an index also returns in its "
         "own top k. 1.0 means it found all of them; it says nothing about whether those items were relevant.",
         "ann-benchmarks' k-nn recall (an item counts by id; the distance form, ties within 1e-3 of the k-th "
         "distance, is offered beside it)."),
    Term("nDCG@10", "How high the items a person judged relevant appear in the first 10 results: a relevant item "
         "at rank 1 counts fully, lower ranks count less (divided by log2 of rank + 1), and the sum is divided "
         "by the best possible ranking's, so 1.0 is a perfect order.",
         "trec_eval's ndcg_cut.10 (graded judgments keep their grade as the gain)."),
    Term("MRR@10", "One over the rank of the first relevant result (1 for first, 0.5 for second, 0 if none in the "
         "top 10), averaged over the queries.", "trec_eval's recip_rank, cut at 10."),
    Term("PQ (product quantization)", "Each vector is cut into m pieces and each piece is replaced by the number "
         "of its nearest of 256 patterns learned from the data, so a vector takes m bytes. Distances are "
         "estimated from the patterns, so results are approximate.",
         "Jégou, Douze & Schmid, 'Product quantization for nearest neighbor search' (2011), as faiss builds it."),
    Term("IVF (inverted file)", "The vectors are grouped into nlist clusters by k-means; a query is compared only "
         "with the vectors of its nprobe nearest clusters. More clusters searched: better recall, slower.",
         "faiss IndexIVF (Jégou et al. 2011)."),
    Term("HNSW", "A graph linking every vector to about M near neighbours, in layers from coarse to fine; a search "
         "walks the graph greedily towards the query. Fast and accurate, but the graph costs memory.",
         "Malkov & Yashunin, 'Efficient and robust approximate nearest neighbor search using Hierarchical "
         "Navigable Small World graphs' (2018), as faiss and hnswlib build it."),
    Term("efSearch", "How many candidates HNSW keeps while it walks the graph for one query. Larger finds more of "
         "the true neighbours and takes longer; it must be at least k.",
         "Malkov & Yashunin 2018 (ef); faiss's efSearch."),
    Term("LID (local intrinsic dimension)", "How many directions the data really spreads in around one point, "
         "judged from how fast the distances to its nearest neighbours grow. A flat sheet in 384 dimensions "
         "still has LID about 2.",
         "the maximum-likelihood estimator of Levina & Bickel (2005) in the form of Amsaleg et al. (2015)."),
    Term("CKA (linear centred kernel alignment)", "How alike two sets of vectors for the same items are, from 0 "
         "(unrelated) to 1 (the same up to rotation and scale). It compares the whole geometry, not single "
         "neighbours.", "Kornblith et al., 'Similarity of Neural Network Representations Revisited' (ICML 2019)."),
    Term("isotropy", "Whether vectors spread evenly in every direction (1) or all point roughly one way (near 0). "
         "Embeddings from language models are often far from isotropic, which crowds their neighbours.",
         "Mu & Viswanath, 'All-but-the-Top' (2018): the partition-function ratio over principal directions "
         "(Arora et al. 2016)."),
    Term("hubness", "In many dimensions a few items turn up in very many other items' neighbour lists (hubs) "
         "while others appear in none. Measured as the skew of the k-occurrence: how often each item is "
         "among the others' k nearest neighbours (N10 for k = 10).",
         "Radovanović, Nanopoulos & Ivanović, 'Hubs in Space' (JMLR 2010)."),
)


def glossary_markdown() -> str:
    """The glossary as markdown: one paragraph per term (the text is the project's, not a visitor's)."""
    return "\n\n".join(f"**{t.term}**: {t.plain} *Definition: {t.source}*" for t in GLOSSARY)


def show_glossary(where=st.sidebar) -> None:
    """The glossary, folded, at ``where`` (the sidebar: every page has it)."""
    with where.expander("Glossary: the words these pages use", expanded=False):
        st.markdown(glossary_markdown())
