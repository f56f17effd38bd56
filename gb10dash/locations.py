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


def append_private_line(path: Path, line: str, *, durable: bool = False) -> None:
    """Append one line in one write with O_APPEND (concurrent writers — the TUI and a CLI — never
    interleave); the file is created 0600 in a 0700 directory. durable: fsync before returning (a
    write-ahead record must survive the process being killed the next instant)."""
    make_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line.encode())
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


def write_private_file(path: Path, text: str) -> None:
    """Replace a small file atomically (a temp file renamed over it), created 0600 in a 0700 directory."""
    make_private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    os.replace(tmp, path)
