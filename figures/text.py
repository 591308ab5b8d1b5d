"""User text is data: the one place it is escaped before it reaches plotly or Streamlit markdown.

Labels, texts, ids, file names and URL values come from visitors' files and links. Plotly renders a
subset of HTML in hover labels, legends, tick labels and titles (``<a>``, ``<b>``, ``<br>`` ...);
Streamlit renders markdown (links, emphasis, ``:red[...]`` colour directives, ``:material/...:``
icons) in ``st.markdown``, ``st.caption``, ``st.warning`` and friends. `plotly_text` and
`markdown_text` make any string show literally in each.
"""

from __future__ import annotations

import html
import re

#: Characters that make markup anywhere in a line: emphasis, code, links, HTML and entities, tables,
#: and what Streamlit adds (``:`` for icons and colour directives, ``$`` for LaTeX, ``~`` strikethrough).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()|<>~$:&])")
#: What makes markup only at the start of a line: headings, lists, quotes ("1." / "1)" ordered lists).
_AUTOLINK = re.compile(r"(?i)https?|ftp|mailto|www|@(?=[a-z0-9-]+\.[a-z])")
_ZWSP = "\u200b"
_LINE_START = re.compile(r"^(\s*)([#+\-!>=]|\d+(?=[.)]))")


def plotly_text(text: object, width: int | None = None) -> str:
    """``text`` safe for a plotly label: whitespace collapsed, cut to ``width`` with "…", HTML-escaped."""
    line = " ".join(str(text).split())
    if width is not None and len(line) > width:
        line = line[: max(width - 1, 0)] + "…"
    return html.escape(line, quote=False)


def escape_hover(text: object, width: int = 160) -> str:
    """Plain text made safe for plotly hover labels, keeping its line breaks as ``<br>``.

    Whitespace runs collapse to one space (newlines become ``<br>`` after escaping), the text is
    cut to ``width`` characters in all with an ellipsis, and ``&``, ``<``, ``>`` are escaped, so
    ``<b>`` in a docstring is shown, not applied.
    """
    lines = [" ".join(line.split()) for line in str(text).split("\n")]
    out, left = [], width
    for line in lines:
        if left <= 0:
            break
        if len(line) > left:
            line = line[: max(left - 1, 0)] + "…"
        out.append(html.escape(line, quote=False))
        left -= len(line)
    return "<br>".join(out)


def markdown_text(text: object, width: int | None = None) -> str:
    """``text`` that Streamlit markdown shows literally: every markup character backslash-escaped,
    newlines collapsed (a line break could start a heading or a list)."""
    line = " ".join(str(text).split())
    if width is not None and len(line) > width:
        line = line[: max(width - 1, 0)] + "…"
    line = _MARKDOWN_SPECIAL.sub(r"\\\1", line)
    # GitHub-flavoured markdown turns bare URLs, www. names and e-mail addresses into links *after*
    # escapes are read, so a backslash cannot stop them: a zero-width space inside the word does.
    line = _AUTOLINK.sub(lambda m: m.group(0)[0] + _ZWSP + m.group(0)[1:], line)
    return _LINE_START.sub(_escape_line_start, line)


def _escape_line_start(m: re.Match) -> str:
    lead, mark = m.group(1), m.group(2)
    return lead + (mark + "\\" if mark[0].isdigit() else "\\" + mark)
