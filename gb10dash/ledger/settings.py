"""[ledger] of hosts.toml: whether the running front ends keep the token ledger, and where."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gb10dash.config.errors import ConfigError, Locator, unknown_key

_KEYS: dict[str, tuple[type, str]] = {
    "enabled": (bool, "true or false (false: the dashboard, watch and the exporter keep no ledger)"),
    "path": (str, "the path of the ledger's SQLite file (relative to hosts.toml; default: the XDG state dir)"),
}


@dataclass(frozen=True, slots=True)
class LedgerSettings:
    enabled: bool = True
    path: Path | None = None  # None: $XDG_STATE_HOME/gb10dash/ledger.sqlite3


def parse_ledger(raw: Any, path: Path, loc: Locator) -> LedgerSettings:
    """[ledger] → LedgerSettings; ConfigError naming the line for an unknown key or a bad value."""
    if raw is None:
        return LedgerSettings()
    if not isinstance(raw, dict):
        raise ConfigError(path, "key 'ledger': expected a table [ledger]", loc.find(None, None, "ledger"))
    values: dict[str, Any] = {}
    for key, value in raw.items():
        line = loc.find("ledger", None, key)
        if key not in _KEYS:
            raise ConfigError(path, unknown_key(key, _KEYS, "[ledger]"), line)
        kind, expected = _KEYS[key]
        if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
            raise ConfigError(path, f"[ledger] {key}: expected {expected}, not {value!r}", line)
        values[key] = (path.parent / value).absolute() if isinstance(value, str) else value
    return LedgerSettings(**values)
