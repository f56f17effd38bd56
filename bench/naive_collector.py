"""The naive collector the dashboard is compared with: the same sources at the same cadence,
fetched with one `ssh ALIAS CMD` process per source per poll (no persistent connection, no
streams), parsed by the product's own parsers. HTTP goes direct, as the dashboard's does.

    .venv/bin/python bench/naive_collector.py --config HOSTS_TOML [--seconds 120]
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gb10dash.collectors import gpu, memory, mounts, systemd
from gb10dash.collectors.commands import run_checked
from gb10dash.collectors.journal import journalctl_argv, parse_journal_line
from gb10dash.collectors.llama_client import LlamaClient
from gb10dash.config import HostConfig, load_config
from gb10dash.transport.base import CommandResult, TransportError
from gb10dash.transport.local import LocalTransport


class SshPerCall(LocalTransport):
    """Every command and every file read is a new `ssh ALIAS CMD` process (a new connection)."""

    def __init__(self, name: str, alias: str, ssh_config: Path | None):
        super().__init__(name)
        self.prefix = ["ssh", *(["-F", str(ssh_config)] if ssh_config else []), "-o", "BatchMode=yes", alias]

    async def run(self, argv: Sequence[str], *, timeout: float = 10.0, input: str | None = None) -> CommandResult:
        result = await super().run([*self.prefix, shlex.join(argv)], timeout=timeout, input=input)
        return CommandResult(tuple(argv), result.exit_status, result.stdout, result.stderr)

    async def read_file(self, path: str, *, timeout: float = 10.0, max_bytes: int = 4 * 1024 * 1024) -> bytes:
        result = await self.run(["cat", "--", path], timeout=timeout)
        if not result.ok:
            raise FileNotFoundError(path) if "No such file" in result.stderr else TransportError(result.stderr)
        return result.stdout.encode()[:max_bytes]


class NaiveHost:
    def __init__(self, host: HostConfig, ssh_config: Path | None):
        assert host.ssh_alias
        self.host = host
        self.transport = SshPerCall(host.name, host.ssh_alias, ssh_config)
        self.api = LlamaClient(host.api_url)
        self.prober = mounts.MountProber(self.transport, host.model_share)
        self.main_pid: int | None = None
        self.cursor: str | None = None
        self.errors = 0
        self.polls = 0

    async def _try(self, poll) -> None:
        try:
            await poll()
        except (TransportError, ValueError, OSError):
            self.errors += 1

    async def fast(self) -> None:
        """Each second: GPU, memory, journal, HTTP — each remote source its own ssh process."""
        self.polls += 1
        await asyncio.gather(self._try(self.gpu), self._try(self.memory), self._try(self.journal), self._try(self.http))

    async def slow(self) -> None:
        await asyncio.gather(self._try(self.unit), self._try(self.apps), self._try(self.prober.probe))

    async def gpu(self) -> None:
        await gpu.collect_gpu(self.transport)

    async def apps(self) -> None:
        await gpu.collect_compute_apps(self.transport)

    async def unit(self) -> None:
        self.main_pid = (await systemd.collect_unit(self.transport, self.host.unit)).main_pid

    async def memory(self) -> None:
        await memory.collect_meminfo(self.transport)
        if self.main_pid:
            await memory.collect_process_memory(self.transport, self.main_pid)

    async def journal(self) -> None:
        argv = journalctl_argv(
            self.host.unit, follow=False, after_cursor=self.cursor, lines=None if self.cursor else 100
        )
        for line in (await run_checked(self.transport, argv)).splitlines():
            entry = parse_journal_line(line)
            if entry is not None and entry.cursor:
                self.cursor = entry.cursor

    async def http(self) -> None:
        await self.api.health()
        await self.api.slots()
        await self.api.metrics()


async def every(seconds: float, until: float, poll) -> None:
    while time.monotonic() < until:
        started = time.monotonic()
        await poll()
        await asyncio.sleep(max(0.05, seconds - (time.monotonic() - started)))


async def collect(config_path: Path, seconds: float, fast_s: float, slow_s: float) -> list[NaiveHost]:
    config = load_config(config_path)
    hosts = [NaiveHost(h, config.ssh.config_file) for h in config.hosts]
    until = time.monotonic() + seconds
    await asyncio.gather(*(every(fast_s, until, h.fast) for h in hosts), *(every(slow_s, until, h.slow) for h in hosts))
    for h in hosts:
        await h.api.aclose()
    return hosts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--fast", type=float, default=1.0, help="seconds between fast polls")
    parser.add_argument("--slow", type=float, default=5.0, help="seconds between slow polls")
    args = parser.parse_args()
    hosts = asyncio.run(collect(args.config, args.seconds, args.fast, args.slow))
    for h in hosts:
        print(f"{h.host.name}: {h.polls} polls, {h.errors} errors")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
