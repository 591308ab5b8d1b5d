"""Helpers shared by the AppTest files: open a view with a workspace, read its text."""

from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def open_view(name: str, spec: dict | None = None, *, timeout: float = 120) -> AppTest:
    """Run ``views/<name>`` (or ``app.py``) once with ``spec`` as the workspace; fail on exceptions."""
    path = ROOT / name if name == "app.py" else ROOT / "views" / name
    at = AppTest.from_file(str(path), default_timeout=timeout)
    if spec is not None:
        at.session_state["ws_spec"] = spec
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def page_text(at: AppTest) -> str:
    """Every piece of text a person reads on the page, joined by newlines.

    Markdown escapes (user text goes through `figures.text.markdown_text`) are read as the person sees
    them: ``\\:`` is ``:``, and the zero-width spaces that stop autolinks are dropped.
    """
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [str(m.value) for m in at.metric] + [m.label for m in at.metric]
    parts += [e.value for e in at.error] + [w.value for w in at.warning] + [i.value for i in at.info]
    parts += [s.value for s in at.success] + [h.value for h in at.subheader] + [t.value for t in at.title]
    text = "\n".join(str(p) for p in parts)
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text).replace("\u200b", "")
