"""The exit watchdog on its own (the process it ends is a recorder here; the real one is in
tests/lab/test_terminal_closed.py): it ends with the exit's code after its grace, after its last
words, even when those fail; disarmed in time, it does nothing."""

from __future__ import annotations

import threading
import time

from gb10dash.ui.exit_watchdog import ExitWatchdog


class Ended:
    def __init__(self) -> None:
        self.codes: list[int] = []
        self.at: float | None = None
        self.done = threading.Event()

    def __call__(self, code: int) -> None:
        self.codes.append(code)
        self.at = time.monotonic()
        self.done.set()


def test_an_exit_that_does_not_finish_ends_the_process_after_the_grace_and_the_last_words() -> None:
    ended, said = Ended(), []
    watchdog = ExitWatchdog(0.2, last_words=lambda: said.append("lab stopped"), end_process=ended)
    armed = time.monotonic()
    watchdog.arm(3)
    watchdog.arm(0)  # a second exit does not restart the clock nor change the code
    assert ended.done.wait(5)
    assert ended.codes == [3] and said == ["lab stopped"]
    assert ended.at is not None and ended.at - armed >= 0.2


def test_failing_last_words_still_end_it() -> None:
    ended = Ended()

    def fails() -> None:
        raise RuntimeError("the lab would not stop")

    ExitWatchdog(0.05, last_words=fails, end_process=ended).arm(4)
    assert ended.done.wait(5) and ended.codes == [4]


def test_an_exit_that_finishes_in_time_is_left_alone() -> None:
    ended = Ended()
    watchdog = ExitWatchdog(0.3, end_process=ended)
    watchdog.arm(0)
    watchdog.disarm()
    assert not ended.done.wait(0.6)
    watchdog.disarm()  # twice: harmless


def test_leaving_its_with_block_disarms_it_however_the_run_ended() -> None:
    ended = Ended()
    try:
        with ExitWatchdog(0.3, end_process=ended) as watchdog:
            watchdog.arm(0)
            raise RuntimeError("the app's run raised")
    except RuntimeError:
        pass
    assert not ended.done.wait(0.6)
