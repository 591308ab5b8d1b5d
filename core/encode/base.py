"""The `Encoder` contract (texts -> float32 unit vectors, a name, a dimension, a cache key) and shared checks."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from core.progress import ProgressFn

Kind = Literal["passage", "query"]


# ---------------------------------------------------------------------------
# Base class
# ---------------------------------------------------------------------------


class Encoder(ABC):
    """Turns texts into float32 ``(n, dim)`` arrays of unit-norm rows.

    Attributes:
        name: short name shown in the app (``"minilm"``, ``"glove-avg"``, ...).
        dim: dimension of the vectors `encode` returns.
        needs_fit: ``True`` when the encoder must see the corpus (`fit`) first.
    """

    name: str
    dim: int
    needs_fit: bool = False

    @abstractmethod
    def config(self) -> dict[str, Any]:
        """JSON-serialisable settings; equal configs give equal vectors (cache keys)."""

    def fit(self, texts: Sequence[str]) -> Encoder:
        """Learn from the corpus (no-op for pretrained encoders); returns ``self``."""
        return self

    def config_for(self, texts: Sequence[str]) -> dict[str, Any]:
        """The `config` this encoder will have once fitted on ``texts``, without fitting it.

        A cache key must not cost a fit: the pages ask whether embeddings exist on every view.
        """
        return self.config()

    def encode(
        self,
        texts: Sequence[str],
        *,
        kind: Kind = "passage",
        batch_size: int | None = None,
        progress: ProgressFn | None = None,
    ) -> np.ndarray:
        """Encode texts as float32 ``(n, dim)`` unit vectors, in input order.

        Args:
            texts: the strings to encode; an empty sequence gives ``(0, dim)``.
            kind: ``"query"`` or ``"passage"`` (models with prefixes use them).
            batch_size: texts per batch (``None``: the encoder's default).
            progress: called as ``progress(done, total, message)`` after each batch.
        """
        texts = check_texts(texts)
        if kind not in ("passage", "query"):
            raise ValueError(f"kind must be 'passage' or 'query', got {kind!r}")
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode(texts, kind=kind, batch_size=batch_size, progress=progress)

    @abstractmethod
    def _encode(
        self, texts: list[str], *, kind: Kind, batch_size: int | None, progress: ProgressFn | None
    ) -> np.ndarray:
        """Encode a validated, non-empty list of texts."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim})"


def check_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise ValueError("texts must be a list of strings, not one string (wrap it: [text])")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"texts[{i}] is a {type(t).__name__}, not a string")
    return texts


def normalize_rows_inplace(x: np.ndarray) -> np.ndarray:
    """L2-normalise rows in place (rows of norm 0 are left as they are)."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.divide(x, norms, out=x, where=norms > 0)
    return x


def hash_texts(texts: Sequence[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass") + b"\x00")
    return h.hexdigest()[:16]


def file_fingerprint(folder: Path, names: Sequence[str], patterns: Sequence[str]) -> str:
    """Hash of the named small files' contents plus the sizes of files matching patterns."""
    h = hashlib.sha256()
    for name in names:
        path = folder / name
        if path.is_file():
            h.update(name.encode() + b"\x00" + path.read_bytes())
    for pattern in patterns:
        for path in sorted(folder.glob(pattern)):
            h.update(f"{path.name}\x00{path.stat().st_size}\x00".encode())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------

ENCODERS: dict[str, str] = {
    "minilm": "all-MiniLM-L6-v2 (bundled): 384-d sentence embeddings, 6 layers, mean pooling",
    "glove-avg": "average of GloVe 6B 50-d word vectors: a static, context-free baseline",
    "tfidf-svd": "TF-IDF + truncated SVD (LSA) fitted on the corpus: a lexical baseline",
}
