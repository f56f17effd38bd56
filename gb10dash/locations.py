"""Where gb10dash keeps its files (XDG base directories)."""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable)
    if value and os.path.isabs(value):
        return Path(value) / "gb10dash"
    return Path.home() / fallback / "gb10dash"


def config_dir() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config")


def state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state")


def data_dir() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share")


def make_private_dir(path: Path) -> Path:
    """Create a directory for files only this user may read (0700; missing parents as usual)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
