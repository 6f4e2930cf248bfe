"""Progress reporting for long runs: a live display on a terminal, plain log lines otherwise.

The flow reports through `current()`; the CLI installs a reporter. Without one, reports go to the log.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Protocol

log = logging.getLogger("wiretrace")


class Reporter(Protocol):
    def stage(self, name: str, total: int | None = None) -> None: ...
    def advance(self, name: str, amount: int = 1) -> None: ...
    def note(self, message: str) -> None: ...
    def close(self) -> None: ...


class LogReporter:
    """One log line per stage start and per tenth of a stage."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[str, int | None] = {}
        self._done: dict[str, int] = {}
        self._last_tenth: dict[str, int] = {}

    def stage(self, name: str, total: int | None = None) -> None:
        with self._lock:
            self._totals[name], self._done[name], self._last_tenth[name] = total, 0, 0
        log.info("%s: started%s", name, f" ({total} to do)" if total else "")

    def advance(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._done[name] = self._done.get(name, 0) + amount
            total, done = self._totals.get(name), self._done[name]
            tenth = int(10 * done / total) if total else 0
            if total and tenth > self._last_tenth.get(name, 0):
                self._last_tenth[name] = tenth
                log.info("%s: %d/%d", name, done, total)

    def note(self, message: str) -> None:
        log.info(message)

    def close(self) -> None:
        return None


class RichReporter:
    """A rich progress display with one bar per stage."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            transient=False,
        )
        self._tasks: dict[str, int] = {}
        self._progress.start()

    def stage(self, name: str, total: int | None = None) -> None:
        self._tasks[name] = self._progress.add_task(name, total=total)

    def advance(self, name: str, amount: int = 1) -> None:
        if name in self._tasks:
            self._progress.advance(self._tasks[name], amount)

    def note(self, message: str) -> None:
        self._progress.console.print(message)

    def close(self) -> None:
        self._progress.stop()


_current: Reporter = LogReporter()


def current() -> Reporter:
    return _current


def install(reporter: Reporter | None = None) -> Reporter:
    """Install `reporter`, or the right default for stderr: rich on a terminal, log lines otherwise."""
    global _current
    if reporter is None:
        reporter = RichReporter() if sys.stderr.isatty() else LogReporter()
    _current = reporter
    return reporter
