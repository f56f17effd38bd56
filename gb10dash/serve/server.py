"""The web server of `gb10dash serve`: textual-serve's, with a token, an origin check and a session cap.

Each browser session gets its own app process (textual-serve's model); the checks run before it starts.
The token travels once as /?token=..., is swapped for an HttpOnly cookie and a redirect to /, and is never
logged (the access log is off)."""

from __future__ import annotations

import asyncio
import hmac
import signal
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web
from textual_serve.server import Server

from gb10dash.serve.session import QUIT_GRACE_S, run_session

COOKIE = "gb10dash_token"


class DashboardServer(Server):
    def __init__(
        self,
        command: str,
        host: str,
        port: int,
        *,
        token: str | None = None,
        read_only: bool = False,
        max_sessions: int = 4,
    ) -> None:
        super().__init__(command, host=host, port=port, title="gb10dash" + (" (read-only)" if read_only else ""))
        self._token = token
        self.read_only = read_only
        self.max_sessions = max_sessions
        self._sessions: set[asyncio.Task[object]] = set()  # one handler task per browser session (app process)

    def _token_ok(self, given: str | None) -> bool:
        if self._token is None:
            return True
        return given is not None and hmac.compare_digest(given.encode(), self._token.encode())

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        if self._token is not None and "token" in request.query:
            if not self._token_ok(request.query["token"]):
                return web.Response(status=403, text="gb10dash: wrong token\n")
            found = web.HTTPSeeOther("/")  # the token leaves the address bar
            found.set_cookie(
                COOKIE, self._token, httponly=True, samesite="Strict", path="/", secure=_scheme(request) == "https"
            )
            raise found
        if not self._token_ok(request.cookies.get(COOKIE)):
            return web.Response(
                status=401,
                text="gb10dash: this page needs the token: open /?token=TOKEN "
                "(TOKEN is in the --token-file the server was started with)\n",
            )
        base = f"{_scheme(request)}://{request.host}"
        ws_scheme = "wss" if base.startswith("https") else "ws"
        context: dict[str, Any] = {
            "font_size": _int(request.query.get("fontsize"), 16),
            "app_websocket_url": f"{ws_scheme}://{request.host}/ws",
            "config": {"static": {"url": f"{base}/static/"}},
            "application": {"name": self.title},
        }
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:  # type: ignore[override]
        """Checks the token, the page's origin and the session cap, then starts this session's app."""
        if not self._token_ok(request.cookies.get(COOKIE)):
            return web.Response(status=401, text="token needed\n")
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            # another site's page in the operator's browser must not drive the dashboard
            return web.Response(status=403, text="cross-origin websocket refused\n")
        if len(self._sessions) >= self.max_sessions:
            return web.Response(status=503, text=f"{self.max_sessions} browser sessions already open\n")
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        try:
            return await run_session(request, self.command, self.download_manager, self.debug, self._process_messages)
        finally:
            self._sessions.discard(task)

    async def on_shutdown(self, app: web.Application) -> None:
        """Ends the open sessions: each app is told to quit and its page closed (else Ctrl+C waits on them)."""
        for task in list(self._sessions):
            task.cancel()
        if self._sessions:
            await asyncio.wait(list(self._sessions), timeout=QUIT_GRACE_S + 2)  # each stop is bounded

    async def on_startup(self, app: web.Application) -> None:
        mode = "read-only" if self.read_only else "full control"
        login = ", token required (open /?token=TOKEN)" if self._token else ""
        where = (
            f"every interface, port {self.port}"
            if self.host in ("", "0.0.0.0", "::")
            else f"http://{_url_host(self.host)}:{self.port}/"
        )
        self.console.print(
            f"gb10dash serve: {where} ({mode}{login}); one app process per browser session, "
            f"at most {self.max_sessions}; Ctrl+C stops",
            highlight=False,
            soft_wrap=True,
        )

    def serve(self, debug: bool = False) -> None:
        """Runs until SIGINT/SIGTERM; open sessions' apps are told to quit on the way out."""
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_exit)
        web.run_app(
            self._make_app(),
            host=self.host,
            port=self.port,
            handle_signals=False,
            loop=loop,
            print=None,
            access_log=None,
            shutdown_timeout=5,
        )


def _scheme(request: web.Request) -> str:
    """https behind a TLS reverse proxy that says so; it only picks ws or wss for this client's own page."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return "https" if forwarded == "https" or request.secure else "http"


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default
