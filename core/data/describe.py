"""Descriptive numbers for a dataset card: norms, categories, samples."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from core.data.dataset import Dataset


def vector_norms(x: np.ndarray) -> np.ndarray:
    """L2 norm of each row of ``x`` ``(n, d)`` -> ``(n,)`` float32."""

    return np.linalg.norm(np.asarray(x, dtype=np.float32), axis=1)


def norm_summary(norms: np.ndarray) -> dict:
    norms = np.asarray(norms, dtype=float)
    return {
        "min": float(norms.min()), "median": float(np.median(norms)), "max": float(norms.max()),
        "zero": int((norms == 0).sum()),
        "unit": bool(np.allclose(norms, 1.0, atol=1e-3)),
    }


def category_table(labels: list[str] | None) -> pd.DataFrame:
    """Categories with their sizes and shares, largest first (empty when unlabelled)."""
    if not labels:
        return pd.DataFrame(columns=["category", "items", "share"])
    counts = Counter(labels).most_common()
    n = len(labels)
    return pd.DataFrame(
        [{"category": str(c), "items": k, "share": k / n} for c, k in counts]
    )


def sample_table(ds: Dataset, n: int = 8, seed: int = 0, width: int = 300) -> pd.DataFrame:
    """A seeded random sample of items (id, label, text snippet) for display."""
    rows = np.sort(np.random.default_rng(seed).choice(ds.n, size=min(n, ds.n), replace=False))
    out = []
    for i in rows:
        rec = {"row": int(i), "id": ds.ids[i]}
        if ds.labels is not None:
            rec["category"] = ds.labels[i]
        if ds.texts is not None or ds.titles is not None:
            t = ds.display_text(int(i))
            rec["text"] = t if len(t) <= width else t[: width - 1] + "…"
        out.append(rec)
    return pd.DataFrame(out)


def query_table(ds: Dataset, n: int = 5, seed: int = 0, width: int = 200) -> pd.DataFrame:
    """A sample of the dataset's queries with their relevant ids."""
    if ds.queries is None or len(ds.queries) == 0:
        return pd.DataFrame(columns=["query id", "query", "relevant"])
    nq = len(ds.queries)
    rows = np.sort(np.random.default_rng(seed).choice(nq, size=min(n, nq), replace=False))
    out = []
    for i in rows:
        qid = ds.queries.ids[i]
        text = ds.queries.texts[i] if ds.queries.texts is not None else "(vector)"
        rel = ", ".join(sorted((ds.qrels or {}).get(qid, {}))[:3])
        out.append({"query id": qid, "query": text[:width], "relevant": rel})
    return pd.DataFrame(out)
