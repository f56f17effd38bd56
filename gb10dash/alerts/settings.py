"""The [alerts] section of hosts.toml → AlertSettings (defaults + overrides), errors as FILE:LINE.

```toml
[alerts]
bell = true                        # terminal bell when an alert is raised (the TUI)
notify = ["/usr/local/bin/page-me", "--team", "llm"]   # argv, the alert as JSON on stdin; no shell
notify_timeout_s = 10
[alerts.health]                    # one table per rule: for_s, clear_s, enabled, its thresholds
for_s = 30
load_timeout_s = 300
```
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gb10dash.config.errors import ConfigError
from gb10dash.config.errors import Locator as _Locator
from gb10dash.config.errors import unknown_key as _unknown

GIB_KIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """Per rule: hold `for_s` before it fires, be false for `clear_s` before it clears."""

    for_s: float
    clear_s: float = 10.0
    enabled: bool = True
    # rule thresholds (each rule reads the ones it needs)
    restarts: int = 3  # unit: automatic restarts ...
    restart_window_s: float = 600.0  # ... within this window
    load_timeout_s: float = 300.0  # health: loading is not an alert until the unit ran this long
    fraction: float = 0.3  # throughput: below baseline × (1 − fraction)
    max_age_s: float = 120.0  # throughput: only rates measured this recently count
    limit_c: float = 85.0  # gpu_temp
    max_power_w: float = 40.0  # power_low: power draw at or under this ...
    min_util_pct: float = 80.0  # ... while utilization.gpu is at least this
    reserve_gib: float = 4.0  # memory: MemAvailable below this
    some_pct: float = 10.0  # memory_pressure: PSI some avg10 (% of time a task stalled on memory) at least this ...
    full_pct: float = 2.0  # ... or PSI full avg10 (% of time every task stalled) at least this
    window_s: float = 900.0  # kernel: an Xid, the driver out of memory or an OOM kill this recent


#: the rules, in display order, with their default settings
DEFAULT_RULES: dict[str, RuleSettings] = {
    "unreachable": RuleSettings(for_s=30.0),
    "unit": RuleSettings(for_s=10.0),
    "health": RuleSettings(for_s=30.0),
    "share": RuleSettings(for_s=10.0),
    "throughput": RuleSettings(for_s=60.0, clear_s=30.0),
    "gpu_temp": RuleSettings(for_s=30.0, clear_s=30.0),
    "throttle": RuleSettings(for_s=60.0, clear_s=30.0),
    "power_low": RuleSettings(for_s=60.0, clear_s=30.0),
    "memory": RuleSettings(for_s=30.0, clear_s=30.0),
    "memory_pressure": RuleSettings(for_s=30.0, clear_s=30.0),
    "kernel": RuleSettings(for_s=0.0, clear_s=0.0),  # a kernel event is already a fact
    "wedged": RuleSettings(for_s=0.0),  # a canary verdict is already one request's timeout long
}

#: which threshold keys each rule accepts (besides for_s, clear_s, enabled)
RULE_KEYS: dict[str, tuple[str, ...]] = {
    "unreachable": (),
    "unit": ("restarts", "restart_window_s"),
    "health": ("load_timeout_s",),
    "share": (),
    "throughput": ("fraction", "max_age_s"),
    "gpu_temp": ("limit_c",),
    "throttle": (),
    "power_low": ("max_power_w", "min_util_pct"),
    "memory": ("reserve_gib",),
    "memory_pressure": ("some_pct", "full_pct"),
    "kernel": ("window_s",),
    "wedged": (),
}

_KEY_WORDS = {
    "for_s": "a number of seconds ≥ 0",
    "clear_s": "a number of seconds ≥ 0",
    "enabled": "true or false",
    "restarts": "a positive integer",
    "restart_window_s": "a positive number of seconds",
    "load_timeout_s": "a positive number of seconds",
    "fraction": "a number between 0 and 1 (0.3 = 30 % below the baseline)",
    "max_age_s": "a positive number of seconds",
    "limit_c": "a temperature in °C",
    "reserve_gib": "a positive number of GiB",
    "max_power_w": "a positive number of watts",
    "min_util_pct": "a percentage above 0, at most 100",
    "some_pct": "a percentage above 0, at most 100",
    "full_pct": "a percentage above 0, at most 100",
    "window_s": "a positive number of seconds",
}


@dataclass(frozen=True, slots=True)
class AlertSettings:
    rules: dict[str, RuleSettings] = field(default_factory=lambda: dict(DEFAULT_RULES))
    bell: bool = False
    notify: tuple[str, ...] = ()
    notify_timeout_s: float = 10.0

    def rule(self, name: str) -> RuleSettings:
        return self.rules[name]


def parse_alerts(raw: Any, path: Path, loc: _Locator) -> AlertSettings:
    """The [alerts] table (or None) → AlertSettings; a ConfigError names the file and line."""
    if raw is None:
        return AlertSettings()

    def fail(message: str, table: str | None, key: str | None) -> ConfigError:
        line = loc.find(table, None, key) if table else loc.find(None, None, key)
        if line is None and table and "." in table:
            line = loc.find("alerts", None, table.split(".", 1)[1])
        return ConfigError(path, message, line)

    if not isinstance(raw, dict):
        raise fail("key 'alerts': expected a table [alerts]", None, "alerts")
    top = {"bell", "notify", "notify_timeout_s", *DEFAULT_RULES}
    settings = AlertSettings()
    rules = dict(DEFAULT_RULES)
    for key, value in raw.items():
        if key not in top:
            raise fail(f"[alerts]: {_unknown(key, top, '[alerts]')}", "alerts", key)
        if key == "bell":
            if not isinstance(value, bool):
                raise fail(f"[alerts]: key 'bell': expected true or false, got {value!r}", "alerts", key)
            settings = replace(settings, bell=value)
        elif key == "notify":
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(a, str) and a for a in value)
                or "\x00" in "".join(value)
            ):
                raise fail(
                    "[alerts]: key 'notify': expected a command as an array of strings such as "
                    f'["/usr/local/bin/page-me", "--team", "llm"] (no shell), got {value!r}',
                    "alerts",
                    key,
                )
            settings = replace(settings, notify=tuple(value))
        elif key == "notify_timeout_s":
            if not _number(value) or value <= 0:
                raise fail(
                    f"[alerts]: key 'notify_timeout_s': expected a positive number of seconds, got {value!r}",
                    "alerts",
                    key,
                )
            settings = replace(settings, notify_timeout_s=float(value))
        else:
            rules[key] = _rule(key, value, fail)
    return replace(settings, rules=rules)


def _rule(name: str, raw: Any, fail: Any) -> RuleSettings:
    table = f"alerts.{name}"
    if not isinstance(raw, dict):
        raise fail(f"[alerts]: key {name!r}: expected a table [alerts.{name}]", "alerts", name)
    allowed = ("for_s", "clear_s", "enabled", *RULE_KEYS[name])
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in allowed:
            raise fail(f"[{table}]: {_unknown(key, allowed, f'[{table}]')}", table, key)
        expected = _KEY_WORDS[key]
        if key == "enabled":
            ok = isinstance(value, bool)
        elif key == "restarts":
            ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
        elif key in ("for_s", "clear_s"):
            ok = _number(value) and value >= 0
        elif key == "fraction":
            ok = _number(value) and 0 < value < 1
        elif key == "limit_c":
            ok = _number(value)
        elif key in ("min_util_pct", "some_pct", "full_pct"):
            ok = _number(value) and 0 < value <= 100
        else:
            ok = _number(value) and value > 0
        if not ok:
            raise fail(f"[{table}]: key {key!r}: expected {expected}, got {value!r}", table, key)
        values[key] = value if isinstance(value, bool) or key == "restarts" else float(value)
    return replace(DEFAULT_RULES[name], **values)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
