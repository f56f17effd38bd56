"""The one HTTP client factory: never through the environment's proxy, the Bearer key when the server
has one, the caller's timeouts, and the pollers' small pool only where asked for."""

from __future__ import annotations

import httpx

from gb10dash.collectors.llama_client import LlamaClient
from gb10dash.collectors.router_client import RouterClient
from gb10dash.transport.http import POLLER_LIMITS, bearer_headers, http_client


def max_connections(client: httpx.AsyncClient) -> int:
    return client._transport._pool._max_connections  # type: ignore[attr-defined]


async def test_a_client_ignores_the_environments_proxy_and_keeps_the_callers_settings(monkeypatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    timeout = httpx.Timeout(180.0, connect=5.0, write=10.0, pool=5.0)
    async with http_client("http://spark:8000", timeout=timeout, headers=bearer_headers("k")) as client:
        assert not client.trust_env and not client._mounts  # no proxy transport mounted
        assert client.timeout == timeout
        assert client.headers["Authorization"] == "Bearer k"
        assert client.base_url == httpx.URL("http://spark:8000")
        assert max_connections(client) == 100  # httpx's default pool
    async with http_client("http://spark:8000", timeout=timeout, limits=POLLER_LIMITS) as client:
        assert "Authorization" not in client.headers and max_connections(client) == 4


def test_no_key_no_header() -> None:
    assert bearer_headers(None) == {} and bearer_headers("") == {}


async def test_the_pollers_clients() -> None:
    llama = LlamaClient("http://spark:8000/", timeout_s=1.0, api_key="secret")
    router = RouterClient(llama.base_url, headers=llama.headers, timeout_s=10.0)
    try:
        plain = llama._plain  # plain http: the small keep-alive GET client, two connections kept
        assert plain is not None and llama._https is None
        assert (plain.timeout_s, plain.connect_timeout_s, plain.max_idle) == (1.0, 1.0, 2)
        assert b"Authorization: Bearer secret\r\n" in plain._head
        assert router._http.timeout == httpx.Timeout(10.0, connect=3.0)
        assert router._http.headers["Authorization"] == "Bearer secret" and not router._http.trust_env
        assert max_connections(router._http) == 4
    finally:
        await llama.aclose()
        await router.aclose()
