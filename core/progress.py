"""Progress reporting shared by the app (st.progress) and the CLI (tqdm).

Engine functions take ``progress: ProgressFn | None`` and call it as
``progress(done, total, message)``; they never print.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[int, int, str], None]


def noop(done: int, total: int, message: str = "") -> None:
    return None


def report(progress: ProgressFn | None, done: int, total: int, message: str = "") -> None:
    if progress is not None:
        progress(done, total, message)


def tqdm_progress(desc: str) -> tuple[ProgressFn, Callable[[], None]]:
    """A ProgressFn drawing a tqdm bar on stderr, and a function closing it."""

    from tqdm import tqdm

    bar = tqdm(total=0, desc=desc, unit="it", dynamic_ncols=True)

    def update(done: int, total: int, message: str = "") -> None:
        if bar.total != total:
            bar.total = total
        bar.n = done
        if message:
            bar.set_postfix_str(message[:60], refresh=False)
        bar.refresh()

    return update, bar.close
