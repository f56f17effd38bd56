"""Async HTTP client for one llama-server, feeding the pure parsers in llama.py.

Plain http (every host's poll, every second) goes through transport/http_get.py's small keep-alive
GET client; https through httpx (transport/http.py), imported only then. Every request is bounded: a
timeout, and a cap on the body size. Endpoints that the server has disabled (`/slots` without
--slots, `/metrics` without --metrics) give None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gb10dash.collectors.llama import (
    Health,
    Metrics,
    ModelInfo,
    Props,
    SlotInfo,
    health_down,
    parse_health,
    parse_metrics,
    parse_models,
    parse_props,
    parse_slots,
)
from gb10dash.transport.http_get import (
    ConnectFailed,
    HttpGetError,
    PlainHttp,
    ProtocolError,
    TimedOut,
    bearer_headers,
)

if TYPE_CHECKING:
    import httpx

MAX_BODY_BYTES = 2 * 1024 * 1024
_DISABLED = (404, 501)


class LlamaClient:
    def __init__(
        self, base_url: str, *, timeout_s: float = 3.0, max_body: int = MAX_BODY_BYTES, api_key: str | None = None
    ):
        self.base_url = base_url.rstrip("/")
        self.max_body = max_body
        self._api_key = api_key
        self.timeout_s, self.connect_timeout_s = timeout_s, min(2.0, timeout_s)
        plain = self.base_url.lower().startswith("http://")
        self._plain = (
            PlainHttp(
                self.base_url, timeout_s=timeout_s, connect_timeout_s=self.connect_timeout_s, headers=self.headers
            )
            if plain
            else None
        )
        self._https: httpx.AsyncClient | None = None  # made at the first request to an https server

    @property
    def headers(self) -> dict[str, str]:
        """Headers every request to this server needs (the Bearer key of `--api-key`, if any):
        clients made from this one (chat, bench) pass them on."""
        return bearer_headers(self._api_key)

    def __repr__(self) -> str:
        return f"LlamaClient({self.base_url!r}{', api key set' if self._api_key else ''})"

    async def aclose(self) -> None:
        if self._plain is not None:
            await self._plain.aclose()
        if self._https is not None:
            await self._https.aclose()

    async def _get(self, path: str, timeout_s: float | None = None) -> tuple[int, str]:
        """Status and body text; raises HttpGetError (its message the reason), ValueError when too big."""
        if self._plain is not None:
            status, raw = await self._plain.get(path, max_body=self.max_body, timeout_s=timeout_s)
            return status, raw.decode("utf-8", errors="replace")
        return await self._get_https(path, timeout_s)

    async def _get_https(self, path: str, timeout_s: float | None) -> tuple[int, str]:
        import httpx

        from gb10dash.transport.http import POLLER_LIMITS, http_client

        if self._https is None:
            timeout = httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s)
            self._https = http_client(self.base_url, headers=self.headers, timeout=timeout, limits=POLLER_LIMITS)
        timeout_arg = httpx.USE_CLIENT_DEFAULT if timeout_s is None else httpx.Timeout(timeout_s)
        try:
            async with self._https.stream("GET", path, timeout=timeout_arg) as response:
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_body:
                        raise ValueError(f"{path}: body larger than {self.max_body // 1024} KiB")
                    chunks.append(chunk)
                return response.status_code, b"".join(chunks).decode("utf-8", errors="replace")
        except httpx.TimeoutException:
            raise TimedOut("timed out") from None
        except httpx.ConnectError:
            raise ConnectFailed("connection refused or host unreachable") from None
        except httpx.HTTPError as exc:
            raise ProtocolError(f"{type(exc).__name__}: {exc}") from None

    async def health(self, timeout_s: float | None = None) -> Health:
        """/health; `timeout_s` instead of the client's timeout (a quick check after another request failed)."""
        try:
            status, body = await self._get("/health", timeout_s)
        except TimedOut:
            return health_down(f"{self.base_url}/health timed out")
        except HttpGetError as exc:
            return health_down(f"{self.base_url}: {exc}")
        except ValueError as exc:
            return health_down(str(exc))
        return parse_health(status, body)

    async def _json_endpoint(self, path: str, *, optional: bool = False) -> str | None:
        try:
            status, body = await self._get(path)
        except HttpGetError as exc:
            raise ValueError(f"{path}: {exc}") from None
        if optional and status in _DISABLED:
            return None
        if status != 200:
            raise ValueError(f"{path} answered HTTP {status}: {body[:200].strip()}")
        return body

    async def models(self) -> tuple[ModelInfo, ...]:
        body = await self._json_endpoint("/v1/models")
        assert body is not None
        return parse_models(body)

    async def props(self) -> Props:
        body = await self._json_endpoint("/props")
        assert body is not None
        return parse_props(body)

    async def slots(self) -> tuple[SlotInfo, ...] | None:
        body = await self._json_endpoint("/slots", optional=True)
        return None if body is None else parse_slots(body)

    async def metrics(self) -> Metrics | None:
        body = await self._json_endpoint("/metrics", optional=True)
        return None if body is None else parse_metrics(body)
