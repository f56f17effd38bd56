"""Running a collector's command: argv in, stdout text out, failures as ValueError."""

from __future__ import annotations

from collections.abc import Sequence

from gb10dash.transport.base import Transport


async def run_checked(transport: Transport, argv: Sequence[str], *, timeout: float = 10.0) -> str:
    """stdout of argv; a non-zero exit becomes a ValueError naming the command and its complaint."""
    result = await transport.run(argv, timeout=timeout)
    if result.ok:
        return result.stdout
    complaint = (result.stderr.strip() or result.stdout.strip()).splitlines()
    detail = complaint[-1] if complaint else "no output"
    if result.exit_status == 127:
        detail = f"command not found ({detail})"
    raise ValueError(f"{argv[0]} exited {result.exit_status}: {detail}")


async def read_text(transport: Transport, path: str, *, timeout: float = 5.0) -> str:
    return (await transport.read_file(path, timeout=timeout)).decode("utf-8", errors="replace")
