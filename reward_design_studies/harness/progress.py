"""Progress bars for the studies (``rich``), and a silent stand-in.

    with progress(enabled, total=100, description="train") as bars:
        ...
        bars.advance(10)                   # the first bar
        evaluate = bars.add("evaluate", total=5)
        evaluate.advance()

With ``enabled=False`` nothing is imported or printed and every call is a
no-op, so a study's code is the same in tests and on the command line. The
bars are at most 100 columns wide, like the tables.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from reward_design_studies.harness.tables import MAX_WIDTH

__all__ = ["Bar", "Bars", "progress"]


class Bar:
    """One bar: ``advance(n)`` moves it ``n`` steps."""

    def __init__(self, bars: Any = None, task_id: Any = None):
        self._bars = bars
        self._task_id = task_id

    def advance(self, n: float = 1) -> None:
        if self._bars is not None:
            self._bars.advance(self._task_id, n)


class Bars:
    """The bars of one `progress` block: ``add(description, total)`` makes a bar."""

    def __init__(self, rich_progress: Any = None):
        self._progress = rich_progress
        self._first: Bar | None = None

    def add(self, description: str, total: float | None = None) -> Bar:
        if self._progress is None:
            bar = Bar()
        else:
            bar = Bar(self._progress, self._progress.add_task(description, total=total))
        if self._first is None:
            self._first = bar
        return bar

    def advance(self, n: float = 1) -> None:
        """Advances the first bar (the one `progress` made from ``total``)."""
        if self._first is not None:
            self._first.advance(n)


@contextlib.contextmanager
def progress(enabled: bool, total: float | None = None, description: str = "") -> Iterator[Bars]:
    """A block with progress bars; the first bar is made when ``total`` is given.

    Args:
      enabled: show the bars (``rich``); ``False``: a silent no-op.
      total: steps of the first bar (``None``: make no bar yet).
      description: the first bar's label.
    """
    if not enabled:
        bars = Bars()
        if total is not None:
            bars.add(description, total)
        yield bars
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console()
    if console.width > MAX_WIDTH:
        console = Console(width=MAX_WIDTH)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=False) as rich_progress:
        bars = Bars(rich_progress)
        if total is not None:
            bars.add(description, total)
        yield bars
