"""The fleet: every host's monitor, its wedge canary, its rate history and the alert engine, behind
one `tick(now)` that gives finished `HostState` snapshots (the canary's verdict included) and the
alert events they raised. No Textual: the dashboard, `watch`, `check --window`, the exporter and
every `gb10dash serve` session's app run the same core; each front end only draws what a tick gives.

Running is apart from ticking: `jobs()` are the coroutines to run (one monitor per host, one canary
per host when the canary is on) — the TUI runs them as workers, the command-line front ends inside
`async with fleet.running():`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gb10dash.alerts.engine import AlertEngine, AlertEvent
from gb10dash.alerts.settings import AlertSettings
from gb10dash.config import Config, HostConfig
from gb10dash.core.canary import CanaryResult, CanaryRunner, CanarySettings
from gb10dash.core.history import RateHistory
from gb10dash.core.monitor import Cadence, HostMonitor, PlanWatch
from gb10dash.core.state import HealthState, HostState

if TYPE_CHECKING:
    from gb10dash.ledger.recorder import LedgerRecorder

STOP_WAIT_S = 5.0  # how long stopping waits for the monitors to close their connections

#: (host, this verdict, the one before) — after the fleet has recorded it
CanarySeen = Callable[[str, CanaryResult, CanaryResult | None], None]
#: asked to restart a wedged host (auto-restart on, within the hourly budget)
CanaryRestart = Callable[[HostMonitor, CanaryResult], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Tick:
    at: float
    states: Mapping[str, HostState]  # every host's latest finished state, in config order
    changed: frozenset[str]  # the hosts whose state was rebuilt by this tick
    events: tuple[AlertEvent, ...]  # alerts raised and cleared by this tick


class Fleet:
    def __init__(
        self,
        config: Config,
        hosts: Sequence[HostConfig] | None = None,
        *,
        cadence: Cadence | None = None,
        plan_watch: PlanWatch | None = None,
        alerts: AlertSettings | None = None,
        canary: CanarySettings | None = None,
        on_update: Callable[[str], object] | None = None,
        on_canary: CanarySeen | None = None,
        restart: CanaryRestart | None = None,
        busy: Callable[[str], bool] = lambda name: False,
        ledger: LedgerRecorder | None = None,
    ):
        """`canary`: the wedge canary's settings, None for none (default: the config's, when enabled).
        `on_update(name)`: a host's monitor saw something new (called from the monitor's task).
        `restart`: how a wedged host is restarted (the TUI's audited plan); None: the canary only reports.
        `busy(name)`: an action runs on the host, so the canary leaves it alone.
        `ledger`: fed every state a tick finishes (the token ledger; the running front ends pass one)."""
        self.config = config
        self.hosts = tuple(config.hosts if hosts is None else hosts)
        self.canary = canary if canary is not None else (config.canary if config.canary.enabled else None)
        self.canary_first_after_s = 30.0  # the first canary probe after start
        self.canary_results: dict[str, CanaryResult] = {}
        self.engine = AlertEngine(alerts if alerts is not None else config.alerts)
        self.histories = {host.name: RateHistory() for host in self.hosts}
        self.monitors = {
            host.name: HostMonitor(host, config.ssh, cadence=cadence, on_update=self._seen, plan_watch=plan_watch)
            for host in self.hosts
        }
        self.states: dict[str, HostState] = {}
        self._changed: set[str] = set(self.monitors)
        self._on_update, self._on_canary = on_update, on_canary
        self._restart, self._busy = restart, busy
        self.ledger = ledger

    # -- running -----------------------------------------------------------------------
    def jobs(self) -> list[Coroutine[Any, Any, None]]:
        """What runs while the fleet watches: each monitor, and each host's canary when it is on."""
        jobs = [monitor.run() for monitor in self.monitors.values()]
        if self.canary is not None:
            jobs += [self._canary(monitor) for monitor in self.monitors.values()]
        return jobs

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Fleet]:
        tasks = [asyncio.create_task(job) for job in self.jobs()]
        try:
            yield self
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=STOP_WAIT_S)  # bounded: a connection slow to close is left

    def _seen(self, monitor: HostMonitor) -> None:
        self._changed.add(monitor.host.name)
        if self._on_update is not None:
            self._on_update(monitor.host.name)

    async def _canary(self, monitor: HostMonitor) -> None:
        assert self.canary is not None
        name = monitor.host.name

        def healthy() -> bool:  # a host down, loading or under an action is not probed: that is no wedge
            state = self.states.get(name)
            return bool(state and state.health and state.health.state is HealthState.OK and not self._busy(name))

        def seen(result: CanaryResult) -> None:
            was = self.canary_results.get(name)
            self.canary_results[name] = result
            self._changed.add(name)
            if self._on_canary is not None:
                self._on_canary(name, result, was)

        async def restart(result: CanaryResult) -> None:
            assert self._restart is not None
            await self._restart(monitor, result)

        await CanaryRunner(
            self.canary,
            monitor.api_client,
            healthy=healthy,
            on_result=seen,
            restart=restart if self._restart is not None else None,
            first_after_s=self.canary_first_after_s,
        ).run()

    async def snapshot(self, now: float | None = None) -> Tick:
        """Every host once, concurrently (`status`, `check`): one connection each, closed after, a dead
        host never delaying the others beyond its timeout, one canary request to each that says healthy
        when the canary is on; the alert rules judged on the result at once."""
        states = await asyncio.gather(*(m.snapshot(self.canary) for m in self.monitors.values()))
        self.states = {state.name: state for state in states}
        at = time.time() if now is None else now
        return Tick(at, dict(self.states), frozenset(self.states), tuple(self.engine.evaluate_all(states, at)))

    # -- ticking -----------------------------------------------------------------------
    def mark_changed(self, name: str) -> None:
        """Rebuild this host's state at the next tick (something outside its monitor changed)."""
        self._changed.add(name)

    def tick(self, now: float, *, every_host: bool = False) -> Tick:
        """Finish the state of each host whose monitor saw something since the last tick (`every_host`:
        of every host, so that ages and uptimes move), record its rates, and judge the alert rules on
        every host's latest state (a rule's duration passes without a new state)."""
        changed = frozenset(self.monitors) if every_host else frozenset(self._changed)
        self._changed = set()
        for name, monitor in self.monitors.items():  # config order: the first tick fills self.states in it
            if name not in changed:
                continue
            state = monitor.state
            if name in self.canary_results:
                state = dataclasses.replace(state, canary=self.canary_results[name])
            self.histories[name].observe(state.throughput.gen, state.throughput.prompt, now)
            if self.ledger is not None:
                self.ledger.observe(state)
            self.states[name] = state
        events = tuple(self.engine.evaluate_all(list(self.states.values()), now)) if self.states else ()
        return Tick(now, dict(self.states), changed, events)
