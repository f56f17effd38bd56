"""Signals during a plan: SIGTERM, SIGHUP (a closed terminal) and SIGINT cancel the running plan,
whose executor then undoes the completed steps as a cancel does; a second signal is reported and
changes nothing (each undo step has its own timeout, so the undo is bounded)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from types import TracebackType

SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


Saved = dict[signal.Signals, object]


def install_handlers(callback: Callable[[signal.Signals], None]) -> Saved:
    """callback(signum) on the running loop for each of SIGNALS; returns what was there before."""
    loop = asyncio.get_running_loop()
    saved: Saved = {}
    for signum in SIGNALS:
        saved[signum] = signal.getsignal(signum)
        loop.add_signal_handler(signum, callback, signum)
    return saved


def restore_handlers(saved: Saved) -> None:
    """Put back the handlers install_handlers found (e.g. the demo's, which stops the lab on SIGHUP)."""
    loop = asyncio.get_running_loop()
    for signum, previous in saved.items():
        loop.remove_signal_handler(signum)
        if previous is not None:
            signal.signal(signum, previous)  # type: ignore[arg-type]


class PlanInterrupter:
    """Installs the handlers on the running loop for as long as the `with` lasts; `task` (default:
    the current task) is what the first signal cancels, with the signal's name as the message."""

    def __init__(self, on_signal: Callable[[str, bool], None] | None = None, task: asyncio.Task[object] | None = None):
        self.on_signal = on_signal or (lambda _name, _first: None)
        self.task = task
        self.signal: str | None = None  # the first signal's name once one came
        self._saved: Saved = {}

    def __enter__(self) -> PlanInterrupter:
        self.task = self.task or asyncio.current_task()
        self._saved = install_handlers(self._received)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        restore_handlers(self._saved)
        self._saved = {}

    def _received(self, signum: signal.Signals) -> None:
        name = signal.Signals(signum).name
        first = self.signal is None
        if first:
            self.signal = name
            if self.task is not None:
                self.task.cancel(f"interrupted by {name}")
        self.on_signal(name, first)
