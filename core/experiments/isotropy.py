"""Isotropy before and after post-processing (Mu & Viswanath's all-but-the-top, PCA whitening).

`isotropy_before_after` opens a space and its underived base (``minilm:abtt=3`` and ``minilm``) and measures
both: the isotropy score of Mu & Viswanath (``min_c Z(c) / max_c Z(c)``, 1 = even), the mean pairwise cosine,
the variance share of the top principal component(s) (`core.analysis.spaces`) and, where the dataset has
queries with relevance judgments, exact-search nDCG@10 and MRR@10 of each -- so a person sees whether a more
isotropic space also retrieves better.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from core.analysis.spaces import isotropy_score, mean_pairwise_cosine
from core.experiments.spaces import CKA_SAMPLE, SpaceSpec, open_space, space_retrieval
from core.progress import ProgressFn

#: Derivations that post-process a space toward isotropy.
ISOTROPY_DERIVATIONS = ("abtt", "whiten")


def is_isotropy_space(text: str) -> bool:
    """Whether ``text`` names an all-but-the-top or whitened space."""
    try:
        return SpaceSpec.parse(text).derivation in ISOTROPY_DERIVATIONS
    except ValueError:
        return False


def _variance_shares(x: np.ndarray) -> np.ndarray:
    xd = np.asarray(x, dtype=np.float64)
    var = np.linalg.svd(xd - xd.mean(axis=0), compute_uv=False) ** 2
    return var / var.sum() if var.sum() > 0 else np.zeros_like(var)


def space_isotropy_row(space, qrels, *, seed: int = 0) -> dict:
    """One space's isotropy measures (on a seeded sample of at most `CKA_SAMPLE` items) and task quality."""
    x = space.x
    n = x.shape[0]
    rows = np.sort(np.random.default_rng(seed).choice(n, CKA_SAMPLE, replace=False)) if n > CKA_SAMPLE else None
    xs = x if rows is None else x[rows]
    share = _variance_shares(xs)
    ret = space_retrieval(space, qrels)
    return {"space": space.spec.label, "dim": int(x.shape[1]), "isotropy": isotropy_score(xs),
            "mean_cosine": mean_pairwise_cosine(xs), "top1_variance": float(share[:1].sum()),
            "top10_variance": float(share[:10].sum()),
            "ndcg_at_10": float("nan") if ret is None else ret.ndcg_at_10,
            "mrr_at_10": float("nan") if ret is None else ret.mrr_at_10, "sample": int(xs.shape[0])}


def isotropy_before_after(dataset, text: str, *, dataset_params: dict | None = None,
                          progress: ProgressFn | None = None, seed: int = 0) -> pd.DataFrame:
    """Two rows, ``before`` (the space without its derivation) and ``after`` (the space itself); see the
    module docstring for the columns. ValueError when ``text`` is not an isotropy post-processing."""
    spec = SpaceSpec.parse(text)
    if spec.derivation not in ISOTROPY_DERIVATIONS:
        raise ValueError(f"{spec.label} is not an isotropy post-processing; write ENCODER:abtt=N or ENCODER:whiten")
    after = open_space(dataset, spec, dataset_params=dataset_params, progress=progress)
    before = open_space(dataset, replace(spec, derivation=None, dims=None), dataset_params=dataset_params,
                        progress=progress)
    ds = before.ws.dataset
    qrels = before.ws.eval_set().qrels if ds.has_qrels and ds.queries is not None else None
    out = pd.DataFrame([{"when": "before", **space_isotropy_row(before, qrels, seed=seed)},
                        {"when": "after", **space_isotropy_row(after, qrels, seed=seed)}])
    return out
