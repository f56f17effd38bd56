"""The wedge canary: `/health` can say ok while llama-server no longer answers requests.

Every `interval_s` (default 5 min) one tiny chat request (a few tokens, bounded by `timeout_s`) goes
to the host's API; the host is "wedged" when it fails, times out, or generates slower than `min_tps`.
An optional auto-restart policy (off by default) restarts a wedged host through the same audited
restart plan as `r`, at most `max_restarts_per_hour` times. Settings: [canary] in hosts.toml. This
module never imports Textual; the dashboard runs it as one worker per host.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gb10dash.collectors.llama_client import LlamaClient
from gb10dash.config.errors import ConfigError
from gb10dash.config.errors import Locator as _Locator
from gb10dash.config.errors import unknown_key as _unknown

PROMPT = "Reply with the single word OK."
MAX_BODY = 256 * 1024
UNHEALTHY_RECHECK_S = 1.0  # how often a host not probed (down, loading, busy) is looked at again


@dataclass(frozen=True, slots=True)
class CanarySettings:
    enabled: bool = True
    interval_s: float = 300.0
    timeout_s: float = 30.0
    max_tokens: int = 8
    min_tps: float | None = None  # None: any answer in time counts as alive
    auto_restart: bool = False
    max_restarts_per_hour: int = 2


@dataclass(frozen=True, slots=True)
class CanaryResult:
    at: float
    ok: bool
    seconds: float
    tokens: int | None = None
    tps: float | None = None
    error: str | None = None

    def describe(self) -> str:
        if self.ok:
            return (
                f"canary ok: {self.tokens} tokens at {self.tps:,.1f} tok/s in {self.seconds:.1f} s"
                if self.tps is not None
                else f"canary ok in {self.seconds:.1f} s"
            )
        return f"wedged: {self.error}"


def judge(status: int, body: str, seconds: float, settings: CanarySettings, at: float) -> CanaryResult:
    """The verdict on one canary answer (pure): an HTTP 200 with a completion, fast enough."""
    if status != 200:
        return CanaryResult(at, False, seconds, error=f"the canary request got HTTP {status}")
    try:
        doc = json.loads(body)
        timings = doc.get("timings") or {}
        tokens = int((doc.get("usage") or {}).get("completion_tokens") or timings.get("predicted_n") or 0)
        tps = timings.get("predicted_per_second")
        tps = float(tps) if isinstance(tps, (int, float)) and math.isfinite(tps) else None
    except (ValueError, AttributeError, TypeError):
        return CanaryResult(at, False, seconds, error="the canary answer is not a chat completion")
    if tokens <= 0:
        return CanaryResult(at, False, seconds, tokens=0, error="the canary answer generated no tokens")
    if settings.min_tps is not None and tps is not None and tps < settings.min_tps:
        return CanaryResult(
            at, False, seconds, tokens, tps, error=f"the canary generated {tps:,.1f} tok/s, below {settings.min_tps:g}"
        )
    return CanaryResult(at, True, seconds, tokens, tps)


async def probe(client: LlamaClient, settings: CanarySettings) -> CanaryResult:
    """One canary request, bounded by settings.timeout_s (connect included)."""
    import httpx  # only when a canary runs: the dashboard starts without httpx (issue 22, RSS)

    from gb10dash.transport.http import http_client, read_capped

    at, started = time.time(), time.monotonic()
    payload = {
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": settings.max_tokens,
        "temperature": 0,
        "stream": False,
        "cache_prompt": False,
    }
    timeout = httpx.Timeout(settings.timeout_s, connect=min(5.0, settings.timeout_s))
    try:
        async with (
            http_client(client.base_url, timeout=timeout, headers=client.headers) as http,
            http.stream("POST", "/v1/chat/completions", json=payload) as response,
        ):
            body = await read_capped(response, MAX_BODY)
            status = response.status_code
    except httpx.TimeoutException:
        return CanaryResult(
            at, False, time.monotonic() - started, error=f"no answer to the canary within {settings.timeout_s:g} s"
        )
    except httpx.HTTPError as exc:
        return CanaryResult(at, False, time.monotonic() - started, error=f"the canary request failed: {exc}")
    except ValueError as exc:  # a body over the cap
        return CanaryResult(at, False, time.monotonic() - started, error=f"the canary answer: {exc}")
    return judge(status, body, time.monotonic() - started, settings, at)


class RestartBudget:
    """At most `per_hour` automatic restarts in any rolling hour."""

    def __init__(self, per_hour: int):
        self.per_hour = per_hour
        self.used: deque[float] = deque()

    def take(self, now: float) -> bool:
        while self.used and now - self.used[0] >= 3600.0:
            self.used.popleft()
        if len(self.used) >= self.per_hour:
            return False
        self.used.append(now)
        return True


_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "enabled": ((bool,), "true or false"),
    "interval_s": ((int, float), "a number of seconds ≥ 10"),
    "timeout_s": ((int, float), "a positive number of seconds"),
    "max_tokens": ((int,), "an integer from 1 to 256"),
    "min_tps": ((int, float), "a positive number of tokens per second"),
    "auto_restart": ((bool,), "true or false"),
    "max_restarts_per_hour": ((int,), "an integer from 0 to 60"),
}


def _valid(key: str, value: Any) -> bool:
    if key in ("enabled", "auto_restart"):
        return True
    if key == "interval_s":
        return value >= 10
    if key == "max_tokens":
        return 1 <= value <= 256
    if key == "max_restarts_per_hour":
        return 0 <= value <= 60
    return value > 0 and math.isfinite(value)


def parse_canary(raw: Any, path: Path, loc: _Locator) -> CanarySettings:
    """[canary] → CanarySettings; ConfigError naming the line for an unknown key or a bad value."""
    if raw is None:
        return CanarySettings()
    if not isinstance(raw, dict):
        raise ConfigError(path, "key 'canary': expected a table [canary]", loc.find(None, None, "canary"))
    values: dict[str, Any] = {}
    for key, value in raw.items():
        line = loc.find("canary", None, key)
        if key not in _KEYS:
            raise ConfigError(path, _unknown(key, _KEYS, "[canary]"), line)
        types, expected = _KEYS[key]
        if isinstance(value, bool) != (bool in types) or not isinstance(value, types) or not _valid(key, value):
            raise ConfigError(path, f"[canary] {key}: expected {expected}, not {value!r}", line)
        if float in types and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = float(value)
        values[key] = value
    return CanarySettings(**values)


class CanaryRunner:
    """One host's canary loop: probe every interval while the host says it is healthy; report each
    verdict; on a wedge, call `restart` when auto-restart is on and the hourly budget allows."""

    def __init__(
        self,
        settings: CanarySettings,
        client: Callable[[], Awaitable[LlamaClient]],
        *,
        healthy: Callable[[], bool],
        on_result: Callable[[CanaryResult], None],
        restart: Callable[[CanaryResult], Awaitable[None]] | None = None,
        first_after_s: float = 30.0,
    ):
        self.settings, self.client, self.healthy = settings, client, healthy
        self.on_result, self.restart = on_result, restart
        self.budget = RestartBudget(settings.max_restarts_per_hour)
        self.first_after_s = first_after_s

    async def run(self) -> None:
        await asyncio.sleep(min(self.first_after_s, self.settings.interval_s))
        while True:
            if not self.healthy():  # a host that is down or loading is not probed: that is not a wedge
                await asyncio.sleep(min(UNHEALTHY_RECHECK_S, self.settings.interval_s))  # probed once it is back
                continue
            result = await probe(await self.client(), self.settings)
            self.on_result(result)
            if (
                not result.ok
                and self.settings.auto_restart
                and self.restart is not None
                and self.budget.take(time.time())
            ):
                await self.restart(result)
            await asyncio.sleep(self.settings.interval_s)
