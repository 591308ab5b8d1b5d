"""Saved views: a page's full URL state kept in the run store under a short id (kind ``"view"``), for a
view whose link would be too long to share (long free-text queries in non-Latin scripts).

A saved view is data like any URL: `load_view` returns the raw query values, which the page checks
exactly as it checks a link's.
"""

from __future__ import annotations

from collections.abc import Mapping

VIEW_KIND = "view"
#: At most this many values, each at most this long: a saved view is a link, not a file.
MAX_VALUES, MAX_VALUE_CHARS = 64, 4000


def save_view(page: str, query: Mapping[str, str], store=None) -> int:
    """Keep ``query`` (a page's URL values, workspace included) for ``page``; returns its short id."""
    from core.store.runs import RunStore

    values = {str(k): str(v) for k, v in query.items()}
    if len(values) > MAX_VALUES or any(len(v) > MAX_VALUE_CHARS for v in values.values()):
        raise ValueError(f"a view holds at most {MAX_VALUES} values of {MAX_VALUE_CHARS:,} characters each")
    store = store or RunStore()
    run_id = store.start_run(VIEW_KIND, values.get("dataset", ""), values.get("encoder", ""),
                             {"page": page, "query": values}, environment={})
    store.finish_run(run_id, "done")
    return run_id


def load_view(view_id: int, page: str, store=None) -> dict[str, str]:
    """The URL values saved as view ``view_id`` for ``page``; ValueError when there is no such view."""
    from core.store.runs import RunStore

    store = store or RunStore()
    try:
        run = store.get_run(int(view_id))
    except (ValueError, OverflowError):
        run = None
    if run is None or run.kind != VIEW_KIND or run.params.get("page") != page:
        raise ValueError(f"there is no saved view #{view_id} of this page")
    query = run.params.get("query")
    return {str(k): str(v) for k, v in query.items()} if isinstance(query, dict) else {}
