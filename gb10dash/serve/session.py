"""One browser session: its app process (textual-serve's AppService), and a stop that cannot hang.

textual-serve asks the app to quit when the page goes and then waits for it without end; here an app that
has not exited QUIT_GRACE_S later is killed, so a closed page never leaves a process (and its SSH
connections) behind, nor holds one of the server's session places."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import cast

from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager
from textual_serve.server import to_int

QUIT_GRACE_S = 10.0
log = logging.getLogger("gb10dash.serve")


class BoundedAppService(AppService):
    quit_grace_s = QUIT_GRACE_S

    async def stop(self) -> None:
        if self._task is None:
            return
        task, self._task = self._task, None
        await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
        await self.send_meta({"type": "quit"})
        try:
            async with asyncio.timeout(self.quit_grace_s):
                await asyncio.shield(task)
        except TimeoutError:
            if self._process is not None and self._process.returncode is None:
                log.warning("the session's app did not quit within %g s: killed", self.quit_grace_s)
                self._process.kill()  # the command starts with exec: this is the app itself
                await self._process.wait()
            await task


async def run_session(
    request: web.Request, command: str, downloads: DownloadManager, debug: bool, process_messages
) -> web.WebSocketResponse:
    """textual-serve's websocket handler with the bounded stop: the page's keys in, the app's screen out."""
    websocket = web.WebSocketResponse(heartbeat=15)
    width = to_int(request.query.get("width", "80"), 80)
    height = to_int(request.query.get("height", "24"), 24)
    service: BoundedAppService | None = None
    try:
        await websocket.prepare(request)
        service = BoundedAppService(
            command,
            write_bytes=websocket.send_bytes,
            write_str=websocket.send_str,
            # textual-serve awaits close() and drops the result: aiohttp's returns a bool, not None
            close=cast("Callable[[], Awaitable[None]]", websocket.close),
            download_manager=downloads,
            debug=debug,
        )
        await service.start(width, height)
        await process_messages(websocket, service)
    except asyncio.CancelledError:  # the server is stopping
        await websocket.close()
    except Exception:
        log.exception("browser session failed")
    finally:
        if service is not None:
            await service.stop()
    return websocket
