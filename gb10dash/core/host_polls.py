"""The polls of one host: each reads one source once and records it (success or failure) in the
host's record; the monitor (monitor.py) calls them on its cadence, or all once for a snapshot."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from gb10dash.collectors import gpu, journal, kernel_events, memory, pressure, server_process, systemd
from gb10dash.collectors.llama import Health, HealthState, Metrics
from gb10dash.collectors.llama_client import LlamaClient
from gb10dash.config import ConfigError, read_api_key
from gb10dash.core.host_record import HostRecord
from gb10dash.transport import TransportError

#: while a server is idle (no request processing), /slots is read on one fast poll in this many
IDLE_SLOTS_EVERY = 5
WATCH_ONLY_JOURNAL = 'watch-only host (unit = "" in the config): no systemd unit, so no journal to follow'
#: /health asked after /metrics failed on a healthy server: a live server answers it in milliseconds
HEALTH_RECHECK_TIMEOUT_S = 1.0
#: the health a poll records when /metrics answered with its counters (llama-server: 503 to all while loading)
HEALTHY_BY_METRICS = Health(HealthState.OK, 200, None)


class HostPolls(HostRecord):
    async def _guard(self, source: str, poll: Callable[[], Any]) -> None:
        try:
            await poll()
        except TransportError as exc:
            self._failed(source, exc)
            self._check_connection(exc)
        except (ValueError, OSError) as exc:
            self._failed(source, exc)

    async def _poll_unit(self) -> None:
        async def poll() -> None:
            unit = (
                await systemd.collect_unit(self.transport, self.host.unit)
                if self.host.unit
                else await server_process.collect_server_process(self.transport, self.host.api_url)
            )
            previous = self._fields.get("unit")
            if previous is not None and previous.main_pid != unit.main_pid:
                self._refresh_identity = True  # a new process may serve another model (a fast restart
                # can pass between two /health polls without ever answering 503)
                self._apps_wanted.set()
            self._ok("unit", unit=unit)

        await self._guard("unit", poll)

    async def _poll_gpu_once(self) -> None:
        async def poll() -> None:
            samples = await gpu.collect_gpu(self.transport)
            self._ok("gpu", gpu=samples[0] if samples else None)

        await self._guard("gpu", poll)

    async def _poll_gpu_apps(self) -> None:
        async def poll() -> None:
            self._ok("gpu_apps", gpu_processes=await gpu.collect_compute_apps(self.transport))

        await self._guard("gpu_apps", poll)

    async def _poll_memory(self) -> None:
        async def poll() -> None:
            meminfo = await memory.collect_meminfo(self.transport)
            unit = self._fields.get("unit")
            pid = unit.main_pid if unit else None
            process = await memory.collect_process_memory(self.transport, pid) if pid else None
            if pid and pid != self._io_checked_pid:  # once per server process: may its /proc/PID/io be read?
                self._io_checked_pid = pid
                self._fields["unreadable"] = await self._io_unreadable(pid)
            self._ok("memory", meminfo=meminfo, process_memory=process)
            if pid and process is None:
                if self._gone_pid != pid:  # the main process is gone: systemd has news
                    self._gone_pid = pid
                    self._unit_wanted.set()
            elif self._journal_live and not self._unit_wanted.is_set():
                self._confirm_unit()

        await self._guard("memory", poll)

    async def _poll_pressure(self) -> None:
        """PSI every slow poll: its shortest average is over 10 s."""

        async def poll() -> None:
            self._ok("pressure", memory_pressure=await pressure.collect_memory_pressure(self.transport))

        await self._guard("pressure", poll)

    async def _io_unreadable(self, pid: int) -> str | None:
        """Why the server's /proc/PID/io cannot be read (it runs as another user), None when it can."""
        try:
            await self.transport.read_file(f"/proc/{pid}/io", timeout=5)
        except PermissionError:
            return (
                f"the server's /proc/{pid}/io is not readable by the login (the server runs as another "
                f"user): a model load's progress is estimated from past loads"
            )
        except FileNotFoundError:
            return None
        return None

    async def _poll_load(self) -> None:
        """While /health says loading: /proc/MainPID/io against the model's size (nothing otherwise)."""

        async def poll() -> None:
            self._fields["load_progress"] = await self.load_watcher.poll(
                self._fields.get("unit"), self._fields.get("health"), time.time()
            )
            self._fields["load_counts"] = self.load_watcher.counts

        await self._guard("load", poll)

    def _confirm_unit(self) -> None:
        """The unit state read last is still current: the journal stream is following (systemd
        would have said otherwise) and the MainPID is alive. Its freshness is now."""
        status = self._sources.get("unit")
        if status is not None and status.last_ok is not None and not status.failing:
            self._sources["unit"] = status.ok(time.time())

    async def poll_plans(self) -> None:
        """A plan that started and never ended, as the front end's plan watch sees it (actions/recover.py:
        the host's plan marker, this workstation's audit log): a warning naming the way out. Not a source of
        its own: failing to read it degrades nothing. No watch given: nothing is looked for."""
        if self.plan_watch is None:
            return
        try:
            self._fields["interrupted"] = await self.plan_watch(self.host, self.transport)
        except TransportError as exc:
            self._check_connection(exc)
        except (ValueError, OSError) as exc:
            self._fields["interrupted"] = f"could not look for interrupted plans: {exc}"

    async def _poll_mount(self) -> None:
        async def poll() -> None:
            self._ok("mount", mount=await self._prober.probe())

        await self._guard("mount", poll)

    async def _poll_journal_tail(self) -> None:
        async def poll() -> None:
            if not self.host.unit:
                raise ValueError(WATCH_ONLY_JOURNAL)
            self.journal_problem = None
            for entry in await journal.collect_journal_tail(self.transport, self.host.unit, lines=200):
                self._add_log(entry)
            self._ok("journal")

        await self._guard("journal", poll)

    async def _poll_kernel_tail(self) -> None:
        async def poll() -> None:
            if self.host.unit:  # watch-only hosts are not followed that closely
                for entry in await kernel_events.collect_kernel_tail(self.transport):
                    self._add_kernel_entry(entry)
                self._ok("kernel")

        await self._guard("kernel", poll)

    async def _poll_http(self) -> None:
        try:
            client = await self._client()
        except (TransportError, ConfigError) as exc:
            self._failed("health", exc)
            return
        metrics: Metrics | None = None
        metrics_error: ValueError | None = None
        if self._api_steady():
            # a llama-server answers every endpoint but /health with 503 while it loads, so /metrics
            # answering with its counters says healthy: one request a poll instead of two
            try:
                metrics = await client.metrics()
            except ValueError as exc:
                metrics_error = exc
            if metrics is not None and metrics.tokens_predicted_total is not None:
                health = HEALTHY_BY_METRICS
            else:  # /metrics failed: is the server down, loading, or up with requests hanging (wedged)?
                metrics = None
                health = await client.health(timeout_s=HEALTH_RECHECK_TIMEOUT_S)
        else:
            health = await client.health()
        previous = self._fields.get("health")
        if previous is not None and previous.state is not health.state:
            self._unit_wanted.set()  # a restart, a crash or a model (re)load: systemd and the GPU may say
            self._apps_wanted.set()
        self._ok("health", health=health)
        if health.state is not HealthState.OK:
            self._refresh_identity = True  # after a restart the model may have changed
            self._failed("api", health.message or health.state.value)
            return
        if metrics_error is not None:  # /health ok while /metrics failed: the API is what is wrong
            self._failed("api", metrics_error)
            return
        try:
            if self._refresh_identity:
                models = await client.models()
                self._fields["model"] = models[0] if models else None
                self._fields["props"] = await client.props()
                self._refresh_identity = False
            if metrics is None:
                metrics = await client.metrics()
            slots_due = self._slots_due(metrics)
            slots = await client.slots() if slots_due else None
            self._throughput.observe_poll(metrics, slots, time.time())
            if metrics is not None:
                self._spec.observe(metrics, time.time())
            # idle and not read this poll: the slots as last read stand (they have not changed)
            if slots_due:
                self._ok(
                    "api", slots=slots, metrics=metrics, slot_activity=self._slot_activity.update(slots, time.time())
                )
            else:
                self._ok("api", metrics=metrics)
        except (ValueError, OSError) as exc:
            self._failed("api", exc)

    def _slot_activity_with_log(self) -> None:
        slots = self._fields.get("slots")
        if slots is not None:
            self._fields["slot_activity"] = self._slot_activity.update(slots, time.time())

    def _api_steady(self) -> bool:
        """Healthy at the last poll, the API read then too, and the server has /metrics counters."""
        health, api = self._fields.get("health"), self._sources.get("api")
        return (
            health is not None
            and health.state is HealthState.OK
            and not self._refresh_identity
            and api is not None
            and not api.failing
            and self._throughput.metrics_available
        )

    def _slots_due(self, metrics: Metrics | None) -> bool:
        """/slots on every poll while a request runs (or /metrics cannot say), and every
        IDLE_SLOTS_EVERY-th poll while the server's `requests_processing` gauge and the last slots
        read both say idle."""
        slots = self._fields.get("slots")
        idle = (
            metrics is not None
            and metrics.requests_processing == 0
            and slots is not None
            and not any(slot.is_processing for slot in slots)
        )
        if idle and self._slots_skipped < IDLE_SLOTS_EVERY - 1:
            self._slots_skipped += 1
            return False
        self._slots_skipped = 0
        return True

    async def api_client(self) -> LlamaClient:
        """The host's llama-server API client (direct, or through the SSH port-forward)."""
        return await self._client()

    async def _client(self) -> LlamaClient:
        if self._llama is None:
            base = self.host.api_url
            if self.host.api_via_ssh:
                parts = urlsplit(base)
                port = await self.transport.forward_port(
                    parts.hostname or "127.0.0.1",
                    parts.port or 80,
                )
                base = f"http://127.0.0.1:{port}"
            self._llama = LlamaClient(base, api_key=read_api_key(self.host))
        return self._llama
