"""Pure rules of `gb10dash serve`: where it may bind, the token file, the command each session runs."""

from __future__ import annotations

import ipaddress
import shlex
import sys
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class ServeError(Exception):
    """A usage error of `gb10dash serve` (exit 2); the message never holds the token."""


def is_loopback(host: str) -> bool:
    """True only for addresses that cannot be reached from another machine: 127.0.0.0/8, ::1, localhost.

    Any other name counts as reachable (it may resolve elsewhere); "" and 0.0.0.0 / :: mean every interface."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, port: int, *, read_only: bool, token_file: str | None) -> None:
    """Raises ServeError unless binding `host` is safe with the options given."""
    if not 0 < port < 65536:
        raise ServeError(f"--port {port}: expected 1-65535")
    if is_loopback(host) or read_only or token_file:
        return
    raise ServeError(
        f"refusing to bind {host or 'every interface'!s}: it is not a loopback address, and the page has no "
        f"login and no TLS, so anyone who reaches port {port} could restart, swap or rebuild your hosts. "
        f"Add --read-only (watch only) or --token-file FILE (the browser opens /?token=...), "
        f"or keep --host 127.0.0.1 and use an SSH tunnel: ssh -L {port}:127.0.0.1:{port} THIS_MACHINE"
    )


def read_token(path: str | Path) -> str:
    """The token in `path`: one line, at least 16 characters, the file readable by its owner only."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            raise ServeError(f"--token-file {path}: readable by others (mode {mode & 0o777:o}); run chmod 600 {path}")
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ServeError(f"--token-file {path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ServeError(f"--token-file {path}: not UTF-8 text") from None
    if "\n" in token or len(token) < 16 or any(c.isspace() for c in token):
        raise ServeError(
            f"--token-file {path}: expected one line holding a token of at least 16 characters "
            f"and no spaces (e.g. python3 -c 'import secrets; print(secrets.token_urlsafe())')"
        )
    return token


def app_command(config_path: Path, *, refresh_s: float, read_only: bool, python: str = sys.executable) -> str:
    """The shell command textual-serve runs for each browser session: this gb10dash's `tui`, same config.

    textual-serve starts it with a shell, so every part is quoted, and `exec` makes the app that shell's
    process (the one a stop that times out kills)."""
    argv = [python, "-m", "gb10dash", "--config", str(config_path.resolve()), "tui", "--refresh", f"{refresh_s:g}"]
    if read_only:
        argv.append("--read-only")
    return "exec " + shlex.join(argv)
