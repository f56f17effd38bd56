"""Config errors, worded for the operator with FILE:LINE, and the locator that finds a key's line in a TOML
text: shared by config.py and every section parser ([alerts], [canary], [keys]) without importing config."""

from __future__ import annotations

import difflib
import re
import tomllib
from pathlib import Path
from typing import Any

_HEADER_RE = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\"-]+)\s*\]\]?\s*(#.*)?$")


class ConfigError(Exception):
    """A config problem, already worded for the operator."""

    def __init__(self, path: Path | None, message: str, line: int | None = None):
        self.path, self.line, self.message = path, line, message
        where = str(path) if path else "<config>"
        if line is not None:
            where += f":{line}"
        super().__init__(f"{where}: {message}")


def unknown_key(key: str, known: Any, where: str) -> str:
    """`unknown key 'x' in WHERE (did you mean 'y'?); valid keys: …`"""
    message = f"unknown key {key!r} in {where}"
    close = difflib.get_close_matches(key, list(known), n=1)
    if close:
        message += f" (did you mean {close[0]!r}?)"
    return message + "; valid keys: " + ", ".join(sorted(known))


_KEY_TOKEN_RE = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*[=.]""")


def _key_of(line: str) -> str | None:
    """The (first part of the) key a `key = value` line sets, quoted keys decoded as TOML does."""
    token = _KEY_TOKEN_RE.match(line)
    if token is None:
        return None
    try:
        return next(iter(tomllib.loads(token.group(1) + " = 0")))
    except (tomllib.TOMLDecodeError, StopIteration):
        return None


class Locator:
    """Finds the line (1-based) of a key inside the n-th [[table]] of a TOML text."""

    def __init__(self, text: str):
        self.lines = text.split("\n")  # TOML lines: splitlines() would also split at \x85, \u2028, ...

    def find(self, table: str | None, index: int | None, key: str | None) -> int | None:
        start, count, current = 0, -1, None
        for number, line in enumerate(self.lines):
            header = _HEADER_RE.match(line)
            if header:
                name = header.group(1).strip('"')
                if table is None and key is not None and name == key:
                    return number + 1
                current = name
                if name == table:
                    count += 1
                    if index is None or count == index:
                        start = number
                        if key is None:
                            return number + 1
                continue
            in_scope = (current is None) if table is None else (current == table and (index is None or count == index))
            if in_scope and key is not None and _key_of(line) == key:
                return number + 1
        return start + 1 if table is not None and count >= (index or 0) else None
