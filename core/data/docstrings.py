"""The docstring corpora: `stdlib-docs` (Python's standard library) and `pydocs` (installed packages).

Docstrings are walked in a child `python -I` (torch patches `inspect.getfile`, which made
in-process walks non-deterministic); walks are cached in memory. This module stays whole because
the walk, its child-process protocol and the two corpus builders share one set of rules (what
counts as documented, how summaries split) that read best together.
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
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from core.data.dataset import Dataset, Queries
from core.data.params import check_limit, check_seed
from core.progress import ProgressFn, report

#: Docstrings shorter than this many words are not passages.
MIN_PASSAGE_WORDS = 12
#: A known-item pair needs a summary of at least this many words ...
MIN_QUERY_WORDS = 3
#: A passage (the docstring after its summary, what is encoded) needs at least this many words.
MIN_REST_WORDS = 5


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


def normalize_for_leak_check(text: str) -> str:
    """Case-folded, whitespace-collapsed text: how a query is looked for inside a passage."""
    return " ".join(text.casefold().split())


def _passages(docs: list[_Doc]) -> list[_Doc]:
    """The docs that become passages: the encoded text is the docstring *without* its summary.

    One rule for every passage, judged or not: the summary sentence is the item's title (shown,
    never encoded) and the rest is its text. A doc is kept when the rest has 5+ words, and the
    first doc (in id order) of each rest text wins, so no two passages are identical.
    """
    out: list[_Doc] = []
    seen: set[str] = set()
    for d in docs:
        if len(d.rest.split()) >= MIN_REST_WORDS and d.rest not in seen:
            seen.add(d.rest)
            out.append(d)
    return out


def _known_item_pairs(docs: list[_Doc]) -> list[_Doc]:
    """Passages whose summary makes a usable known-item query for them.

    Kept when the summary has 3+ words, is shared with no other passage (a duplicated summary
    would be one query text with two different answers), and does not occur inside the passage's
    own text (case and whitespace ignored): the query must not be contained in its answer.
    """
    candidates = [d for d in docs if len(d.summary.split()) >= MIN_QUERY_WORDS]
    summary_counts = Counter(d.summary for d in candidates)
    return [
        d
        for d in candidates
        if summary_counts[d.summary] == 1
        and normalize_for_leak_check(d.summary) not in normalize_for_leak_check(d.rest)
    ]


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
    docs = _passages(docs)
    pairs = _known_item_pairs(docs)
    docs = _sample_docs(docs, limit, seed)
    kept = {d.id for d in docs}
    pairs = [d for d in pairs if d.id in kept]
    query_ids = [f"q:{d.id}" for d in pairs]
    return Dataset(
        name=name,
        ids=[d.id for d in docs],
        texts=[d.rest for d in docs],
        titles=[d.summary for d in docs],
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
_REPO_ROOT = Path(__file__).resolve().parents[2]
_CHILD_BOOT = (
    "import sys; sys.path.append(sys.argv[1]); "
    "from core.data.docstrings import _child_main; _child_main(sys.argv[2], sys.argv[3])"
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
