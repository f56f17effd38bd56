"""Signals during a plan: SIGTERM, SIGHUP (a closed terminal) and SIGINT cancel the running plan,
whose executor then undoes the completed steps as a cancel does; a second signal is reported and
changes nothing (each undo step has its own timeout, so the undo is bounded)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from types import TracebackType

SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class PlanInterrupter:
    """Installs the handlers on the running loop for as long as the `with` lasts; `task` (default:
    the current task) is what the first signal cancels, with the signal's name as the message."""

    def __init__(self, on_signal: Callable[[str, bool], None] | None = None,
                 task: asyncio.Task[object] | None = None):
        self.on_signal = on_signal or (lambda _name, _first: None)
        self.task = task
        self.signal: str | None = None  # the first signal's name once one came
        self._installed: list[signal.Signals] = []

    def __enter__(self) -> PlanInterrupter:
        loop = asyncio.get_running_loop()
        self.task = self.task or asyncio.current_task()
        for signum in SIGNALS:
            loop.add_signal_handler(signum, self._received, signum)
            self._installed.append(signum)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        loop = asyncio.get_running_loop()
        for signum in self._installed:
            loop.remove_signal_handler(signum)  # SIGINT gets Python's KeyboardInterrupt handler back
        self._installed.clear()

    def _received(self, signum: signal.Signals) -> None:
        name = signal.Signals(signum).name
        first = self.signal is None
        if first:
            self.signal = name
            if self.task is not None:
                self.task.cancel(f"interrupted by {name}")
        self.on_signal(name, first)
