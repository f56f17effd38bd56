"""A browser session's stop is bounded: an app that ignores textual-serve's quit is killed, not waited on."""

from __future__ import annotations

import asyncio
import shlex
import sys
import time

from textual_serve.download_manager import DownloadManager

from gb10dash.serve.session import BoundedAppService

# a real process that never speaks textual-serve's protocol and ignores its quit packet
DEAF = "exec " + shlex.join([sys.executable, "-c", "import time; time.sleep(60)"])


async def _discard(_data: object) -> None:
    return None


async def _start(command: str) -> BoundedAppService:
    service = BoundedAppService(
        command,
        write_bytes=_discard,
        write_str=_discard,
        close=lambda: _discard(None),
        download_manager=DownloadManager(),
    )
    await service.start(80, 24)
    return service


async def test_an_app_that_does_not_quit_is_killed_after_the_grace() -> None:
    service = await _start(DEAF)
    service.quit_grace_s = 0.5
    process = service._process
    assert process is not None
    started = time.monotonic()
    await asyncio.wait_for(service.stop(), 20)
    assert process.returncode is not None and process.returncode < 0  # killed by a signal
    assert time.monotonic() - started < 15


async def test_stop_twice_is_harmless() -> None:
    service = await _start(DEAF)
    service.quit_grace_s = 0.2
    await asyncio.wait_for(service.stop(), 20)
    await asyncio.wait_for(service.stop(), 5)
