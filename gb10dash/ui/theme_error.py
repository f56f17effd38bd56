"""ThemeError lives apart from themes.py so the CLI can catch it without importing Textual."""

from __future__ import annotations

from pathlib import Path


class ThemeError(Exception):
    """A theme file problem, worded for the operator: `FILE:LINE: key 'K': what was expected`."""

    def __init__(self, path: Path, key: str | None, message: str, line: int | None = None):
        self.path, self.key, self.line, self.message = path, key, line, message
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: " + (f"key {key!r}: " if key else "") + message)
