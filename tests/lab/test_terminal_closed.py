"""The operator closes the dashboard's terminal: the dashboard ends, every time.

A real terminal (a pty whose slave is the dashboard's controlling terminal) is closed right after the
first frame: the kernel hangs it up and sends SIGHUP. Found by the bench (tmux kill-session as a frame
was drawn): 1 time in 2 to 4, Textual's shutdown then waited forever on the gone terminal and the
dashboard went on polling both hosts with no screen, for good. The exit watchdog (ui/exit_watchdog.py)
ends such an exit after its grace."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import time

import pytest

from gb10dash.lab import Lab
from gb10dash.ui.exit_watchdog import GRACE_S

TRIALS = 3


def _controlling_terminal() -> None:
    """preexec_fn (after setsid): stdin, the pty's slave, becomes the controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _until_drawn(master: int, text: bytes, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while text not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no frame with {text!r} within {timeout:g} s; the terminal got {seen[-400:]!r}")
        ready, _, _ = select.select([master], [], [], left)
        if ready:
            seen += os.read(master, 65536)
    return seen


@pytest.mark.timeout(180)
def test_closing_the_terminal_as_the_first_frame_is_drawn_ends_the_dashboard(lab: Lab) -> None:
    ended_in: list[float] = []
    for trial in range(TRIALS):
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
        env = dict(os.environ, TERM="xterm-256color")
        proc = subprocess.Popen(  # Textual draws on stderr: all three are the terminal
            [sys.executable, "-m", "gb10dash", "--config", str(lab.config_path), "tui", "--refresh", "1"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            preexec_fn=_controlling_terminal,
        )
        os.close(slave)
        try:
            _until_drawn(master, b"pegasus", 60)
        finally:
            os.close(master)  # the terminal closes: hangup, SIGHUP to the dashboard
        closed = time.monotonic()
        try:
            code = proc.wait(GRACE_S + 15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            raise AssertionError(
                f"trial {trial}: the dashboard outlived its closed terminal by {GRACE_S + 15:g} s"
            ) from None
        ended_in.append(time.monotonic() - closed)
        assert code == 0, f"trial {trial}: exit {code}"
    print(f"\nended {', '.join(f'{s:.1f} s' for s in ended_in)} after the terminal closed (grace {GRACE_S:g} s)")
