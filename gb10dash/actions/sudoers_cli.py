"""`gb10dash sudoers [HOST…]`: each host's /etc/sudoers.d/gb10dash, asked of the host itself (its
login user, its unit's FragmentPath, where sudo finds each command) and derived from the plans."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from gb10dash.actions.sudoers import (
    SUDOERS_FILE,
    needed_commands,
    parse_resolved,
    resolve_argv,
    sudoers_text,
)
from gb10dash.collectors.commands import run_checked
from gb10dash.collectors.systemd import collect_unit
from gb10dash.config import Config, HostConfig
from gb10dash.transport import make_transport
from gb10dash.transport.base import CommandTimeout, TransportError

EXIT_OK, EXIT_FAILED = 0, 1


async def host_sudoers(host: HostConfig, config: Config) -> str:
    """The host's sudoers file, from what the host says; ValueError/TransportError say why not."""
    transport = make_transport(host, config.ssh)
    try:
        await transport.connect()
        user = (await run_checked(transport, ["id", "-un"])).strip()
        unit = await collect_unit(transport, host.unit) if host.unit else None  # none: watch-only
        commands = needed_commands(host, unit)
        names = sorted({argv[0] for argv in commands})
        paths = parse_resolved(names, await run_checked(transport, resolve_argv(names)))
        return sudoers_text(user, commands, paths, host=host.name)
    except CommandTimeout as exc:
        raise TransportError(str(exc)) from exc
    finally:
        await transport.close()


async def sudoers_command(config: Config, names: Sequence[str]) -> int:
    hosts = config.select(names)
    results = await asyncio.gather(*(host_sudoers(h, config) for h in hosts), return_exceptions=True)
    code = EXIT_OK
    for host, result in zip(hosts, results):
        if isinstance(result, BaseException):
            if not isinstance(result, (ValueError, TransportError, OSError)):
                raise result
            print(f"gb10dash: {host.name}: {result}", file=sys.stderr)
            code = EXIT_FAILED
            continue
        if len(hosts) > 1:
            print(f"# ---- {host.name}: install as {SUDOERS_FILE} (visudo -f {SUDOERS_FILE}) ----")
        print(result, end="")
    return code
