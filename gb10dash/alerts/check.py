"""`gb10dash check`: the alerts active now, for cron and systemd timers (exit 1 while any is active).

Two ways to collect, since an alert's `for_s` needs time to pass:
- `--window 0` (the default): one snapshot of every host, like `gb10dash status`, and every rule
  judged on it at once — durations are not waited for (a condition that carries its own start,
  such as "loading since the unit started", still counts from then).
- `--window S`: monitors watch every host; once each has given its first data, S seconds more are
  watched and the engine runs every second with each rule's `for_s` and `clear_s` shortened to S
  where longer. An alert is reported when its condition held for its `for_s`, or for the whole
  window if that is shorter; conditions still waiting are listed as pending (exit 0 for those).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import time
from collections.abc import Sequence

from gb10dash.alerts.engine import Alert, Pending
from gb10dash.alerts.settings import AlertSettings
from gb10dash.config import Config
from gb10dash.core.fleet import Fleet
from gb10dash.core.state import HostState
from gb10dash.format import clock, iso_utc

EXIT_OK, EXIT_ALERTS = 0, 1
SCHEMA = "gb10dash.check/1"


def shortened(settings: AlertSettings, window_s: float) -> AlertSettings:
    """Every rule's for_s and clear_s at most `window_s`."""
    rules = {
        name: dataclasses.replace(rule, for_s=min(rule.for_s, window_s), clear_s=min(rule.clear_s, window_s))
        for name, rule in settings.rules.items()
    }
    return dataclasses.replace(settings, rules=rules)


async def run_check(config: Config, names: Sequence[str], *, window_s: float = 0.0, as_json: bool = False) -> int:
    hosts = config.select(names)
    settings = shortened(config.alerts, max(0.0, window_s))
    fleet = Fleet(config, hosts, alerts=settings)
    if window_s <= 0:
        await fleet.snapshot()
    else:
        fleet.canary_first_after_s = 0.0  # within the window: as soon as a host says it is healthy
        await _watch(fleet, window_s, settle_s=config.ssh.connect_timeout_s + 15)
    engine = fleet.engine
    pending = [p for h in hosts for p in engine.pending_for(h.name)]
    if as_json:
        doc = {
            "schema": SCHEMA,
            "checked_at": iso_utc(time.time()),
            "window_s": window_s,
            "hosts": [h.name for h in hosts],
            "active": [a.to_json() for a in engine.active],
            "pending": [_pending_json(p) for p in pending],
        }
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        sys.stdout.write(render(engine.active, pending, len(hosts)))
    return EXIT_ALERTS if engine.active else EXIT_OK


async def _watch(fleet: Fleet, window_s: float, settle_s: float) -> None:
    async with fleet.running():
        deadline = time.monotonic() + settle_s
        while time.monotonic() < deadline:
            tick = fleet.tick(time.time(), every_host=True)
            if all(_has_data(s) for s in tick.states.values()):
                break
            await asyncio.sleep(0.2)
        end = time.monotonic() + window_s
        while True:
            fleet.tick(time.time(), every_host=True)
            if time.monotonic() >= end:
                break
            await asyncio.sleep(min(1.0, max(0.0, end - time.monotonic())))


def _has_data(state: HostState) -> bool:
    if not state.connected:
        return state.unreachable_since is not None
    return all(name in state.sources for name in ("unit", "health", "mount", "memory"))


def render(active: Sequence[Alert], pending: Sequence[Pending], n_hosts: int) -> str:
    lines = [f"{a.severity.upper():8} {a.host} {a.rule}: {a.message} (since {clock(a.since)})" for a in active]
    lines += [
        f"pending  {p.host} {p.rule}: {p.condition.message} (since {clock(p.since)}, fires at {clock(p.fires_at)})"
        for p in pending
    ]
    head = (f"{len(active)} alert{'s' if len(active) != 1 else ''} active" if active else "no alerts") + (
        f" on {n_hosts} host{'s' if n_hosts != 1 else ''} checked"
    )
    return "\n".join([*lines, head]) + "\n"


def _pending_json(p: Pending) -> dict[str, object]:
    return {
        "host": p.host,
        "rule": p.rule,
        "severity": p.condition.severity,
        "message": p.condition.message,
        "since": iso_utc(p.since),
        "fires_at": iso_utc(p.fires_at),
    }
