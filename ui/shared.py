"""Work shared by every session of this server process: a result or a figure is built once per state.

Streamlit runs every visitor's script in one process, so a class opening the same link would build
the same figures thirty times. `shared` builds an object once per (name, key) and hands the same
object to every later session; the key must name everything the object depends on (for a saved run:
`run_key`). The object is shared, so callers never mutate it: `st.plotly_chart` serialises a figure
without changing it; a table to be changed is `.copy()`-ed first.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

import streamlit as st

from core.config import home

T = TypeVar("T")

#: Objects kept per process (figures of the demo's pages are a few hundred kB each).
SHARED_ENTRIES = 256


@st.cache_resource(show_spinner=False, max_entries=SHARED_ENTRIES)
def _built(name: str, key: tuple, _build: Callable[[], object]) -> object:
    return _build()


def shared(name: str, key: tuple[Hashable, ...], build: Callable[[], T]) -> T:
    """``build()`` once per ``(name, key)`` in this process, the same object for every session after
    (one session builds while others asking for the same key wait for it). Exceptions are not kept."""
    return _built(name, key, build)  # type: ignore[return-value]


def run_key(run) -> tuple:
    """What a saved run's derived results depend on: its store (the home), its id and start (ids repeat
    across stores), and its status and row count (a running run grows)."""
    return (str(home()), run.id, run.started, run.status, run.n_rows)
