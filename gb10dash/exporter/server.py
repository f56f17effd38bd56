"""`gb10dash exporter --listen ADDR:PORT`: headless monitors of every host, served as Prometheus metrics.

One HostMonitor per host (the same collectors as the dashboard: one SSH connection each, long-lived
streams), the alert engine run once a second, and prometheus-client's HTTP server on its own thread.
The asyncio loop publishes an immutable snapshot (states + active alerts) each second; a scrape
reads the latest one, so the HTTP thread never touches a monitor. Alerts raised and cleared are
also written to stderr (the journal, under systemd).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Coroutine, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

from gb10dash.alerts.engine import Alert
from gb10dash.config import Config
from gb10dash.core.fleet import Fleet
from gb10dash.core.state import HostState
from gb10dash.exporter.metrics import families
from gb10dash.format import clock
from gb10dash.ledger.recorder import recorder_for

EXIT_OK, EXIT_USAGE = 0, 2


@dataclass(frozen=True, slots=True)
class Snapshot:
    states: tuple[HostState, ...] = ()
    alerts: tuple[Alert, ...] = ()


class SnapshotCollector(Collector):
    def __init__(self) -> None:
        self.snapshot = Snapshot()

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot  # one reference read: the loop swaps it whole
        return families(snap.states, snap.alerts, time.time())


def parse_listen(text: str) -> tuple[str, int]:
    """'127.0.0.1:9109' or '[::1]:9109' → (address, port); ValueError worded."""
    address, sep, port = text.rpartition(":")
    address = address[1:-1] if address.startswith("[") and address.endswith("]") else address
    if not sep or not address or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen: expected ADDRESS:PORT such as 127.0.0.1:9109, got {text!r}")
    return address, int(port)


def run_exporter(config: Config, names: Sequence[str], *, listen: str, tick_s: float = 1.0) -> int:
    try:
        address, port = parse_listen(listen)
    except ValueError as exc:
        print(f"gb10dash: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        asyncio.run(_until_signal(serve(config, names, address, port, tick_s)))
    except OSError as exc:
        print(f"gb10dash: exporter: cannot listen on {listen}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        pass
    return EXIT_OK


async def _until_signal(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` until it ends or SIGTERM / SIGINT arrive (systemd stops a service with SIGTERM)."""
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def serve(config: Config, names: Sequence[str], address: str, port: int, tick_s: float = 1.0) -> None:
    hosts = config.select(names)
    collector = SnapshotCollector()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    server, thread = start_http_server(port, address, registry=registry)
    print(f"gb10dash exporter: {len(hosts)} host(s), metrics on http://{address}:{port}/metrics", file=sys.stderr)
    fleet = Fleet(
        config, hosts, ledger=recorder_for(config.ledger)
    )  # the wedge canary too, when [canary] is on (it reports; it never restarts)
    try:
        async with fleet.running():
            while True:
                tick = fleet.tick(time.time(), every_host=True)
                for event in tick.events:
                    a = event.alert
                    print(
                        f"gb10dash exporter: alert {event.kind}: {a.host} {a.rule} ({a.severity}): {a.message} "
                        f"at {clock(a.cleared_at or a.raised_at)}",
                        file=sys.stderr,
                        flush=True,
                    )
                collector.snapshot = Snapshot(tuple(tick.states.values()), tuple(fleet.engine.active))
                await asyncio.sleep(tick_s)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
