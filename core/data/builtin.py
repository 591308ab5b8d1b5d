"""Built-in datasets: a registry of corpora a workspace can start from.

=================  =======  ==========================================================
name               kind     what it is
=================  =======  ==========================================================
``stdlib-docs``    text     docstrings of the running Python's standard library, with
                            known-item queries (the default; builds in a few seconds)
``pydocs``         text     the same walk over the packages installed next to densescope
                            (tens of thousands of passages; minutes to walk)
``glove-6b-50d``   vectors  400k GloVe word vectors, 50 dimensions
``synthetic``      vectors  points on a random k-dimensional subspace of R^dim: a known
                            intrinsic dimension, optional clusters and noise
=================  =======  ==========================================================

`load_dataset` builds one by name and caches it in-process (keyed by its
parameters), so the returned `Dataset` is shared: treat it as read-only.

**Docstring corpora.** One passage per documented module, class, function or
method whose docstring has at least 12 words; the id is the dotted name
(``json.JSONDecoder.decode``), the label the top-level module. An object
re-exported by several modules is listed once, under its defining module (or
the public face of a private C module: ``os.listdir``, not ``posix.listdir``);
objects defined elsewhere (a package re-exporting ``pathlib.Path``) are left
to their own corpus, and word-for-word identical docstrings are kept once.

**The relevance task has no leak.** A passage's encoded text is the docstring *without* its
summary sentence (the rest, whitespace collapsed; kept when it has 5+ words, identical rests
once); the summary is the item's *title*, shown in tables and hover but never encoded. One rule
for every passage, judged or not, so the corpus is homogeneous. Queries are known-item pairs:
the summary is the query and the passage of the same docstring its one relevant document
(``qrels[q][doc] = 1``, query id ``"q:" + doc``), kept when the summary has 3+ words, is shared
with no other passage, and does not occur inside the passage's text. The task measures whether an
encoder (and then an index) finds the body of a docstring from its one-line summary: a real
paraphrase-like search, much harder than finding a passage that contains the query.

The walk imports every module, so it runs in a fresh child interpreter
(``python -I``): the corpus does not depend on what the calling process has
imported (torch, for one, replaces ``inspect.getfile``), nothing the modules do
on import reaches the caller, and a hanging package can be killed.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from core.data.dataset import Dataset
from core.data.docstrings import build_pydocs, build_stdlib_docs, clear_walks
from core.data.glove import build_glove
from core.data.synthetic import build_synthetic
from core.progress import ProgressFn

DEFAULT_DATASET = "stdlib-docs"


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset card: what `load_dataset` can build, before building it."""

    name: str
    kind: str  # "text" or "vectors"
    description: str
    approx_n: int
    params: dict[str, Any] = field(default_factory=dict)  # default parameters


# --------------------------------------------------------------------------- #
# Registry and cache
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class _Entry:
    info: DatasetInfo
    build: Callable[..., Dataset]
    takes_progress: bool = False


_REGISTRY: dict[str, _Entry] = {
    entry.info.name: entry
    for entry in (
        _Entry(
            DatasetInfo(
                "stdlib-docs",
                "text",
                "Docstrings of the Python standard library (passages), with known-item queries; labels are modules",
                approx_n=3300,
                params={"limit": None, "seed": 0},
            ),
            build_stdlib_docs,
            takes_progress=True,
        ),
        _Entry(
            DatasetInfo(
                "pydocs",
                "text",
                "Docstrings of every installed Python package, with known-item queries; slow: minutes to walk",
                approx_n=48_000,
                params={"limit": None, "seed": 0, "packages": None},
            ),
            build_pydocs,
            takes_progress=True,
        ),
        _Entry(
            DatasetInfo(
                "glove-6b-50d",
                "vectors",
                "400k GloVe word vectors (50 dimensions, cosine); ids and labels are the words",
                approx_n=400_000,
                params={"limit": None, "seed": 0},
            ),
            build_glove,
        ),
        _Entry(
            DatasetInfo(
                "synthetic",
                "vectors",
                "Points on a random k-dimensional subspace of R^dim (known intrinsic dimension k), "
                "optional clusters and noise; metric l2",
                approx_n=10_000,
                params={"n": 10_000, "dim": 1024, "intrinsic_dim": 16, "noise": 0.0, "n_clusters": 0, "seed": 0},
            ),
            build_synthetic,
        ),
    )
}

_CACHE_SIZE = 8
_cache: OrderedDict[tuple, Dataset] = OrderedDict()
_cache_lock = threading.Lock()
_build_locks: dict[tuple, threading.Lock] = {}


def list_datasets() -> list[DatasetInfo]:
    """The built-in datasets, default first (copies: changing them changes nothing)."""

    return [dataset_info(name) for name in _REGISTRY]


def dataset_info(name: str) -> DatasetInfo:
    """The card of a built-in dataset; ValueError listing the known names."""
    info = _entry(name).info
    return replace(info, params=dict(info.params))


def _entry(name: str) -> _Entry:
    if name not in _REGISTRY:
        raise ValueError(f"unknown dataset {name!r}; built-in datasets: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def _freeze(value: object) -> object:
    """A hashable form of a parameter value (lists and sets become sorted/ordered tuples)."""
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return tuple(sorted(_freeze(v) for v in value))
    if isinstance(value, np.generic):
        return value.item()
    try:
        hash(value)
    except TypeError:
        raise ValueError(f"dataset parameter values must be numbers, strings or lists, got {value!r}") from None
    return value


def _resolve_params(entry: _Entry, params: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with ``params``; ValueError naming unknown parameters."""
    unknown = sorted(set(params) - set(entry.info.params))
    if unknown:
        raise ValueError(
            f"dataset {entry.info.name!r} has no parameter {', '.join(unknown)}; "
            f"its parameters: {', '.join(entry.info.params) or 'none'}"
        )
    return {key: _freeze(value) for key, value in {**entry.info.params, **params}.items()}


_DOCSTRING_TASK = (
    "Each query is a docstring's one-line summary and its one relevant passage is the rest of that "
    "docstring, which does not contain the summary: the task measures whether search finds a "
    "docstring's body from its summary, a paraphrase-like search, not a copy of the query."
)
_TASKS = {"stdlib-docs": _DOCSTRING_TASK, "pydocs": _DOCSTRING_TASK}


def relevance_task(dataset: Dataset) -> str:
    """One sentence saying what the dataset's relevance judgments measure."""
    if dataset.name in _TASKS:
        return _TASKS[dataset.name]
    return ("The queries and relevance judgments come with the data: the task measures how often "
            "search ranks the items judged relevant to each query near the top.")


def load_dataset(name: str = DEFAULT_DATASET, *, progress: ProgressFn | None = None, **params: Any) -> Dataset:
    """Build a built-in dataset by name, or return it from the in-process cache.

    Args:
        name: one of `list_datasets` (default ``"stdlib-docs"``).
        progress: ``progress(done, total, message)`` while building, for datasets that
            take long (stdlib-docs, pydocs); not part of the cache key.
        **params: overrides of the dataset's default parameters (`DatasetInfo.params`).

    Returns:
        The `Dataset`, shared with later calls with the same parameters: treat it as read-only.

    Raises:
        ValueError: unknown name, unknown parameter, or a bad parameter value.
    """
    entry = _entry(name)
    resolved = _resolve_params(entry, params)
    key = (name, tuple(sorted(resolved.items())))
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        build_lock = _build_locks.setdefault(key, threading.Lock())
    with build_lock:  # one build per key; other keys build concurrently
        with _cache_lock:
            if key in _cache:
                return _cache[key]
        extra = {"progress": progress} if entry.takes_progress else {}
        dataset = entry.build(**resolved, **extra)
        with _cache_lock:
            _cache[key] = dataset
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
            _build_locks.pop(key, None)
    return dataset


def clear_cache() -> None:
    """Forget every built dataset and docstring walk (the next `load_dataset` rebuilds)."""
    with _cache_lock:
        _cache.clear()
    clear_walks()
