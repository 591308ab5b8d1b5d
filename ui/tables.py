"""Tables that fit the page: every column sized so a table is read at 1366 px without scrolling sideways.

`st.dataframe` sizes each column to its widest cell, so one long text (a docstring, an id of a nested
class) pushes the rest behind a horizontal scroll bar. `fit_widths` gives short columns (numbers, flags,
short names) the width of their content and header, and shares what is left among the long text
columns; a text column narrower than its content wraps onto up to `WRAP_LINES` lines (Streamlit wraps a
cell's text when the row is taller than 4 rem). `show_table` draws a frame that way, integers as integers.

Widths are estimated from characters (`CHAR_PX` per character of the 14 px UI font, plus the cell's
padding): the browser test ``test_every_table_on_every_page_fits_at_1366`` measures the result.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import streamlit as st

from figures.numbers import integer_columns

#: The main area's width at a 1366 px window with the sidebar open (measured: 904 px), and one of two
#: equal columns in it (443 px); a little is kept for the table's border.
FULL = 900
HALF = 438
CHAR_PX = 8.0
PAD_PX = 26
#: Columns at least this wide however little they hold (a header of a few letters, a checkbox).
MIN_PX = 44
#: A long text column is never narrower than this.
MIN_TEXT_PX = 140
WRAP_LINES = 3
LINE_PX = 21


def _cell_chars(values: pd.Series) -> int:
    """Characters of a column's widest shown cell (numbers as Streamlit shows them, about 4 decimals)."""
    if values.empty:
        return 0
    if pd.api.types.is_bool_dtype(values):
        return 3
    if pd.api.types.is_integer_dtype(values):
        finite = values.dropna()
        return max((len(f"{int(v):,}") for v in finite), default=1)
    if pd.api.types.is_float_dtype(values):
        finite = values.to_numpy(dtype=float)
        finite = finite[np.isfinite(finite)]
        return max((len(f"{v:,.4f}".rstrip("0").rstrip(".")) for v in finite), default=4)
    return int(values.astype(str).str.len().max())


def fit_widths(frame: pd.DataFrame, budget: int = FULL, *, index: bool = False) -> tuple[dict[str, int], int | None]:
    """Pixel widths per column that sum to at most ``budget``, and a row height (``None``: one line).

    Columns whose content fits beside the others keep their natural width (content or header, whichever
    is wider); the long ones share the rest in proportion to their natural width, each at least
    `MIN_TEXT_PX`, and wrap when cut.
    """
    cols = list(frame.columns)
    natural = {}
    for c in cols:
        chars = max(_cell_chars(frame[c]), len(str(c)))
        natural[c] = max(MIN_PX, math.ceil(chars * CHAR_PX + PAD_PX))
    avail = budget - (max(MIN_PX, math.ceil(_cell_chars(frame.index.to_series()) * CHAR_PX + PAD_PX)) if index else 0)
    if sum(natural.values()) <= avail:
        return natural, None
    # prose (texts with spaces) wraps well: it gives way first; ids and numbers keep their width if they can
    prose = [c for c in cols if natural[c] > MIN_TEXT_PX and _is_prose(frame[c])]
    others = [c for c in cols if c not in prose]
    widths = dict(natural)
    if prose and avail - sum(natural[c] for c in others) >= MIN_TEXT_PX * len(prose):
        widths.update(_water_fill({c: natural[c] for c in prose}, avail - sum(natural[c] for c in others)))
    else:
        widths = _water_fill(natural, avail)
    wrapped = max((natural[c] / max(widths[c], 1) for c in cols), default=1.0)
    lines = min(WRAP_LINES, math.ceil(wrapped - 1e-9))
    return widths, (lines * LINE_PX + 12 if lines > 1 else None)


def tail_cut(text: str, width: int) -> str:
    """``"…BytesIO.readlines"`` for a long id: its end names the item best (module paths share beginnings)."""
    return text if len(text) <= width else "…" + text[-(width - 1):]


def _is_prose(values: pd.Series) -> bool:
    texts = values.dropna().astype(str)
    return bool(len(texts)) and float(texts.str.contains(" ").mean()) >= 0.5


def _water_fill(natural: dict[str, int], avail: float) -> dict[str, int]:
    """Widths summing to at most ``avail``: the narrow columns keep theirs, the wide ones share the rest
    equally."""
    widths = dict(natural)
    order = sorted(natural, key=lambda c: natural[c])
    fixed = 0
    for j, c in enumerate(order):
        share = (avail - fixed) / (len(order) - j)
        if natural[c] <= share:
            fixed += natural[c]
            continue
        for rest in order[j:]:
            widths[rest] = int(share)
        break
    return widths


def show_table(frame: pd.DataFrame | list[dict], *, where=None, budget: int = FULL, column_config: dict | None = None,
               **kwargs):
    """``where.dataframe(frame)`` (``where``: ``st`` or a column) with `fit_widths` widths, integers as integers.

    ``column_config`` entries given by the caller keep their label and format; only a width is added.
    Other keyword arguments go to ``st.dataframe`` (``key``, ``height``, ``on_select`` ...).
    """
    where = where if where is not None else st
    frame = frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(frame)  # a list of records too
    config = dict(column_config or {})
    hidden = [c for c in frame.columns if c in config and config[c] is None]
    shown = integer_columns(frame.drop(columns=hidden))
    labels = {c: _label(config.get(c)) or str(c) for c in shown.columns}
    hide_index = kwargs.pop("hide_index", True)
    widths, row_height = fit_widths(shown.rename(columns=labels), budget, index=not hide_index)
    for col in shown.columns:
        px = widths[labels[col]]
        given = config.get(col)
        if isinstance(given, dict):
            config[col] = {**given, "width": px}
        else:
            config[col] = st.column_config.Column(label=given, width=px)
    if row_height is not None:
        kwargs.setdefault("row_height", row_height)
    kwargs.setdefault("width", "stretch")
    kwargs.setdefault("placeholder", "—")  # a missing value, not the word None
    return where.dataframe(shown, hide_index=hide_index, column_config=config, **kwargs)


def _label(given) -> str | None:
    if isinstance(given, str):
        return given
    if isinstance(given, dict):
        return given.get("label")
    return None


#: Columns of bookkeeping a reader does not need on screen (they stay in every download).
QUIET_COLUMNS = frozenset({"results_key", "latency_threads", "latency_queries", "threads", "queries", "note",
                           "reason", "factory", "study", "label"})
#: The least a column takes when `fitting_columns` packs a table (texts wrap to fit it).
PACKED_PX = 90


def fitting_columns(frame: pd.DataFrame, budget: int = FULL) -> tuple[list[str], list[str]]:
    """The columns of ``frame`` that fit ``budget`` pixels side by side, in order, and those left out.

    Columns with no value at all and bookkeeping columns (`QUIET_COLUMNS`) are left out first; the rest
    are taken in order while each one's width (its natural width, at most 200 px, at least `PACKED_PX`
    for text that can wrap) still fits.
    """
    shown, left, used = [], [], 0
    for col in frame.columns:
        values = frame[col]
        empty = values.isna().all() or values.astype(str).isin(["", "None", "nan"]).all()
        if col in QUIET_COLUMNS or empty:
            left.append(str(col))
            continue
        chars = max(_cell_chars(values), len(str(col)))
        px = min(max(MIN_PX, math.ceil(chars * CHAR_PX + PAD_PX)), 200)
        if _is_prose(values):
            px = min(px, max(PACKED_PX, math.ceil(len(str(col)) * CHAR_PX + PAD_PX)))
        if used + px <= budget:
            shown.append(col)
            used += px
        else:
            left.append(str(col))
    return shown, left
