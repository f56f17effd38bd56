"""A dashboard asked to end by a signal ends, whatever its terminal does.

Textual's shutdown still writes to the terminal (mouse and keyboard modes off, the screen back) and
can wait on it forever once a SIGHUP has taken it away: seen 1 time in 4 when a terminal closed as the
first frame was being drawn (tmux kill-session): the dashboard, with no screen left, went on polling
its hosts for good. So an exit that a signal asked for is given GRACE_S to finish (after any undo the
signal started: the watchdog is armed when the app is told to exit, not when the signal comes); past
that the process ends with the exit's code, after `last_words` (the demo stops its lab).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from types import TracebackType

GRACE_S = 5.0


class ExitWatchdog:
    """`with ExitWatchdog() as watchdog: App(..., watchdog=watchdog).run()`: disarmed however the run ends."""

    def __init__(
        self,
        grace_s: float = GRACE_S,
        last_words: Callable[[], object] | None = None,
        end_process: Callable[[int], object] = os._exit,
    ) -> None:
        self.grace_s = grace_s
        self.last_words = last_words
        self.end_process = end_process
        self._timer: threading.Timer | None = None

    def __enter__(self) -> ExitWatchdog:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.disarm()

    def arm(self, code: int) -> None:
        """The app was told to exit with `code`: end the process if it has not within grace_s."""
        if self._timer is None:
            self._timer = threading.Timer(self.grace_s, self._fire, args=(code,))
            self._timer.daemon = True
            self._timer.start()

    def disarm(self) -> None:
        """The app has finished: nothing to do."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self, code: int) -> None:
        try:
            print(
                f"gb10dash: the exit did not finish within {self.grace_s:g} s (terminal gone?): ending", file=sys.stderr
            )
            if self.last_words is not None:
                self.last_words()
        except BaseException:  # nothing may stop the end: a closed stderr, a lab that fails to stop
            pass
        finally:
            self.end_process(code)
