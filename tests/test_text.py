"""User text is data: `figures.text` makes any string literal in plotly labels and Streamlit markdown."""

from __future__ import annotations

import pytest

from figures.text import escape_hover, markdown_text, plotly_text

MARKUP = ["<a href=x>a</a>", "<b>b</b>", "[t](u)", "**s**", ":red[x]", ":material/home:", "`c`", "$x$", "&lt;"]


@pytest.mark.parametrize("text", MARKUP)
def test_plotly_text_leaves_no_tag(text):
    out = plotly_text(text)
    assert "<" not in out and ">" not in out
    assert out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == text


@pytest.mark.parametrize("text", MARKUP)
def test_markdown_text_escapes_every_markup_character(text):
    out = markdown_text(text)
    for ch in "<>[]()*`:$&":
        assert all(out[i - 1] == "\\" for i, c in enumerate(out) if c == ch), (text, out)
    assert out.replace("\\", "") == text


@pytest.mark.parametrize(("text", "expected"), [
    ("- item", "\\- item"), ("1. first", "1\\. first"), ("# head", "\\# head"), ("plain-name.csv", "plain-name.csv"),
    ("two\nlines", "two lines"), ("x" * 10, "xxxx…"),
])
def test_markdown_text_line_starts_newlines_and_width(text, expected):
    assert markdown_text(text, width=5 if text == "x" * 10 else None) == expected


def test_hover_keeps_line_breaks_escaped():
    assert escape_hover("<b>x</b>\nnext") == "&lt;b&gt;x&lt;/b&gt;<br>next"


def test_bare_urls_and_addresses_cannot_become_links():
    text = "[text](https://evil.example) www.evil.example me@evil.example"
    out = markdown_text(text)
    assert "https" not in out and "www" not in out and "@e" not in out
    assert out.replace("\u200b", "").replace("\\", "") == text
