"""Notifier: runs the configured `notify` argv (no shell) with one alert event as JSON on stdin.

Bounded: the command gets `timeout_s`, then its whole process group is killed; at most the last
2 KiB of its stderr is kept. A failure is returned as a worded string, never raised, so a broken
notify command cannot take the dashboard or the exporter down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal

from gb10dash.alerts.engine import AlertEvent

STDERR_KEEP = 2048


class Notifier:
    def __init__(self, argv: tuple[str, ...] | list[str], timeout_s: float = 10.0):
        self.argv = tuple(argv)
        self.timeout_s = timeout_s

    @property
    def enabled(self) -> bool:
        return bool(self.argv)

    async def send(self, event: AlertEvent) -> str | None:
        """Run the command for one event; None when it exited 0, else why it failed."""
        if not self.argv:
            return None
        name = os.path.basename(self.argv[0])
        document = (json.dumps(event.to_json()) + "\n").encode()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            return f"notify: cannot run {self.argv[0]}: {exc.strerror or exc}"
        try:
            async with asyncio.timeout(self.timeout_s):
                stderr = await _talk(proc, document)
        except TimeoutError:
            _kill_group(proc)
            await proc.wait()
            return f"notify: {name} did not finish within {self.timeout_s:g} s (killed)"
        except BaseException:
            _kill_group(proc)
            raise
        code = await proc.wait()  # _talk waited for it: its exit status, at once
        if code != 0:
            how = f"exited {code}" if code > 0 else f"killed by signal {-code}"
            tail = stderr.decode("utf-8", "replace").strip().splitlines()
            return f"notify: {name} {how}" + (f": {tail[-1][:300]}" if tail else "")
        return None


async def _talk(proc: asyncio.subprocess.Process, document: bytes) -> bytes:
    assert proc.stdin is not None and proc.stderr is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        proc.stdin.write(document)
        await proc.stdin.drain()
    proc.stdin.close()
    kept = b""
    while chunk := await proc.stderr.read(65536):
        kept = (kept + chunk)[-STDERR_KEEP:]
    await proc.wait()
    return kept


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
