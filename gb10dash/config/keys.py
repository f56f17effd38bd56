"""The [keys] section of hosts.toml: remap the dashboard's keys (the defaults clash with some tmux
prefixes and terminal setups). Pure: ids and key syntax are checked here, errors as FILE:LINE.

```toml
[keys]
restart = "ctrl+r"          # a binding id (the action) = one key, or several separated by commas
next_host = "n,right"
```
Key names are Textual's: letters, digits, `ctrl+x`, `shift+x`, `f1`…`f24`, `right`, `escape`, …
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from gb10dash.commands import BINDABLE
from gb10dash.config.errors import ConfigError, unknown_key
from gb10dash.config.errors import Locator as _Locator

#: binding id → what it does (generated from the command registry: every command that has a key)
ACTIONS = BINDABLE
_MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")
_NAMED = re.compile(r"^(?:[a-z0-9]|f(?:[1-9]|1[0-9]|2[0-4])|[a-z_]{2,24})$")


def _key_ok(key: str) -> bool:
    parts = key.split("+")
    *mods, last = parts
    if not last or any(m not in _MODIFIERS for m in mods):
        return False
    return bool(_NAMED.match(last)) or (len(last) == 1 and last.isprintable() and not last.isspace() and last != ",")


def parse_keys(raw: Any, path: Path, loc: _Locator) -> dict[str, str]:
    """{binding id: "key[,key…]"}; ConfigError naming the line for an unknown id or a bad key."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(path, "key 'keys': expected a table [keys]", loc.find(None, None, "keys"))
    keymap: dict[str, str] = {}
    claimed: dict[str, str] = {}
    for action, value in raw.items():
        line = loc.find("keys", None, action)
        if action not in ACTIONS:
            raise ConfigError(path, unknown_key(action, ACTIONS, "[keys]"), line)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(path, f'[keys] {action}: expected a key such as "ctrl+r" (several: "n,right")', line)
        keys = [k.strip() for k in value.split(",")]
        for key in keys:
            if not _key_ok(key):
                raise ConfigError(
                    path, f'[keys] {action}: {key!r} is not a key name (examples: "r", "ctrl+r", "f5", "right")', line
                )
            if key in claimed:
                raise ConfigError(path, f"[keys] {action}: {key!r} is already the key of {claimed[key]}", line)
            claimed[key] = action
        keymap[action] = ",".join(keys)
    return keymap
