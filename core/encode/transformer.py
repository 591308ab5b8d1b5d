"""`TransformerEncoder`: a local sentence-transformers model folder run with torch + transformers.

Pooling is read from the folder's ``modules.json``; texts are sorted by token count and batched by a
token budget (little padding); weights load on first use, so opening an encoded workspace only reads
the folder's JSON for its cache key. No hub downloads, never ``trust_remote_code``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from core import config as _config
from core.encode.base import ENCODERS, Encoder, Kind, file_fingerprint
from core.progress import ProgressFn, report

Pooling = Literal["auto", "mean", "cls"]

#: Weight files of a Hugging Face model folder (any one is enough).
_WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model.bin", "pytorch_model.bin.index.json")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_DTYPES = ("float32", "float16", "bfloat16")


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


#: Folder names that say nothing about the model inside (packages ship their weights as ``model/``).
GENERIC_FOLDER_NAMES = {"model", "models", "weights", "checkpoint", "snapshot", "files", "hf", "transformer"}


def local_model_name(folder: Path) -> str:
    """A name for a local model folder that says which model it is: the folder's name, or for a generic
    one (``model/``) the hub id its model card loads (``SentenceTransformer('org/name')``), its card's
    title, or its parent folder's name."""
    import re

    if folder.name.lower() not in GENERIC_FOLDER_NAMES:
        return folder.name
    try:
        card = (folder / "README.md").read_text(encoding="utf-8", errors="replace")[:20_000]
    except OSError:
        card = ""
    hub = re.search(r"""(?:SentenceTransformer|from_pretrained)\(\s*['"]([\w.-]+/[\w.-]+)['"]""", card)
    if hub:
        return hub.group(1)
    title = re.search(r"^#\s+(\S+)\s*$", card, re.M)
    return title.group(1) if title else folder.parent.name


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
        self.model_id = local_model_name(self.folder) if is_local else str(model)
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
