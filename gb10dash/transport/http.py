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

#: a poller's pool: a few requests to one server may overlap; two idle connections wait for the next poll
POLLER_LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=2)


def bearer_headers(api_key: str | None) -> dict[str, str]:
    """The Authorization header of a server started with `--api-key` (none without a key)."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


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
