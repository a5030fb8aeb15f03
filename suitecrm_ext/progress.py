"""Progress bars for long CLI work (rich), shared by the core's and the plugins' commands.

::

    from suitecrm_ext.progress import progress

    with progress("importing payments", total=len(rows), unit="payments") as bar:
        for row in rows:
            ...
            bar.advance()
        bar.update(description="matching")          # a new phase; total=None shows a spinner

``track(iterable, "re-matching")`` wraps an iterable. Bars go to stderr, so stdout stays the command's
result (tables, JSON). They show only on a terminal: under cron, systemd or a pipe nothing is drawn
and nothing is printed. ``$SUITECRM_EXT_PROGRESS`` overrides that: ``always`` (draw even without a
terminal, e.g. to see it in a CI log), ``never`` (never draw).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

PROGRESS_ENV = "SUITECRM_EXT_PROGRESS"
T = TypeVar("T")


def progress_wanted(stream: Any = None) -> bool:
    """Whether bars are drawn: ``$SUITECRM_EXT_PROGRESS`` (always / never), else when stderr is a terminal."""
    mode = os.environ.get(PROGRESS_ENV, "auto").strip().lower()
    if mode in ("always", "1", "yes", "true"):
        return True
    if mode in ("never", "0", "no", "false", "off"):
        return False
    stream = stream or sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


class ProgressBar:
    """One bar (or spinner, while the total is unknown); every method is a no-op when not drawn."""

    def __init__(self, progress: Progress | None, task: TaskID | None, unit: str):
        self._progress = progress
        self._task = task
        self.unit = unit
        #: how far it got (counted also when nothing is drawn)
        self.completed = 0

    @property
    def drawn(self) -> bool:
        """Whether the bar is shown."""
        return self._progress is not None

    def advance(self, n: int = 1) -> None:
        """``n`` more items done."""
        self.completed += n
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def update(self, *, total: int | None = None, description: str | None = None,
               completed: int | None = None) -> None:
        """Set the total (turns a spinner into a bar), the text before the bar, or the count."""
        if completed is not None:
            self.completed = completed
        if self._progress is not None:
            kw: dict[str, Any] = {}
            if total is not None:
                kw["total"] = total
            if description is not None:
                kw["description"] = description
            if completed is not None:
                kw["completed"] = completed
            self._progress.update(self._task, **kw)

    def log(self, text: str) -> None:
        """A line above the bar (or on stderr when no bar is drawn)."""
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            print(text, file=sys.stderr)


@contextmanager
def progress(description: str, total: int | None = None, *, unit: str = "",
             transient: bool = False, console: Console | None = None) -> Iterator[ProgressBar]:
    """A progress bar on stderr for the block (a spinner with elapsed time while ``total`` is None).

    ``transient``: remove the bar when done (default: keep its last state as a line).
    """
    if console is None and not progress_wanted():
        yield ProgressBar(None, None, unit)
        return
    console = console or Console(stderr=True, force_terminal=True if progress_wanted() else None)
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    if unit:
        columns.append(TextColumn(unit))
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=console, transient=transient) as bar:
        task = bar.add_task(description, total=total)
        yield ProgressBar(bar, task, unit)


def track(items: Iterable[T], description: str, total: int | None = None, *, unit: str = "") -> Iterator[T]:
    """Iterate ``items`` with a progress bar (total: ``len(items)`` when it has one)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress(description, total, unit=unit) as bar:
        for item in items:
            yield item
            bar.advance()
