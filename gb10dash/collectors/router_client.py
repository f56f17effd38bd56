"""Async HTTP client for a router-mode llama-server: list, load, unload, follow /models/sse.

Bounded like LlamaClient: a timeout on every request, a cap on bodies and on each SSE line;
the event stream is bounded in time by its caller. Built by transport.http: never through a proxy.
httpx is imported when a client is made (a swap on a router host), not when the dashboard starts.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Self

from gb10dash.collectors.llama_client import MAX_BODY_BYTES
from gb10dash.collectors.router import (
    RouterEvent,
    RouterModel,
    parse_error_body,
    parse_router_models,
    router_events,
)
from gb10dash.transport.sse import SseParser

if TYPE_CHECKING:
    import httpx

MAX_EVENT_BYTES = 256 * 1024  # a `loaded` event carries the model's info: a few KiB; a longer line is skipped


class RouterError(Exception):
    """The router refused a request or could not be reached (the message says which)."""


class RouterClient:
    def __init__(
        self,
        base_url: str,
        *,
        headers: dict[str, str] | None = None,
        timeout_s: float = 10.0,
        max_body: int = MAX_BODY_BYTES,
    ):
        """headers: LlamaClient.headers (the Bearer key of `--api-key`, if any)."""
        import httpx

        from gb10dash.transport.http import POLLER_LIMITS, http_client

        self.base_url = base_url.rstrip("/")
        self.max_body = max_body
        self._http: httpx.AsyncClient = http_client(
            self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(3.0, timeout_s)),
            limits=POLLER_LIMITS,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def _request(self, method: str, path: str, body: dict[str, str] | None = None) -> tuple[int, str]:
        import httpx

        from gb10dash.transport.http import read_capped

        content = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if body is not None else None
        try:
            async with self._http.stream(method, path, content=content, headers=headers) as response:
                text = await read_capped(response, self.max_body + 1)
                if len(text.encode()) > self.max_body:
                    raise RouterError(f"{path}: body larger than {self.max_body // 1024} KiB")
                return response.status_code, text
        except httpx.TimeoutException:
            raise RouterError(f"{self.base_url}{path} timed out") from None
        except httpx.HTTPError as exc:
            reason = "connection refused or host unreachable" if isinstance(exc, httpx.ConnectError) else str(exc)
            raise RouterError(f"{self.base_url}{path}: {reason}") from None

    async def models(self) -> tuple[RouterModel, ...]:
        status, body = await self._request("GET", "/models")
        if status != 200:
            raise RouterError(f"GET /models: {parse_error_body(status, body)}")
        try:
            return parse_router_models(body)
        except ValueError as exc:
            raise RouterError(str(exc)) from None

    async def _post(self, path: str, model_id: str) -> None:
        status, body = await self._request("POST", path, {"model": model_id})
        if status != 200:
            raise RouterError(f"POST {path} {model_id}: {parse_error_body(status, body)}")

    async def load(self, model_id: str) -> None:
        await self._post("/models/load", model_id)

    async def unload(self, model_id: str) -> None:
        await self._post("/models/unload", model_id)

    async def events(self) -> AsyncIterator[RouterEvent]:
        """GET /models/sse, one RouterEvent per model event, for as long as the caller reads (bound it
        with a timeout: an idle router sends nothing, not even its headers)."""
        import httpx

        from gb10dash.transport.http import read_capped

        timeout = httpx.Timeout(None, connect=3.0)  # reads wait for the next event; the caller bounds it
        try:
            async with self._http.stream("GET", "/models/sse", timeout=timeout) as response:
                if response.status_code != 200:
                    detail = parse_error_body(response.status_code, await read_capped(response, 4096))
                    raise RouterError(f"GET /models/sse: {detail}")
                parser = SseParser(max_line=MAX_EVENT_BYTES)
                async for chunk in response.aiter_bytes():
                    for event in router_events(parser.feed(chunk)):
                        yield event
                for event in router_events(parser.finish()):
                    yield event
        except httpx.HTTPError as exc:
            raise RouterError(f"{self.base_url}/models/sse: {type(exc).__name__}: {exc}") from None
