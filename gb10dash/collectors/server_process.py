"""The llama-server of a watch-only host (`unit = ""`: not a systemd unit, e.g. started by hand or by
another supervisor): found by its process name and the API port in its arguments, with `ps`.

`ps -C llama-server -o pid=,etimes=,args=` lists every process of that name, any user's, with its
elapsed seconds and full argv (the argv of other users' processes is world-readable). The one whose
`--port` is the API's port is the server (llama-server's default port is 8080). Pure parser + thin I/O.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from gb10dash.collectors.systemd import UnitStatus
from gb10dash.transport.base import Transport

PROCESS_NAME = "llama-server"
DEFAULT_PORT = 8080


@dataclass(frozen=True, slots=True)
class ServerProcess:
    pid: int
    elapsed_s: int
    argv: tuple[str, ...]


def ps_argv() -> list[str]:
    return ["ps", "-C", PROCESS_NAME, "-o", "pid=,etimes=,args="]


def api_port(api_url: str) -> int:
    parts = urlsplit(api_url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def _port_of(argv: tuple[str, ...]) -> int:
    """`--port N` (llama-server refuses `--port=N`: "invalid argument"), else its default."""
    for index, word in enumerate(argv):
        if word == "--port" and index + 1 < len(argv) and argv[index + 1].isdigit():
            return int(argv[index + 1])
    return DEFAULT_PORT


def parse_ps(output: str, port: int) -> ServerProcess | None:
    """The llama-server listening on `port` among `ps`'s lines; None when there is none. Several on the
    same port (a forking wrapper): the oldest."""
    found = []
    for line in output.splitlines():
        fields = line.split(None, 2)
        if len(fields) < 3 or not fields[0].isdigit() or not fields[1].isdigit():
            continue
        try:
            argv = tuple(shlex.split(fields[2]))
        except ValueError:
            argv = tuple(fields[2].split())
        if _port_of(argv) == port:
            found.append(ServerProcess(int(fields[0]), int(fields[1]), argv))
    return max(found, key=lambda p: p.elapsed_s) if found else None


def process_unit(process: ServerProcess | None, now: float) -> UnitStatus:
    """The process as the monitor's unit state (watch_only: no systemd behind it): running with its pid
    and start time, or dead when there is none."""
    if process is None:
        return UnitStatus("inactive", "dead", None, None, None, None, None, (), None, (), watch_only=True)
    return UnitStatus(
        "active",
        "running",
        process.pid,
        now - process.elapsed_s,
        None,
        None,
        None,
        process.argv,
        None,
        (),
        watch_only=True,
    )


async def collect_server_process(transport: Transport, api_url: str) -> UnitStatus:
    done = await transport.run(ps_argv(), timeout=10)
    if done.exit_status not in (0, 1):  # 1: no process of that name
        detail = (done.stderr.strip() or f"exit {done.exit_status}").splitlines()[-1]
        raise ValueError(f"ps exited {done.exit_status}: {detail}")
    return process_unit(parse_ps(done.stdout, api_port(api_url)), time.time())
