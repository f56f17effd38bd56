"""The one place that builds HTTP clients (httpx) for the hosts' llama-servers.

Every client gets the server's base URL, the headers every request needs (the Bearer key of
`--api-key`), the caller's timeouts (a poll is short, a chat or bench answer long) and pool, and
trust_env=False: a proxy from the environment (HTTP_PROXY, …) must never carry the hosts' traffic
and their API key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from gb10dash.transport.http_get import bearer_headers

__all__ = ["POLLER_LIMITS", "bearer_headers", "http_client", "read_capped"]

#: a poller's pool: a few requests to one server may overlap; two idle connections wait for the next poll
POLLER_LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=2)


def http_client(
    base_url: str,
    *,
    timeout: httpx.Timeout,
    headers: Mapping[str, str] | None = None,
    limits: httpx.Limits | None = None,
) -> httpx.AsyncClient:
    """An AsyncClient for one server; `limits` None: httpx's own default pool."""
    pool: dict[str, Any] = {"limits": limits} if limits is not None else {}
    return httpx.AsyncClient(base_url=base_url, headers=headers, timeout=timeout, trust_env=False, **pool)


async def read_capped(response: httpx.Response, limit: int) -> str:
    """The start of a (streamed) response body, at most `limit` bytes, as text: for error messages."""
    raw = b""
    async for chunk in response.aiter_bytes():
        raw += chunk
        if len(raw) > limit:
            break
    return raw[:limit].decode("utf-8", errors="replace")
