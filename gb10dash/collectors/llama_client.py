"""Async HTTP client for one llama-server (httpx), feeding the pure parsers in llama.py.

Every request is bounded: a timeout, and a cap on the body size. Endpoints that the
server has disabled (`/slots` without --slots, `/metrics` without --metrics) give None.
"""

from __future__ import annotations

import httpx

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
from gb10dash.transport.http import POLLER_LIMITS, bearer_headers, http_client

MAX_BODY_BYTES = 2 * 1024 * 1024
_DISABLED = (404, 501)


class LlamaClient:
    def __init__(
        self, base_url: str, *, timeout_s: float = 3.0, max_body: int = MAX_BODY_BYTES, api_key: str | None = None
    ):
        self.base_url = base_url.rstrip("/")
        self.max_body = max_body
        self._api_key = api_key
        self._http = http_client(
            self.base_url,
            headers=self.headers,
            timeout=httpx.Timeout(timeout_s, connect=min(2.0, timeout_s)),
            limits=POLLER_LIMITS,
        )

    @property
    def headers(self) -> dict[str, str]:
        """Headers every request to this server needs (the Bearer key of `--api-key`, if any):
        clients made from this one (chat, bench) pass them on."""
        return bearer_headers(self._api_key)

    def __repr__(self) -> str:
        return f"LlamaClient({self.base_url!r}{', api key set' if self._api_key else ''})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get(self, path: str, timeout_s: float | None = None) -> tuple[int, str]:
        """Status and body text; raises OSError-like httpx errors, ValueError when too big."""
        timeout = httpx.USE_CLIENT_DEFAULT if timeout_s is None else httpx.Timeout(timeout_s)
        async with self._http.stream("GET", path, timeout=timeout) as response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.max_body:
                    raise ValueError(f"{path}: body larger than {self.max_body // 1024} KiB")
                chunks.append(chunk)
            return response.status_code, b"".join(chunks).decode("utf-8", errors="replace")

    async def health(self, timeout_s: float | None = None) -> Health:
        """/health; `timeout_s` instead of the client's timeout (a quick check after another request failed)."""
        try:
            status, body = await self._get("/health", timeout_s)
        except httpx.TimeoutException:
            return health_down(f"{self.base_url}/health timed out")
        except httpx.HTTPError as exc:
            return health_down(f"{self.base_url}: {_reason(exc)}")
        except ValueError as exc:
            return health_down(str(exc))
        return parse_health(status, body)

    async def _json_endpoint(self, path: str, *, optional: bool = False) -> str | None:
        try:
            status, body = await self._get(path)
        except httpx.HTTPError as exc:
            raise ValueError(f"{path}: {_reason(exc)}") from None
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


def _reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused or host unreachable"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"


async def read_capped(response: httpx.Response, limit: int) -> str:
    """The start of a (streamed) response body, at most `limit` bytes, as text: for error messages."""
    raw = b""
    async for chunk in response.aiter_bytes():
        raw += chunk
        if len(raw) > limit:
            break
    return raw[:limit].decode("utf-8", errors="replace")
