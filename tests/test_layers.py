"""The house rules, read from the source with `ast` (nothing is imported):

* the engine (`core/`) never imports streamlit, `views`, `ui` or `figures`; figures never import
  streamlit, `views` or `ui`; `ui` never imports `views`;
* inside `core/`, imports point down the layers (see `LAYERS`): data < encode, index, store <
  workspace < analysis < scale < experiments < cli;
* no module imports a private name (``_x``) from another module.

Each failure names the file, the line and the import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("core", "views", "ui", "figures", "app.py", "bench")

#: Rank of each engine package: a module may import its own rank or lower ones.
LAYERS: dict[str, int] = {
    "core": 0,  # the package itself: version, OMP setting
    "core.config": 0,
    "core.progress": 0,
    "core.env": 0,
    "core.data": 1,
    "core.encode": 2,
    "core.index": 2,
    "core.store": 2,
    "core.workspace": 3,
    "core.analysis": 4,
    "core.scale": 5,
    "core.experiments": 6,
    "core.cli": 7,
    "core.__main__": 7,
}
NEVER_IN_ENGINE = ("streamlit", "views", "ui", "figures")
NEVER_IN_FIGURES = ("streamlit", "views", "ui")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path) -> list[tuple[int, str, list[str]]]:
    """``(line, imported module, names)`` for every import in a file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = module_name(path, root).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.append((node.lineno, module, [a.name for a in node.names]))
    return out


def layer_of(module: str) -> int | None:
    best = None
    for prefix, rank in LAYERS.items():
        if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, rank)
    return None if best is None else best[1]


def top(module: str) -> str:
    return module.split(".")[0]


def is_project_module(module: str, root: Path) -> bool:
    head = top(module)
    return (root / head).is_dir() or (root / f"{head}.py").is_file()


def violations(root: Path, sources: tuple[str, ...] = SOURCES) -> list[str]:
    """Every broken rule under ``root``, as ``"file:line: what"``."""
    files: list[Path] = []
    for name in sources:
        p = root / name
        files += [p] if p.is_file() else sorted(p.rglob("*.py")) if p.is_dir() else []
    out = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        mod = module_name(path, root)
        for line, imported, names in imports_of(path, root):
            where = f"{rel}:{line}: imports {imported}" + (f" ({', '.join(names)})" if names else "")
            if top(mod) == "core" and top(imported) in NEVER_IN_ENGINE:
                out.append(f"{where}: the engine never imports {top(imported)}")
            if top(mod) == "figures" and top(imported) in NEVER_IN_FIGURES:
                out.append(f"{where}: figures are pure functions and never import {top(imported)}")
            if top(mod) == "ui" and top(imported) == "views":
                out.append(f"{where}: ui is shared glue and never imports a page")
            mine, theirs = layer_of(mod), layer_of(imported)
            if top(mod) == "core" and mine is not None and theirs is not None and theirs > mine:
                out.append(f"{where}: layer {mine} may not import layer {theirs} (imports point down)")
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private and imported != mod and is_project_module(imported, root):
                out.append(f"{where}: private name(s) {', '.join(private)} of another module")
    return out


def test_the_repository_keeps_the_house_rules():
    found = violations(REPO)
    assert not found, "\n".join(found)


def test_every_engine_package_says_what_it_is_for_and_what_it_may_import():
    for init in sorted((REPO / "core").glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and "import" in doc, f"{init.relative_to(REPO)} needs a docstring naming what it may import"
        assert module_name(init, REPO) in LAYERS, f"{init.parent.name} has no rank in LAYERS"


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        ("core/data/bad.py", "from core.experiments.compression import plan_sweep\n", "layer 1 may not import layer 6"),
        ("core/index/bad.py", "from ..analysis import sweep\n", "layer 2 may not import layer 4"),
        ("core/store/bad.py", "import streamlit as st\n", "the engine never imports streamlit"),
        ("core/data/bad.py", "from ui.state import current\n", "the engine never imports ui"),
        ("figures/bad.py", "import streamlit\n", "figures are pure functions"),
        ("core/scale/bad.py", "from core.analysis.sweep import _helper\n", "private name(s) _helper"),
        ("views/bad.py", "from core.data.builtin import _REGISTRY\n", "private name(s) _REGISTRY"),
    ],
)
def test_a_wrong_import_is_reported_with_its_file_and_line(tmp_path, path, source, expected):
    for pkg in ("core/data", "core/index", "core/store", "core/analysis", "core/experiments", "core/scale",
                "figures", "ui", "views"):
        (tmp_path / pkg).mkdir(parents=True, exist_ok=True)
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "core" / "__init__.py").write_text("")
    (tmp_path / path).write_text("\n" + source)
    found = violations(tmp_path)
    assert len(found) == 1 and found[0].startswith(f"{path}:2: imports ") and expected in found[0], found


def test_allowed_imports_are_not_reported(tmp_path):
    (tmp_path / "core" / "experiments").mkdir(parents=True)
    (tmp_path / "core" / "__init__.py").write_text("")
    (tmp_path / "core" / "experiments" / "ok.py").write_text(
        "from core.analysis.sweep import run_sweep\nfrom core.data.dataset import Dataset\nfrom . import ok\n"
        "from __future__ import annotations\nimport numpy as _np\n"
    )
    assert violations(tmp_path) == []
