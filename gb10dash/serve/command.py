"""`gb10dash serve`: check the options, then serve the dashboard until Ctrl+C."""

from __future__ import annotations

import sys
from pathlib import Path

from gb10dash.serve.bind import ServeError, app_command, check_bind, read_token

EXIT_OK, EXIT_USAGE = 0, 2


def serve_command(
    config_path: Path,
    *,
    host: str,
    port: int,
    read_only: bool,
    token_file: str | None,
    refresh_s: float,
    max_sessions: int,
) -> int:
    """Exit 2, before anything listens, when the bind is unsafe or the token file is unusable."""
    try:
        check_bind(host, port, read_only=read_only, token_file=token_file)
        token = read_token(token_file) if token_file else None
        if max_sessions < 1:
            raise ServeError(f"--max-sessions {max_sessions}: expected 1 or more")
    except ServeError as exc:
        print(f"gb10dash serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from gb10dash.serve.server import DashboardServer

    command = app_command(config_path, refresh_s=refresh_s, read_only=read_only)
    server = DashboardServer(command, host, port, token=token, read_only=read_only, max_sessions=max_sessions)
    try:
        server.serve()
    except OSError as exc:
        print(f"gb10dash serve: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK
