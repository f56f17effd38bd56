"""What the app's refresh handler draws from a fleet tick: the panels in view whose host changed (the
others when they come back into view), the summary table, the status line, the recovery banner, the
out-of-view line, the alert banner — and what each alert event rings (bell, notification, command)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from gb10dash.alerts import CRITICAL, AlertEvent
from gb10dash.alerts.engine import EventKind
from gb10dash.alerts.notify import Notifier
from gb10dash.bench import history as bench_history
from gb10dash.bench.history import HistoryEntry
from gb10dash.core.canary import CanaryResult
from gb10dash.core.fleet import Tick
from gb10dash.core.history import RatePoint
from gb10dash.core.state import HostState
from gb10dash.ui.widgets.alert_banner import AlertBanner
from gb10dash.ui.widgets.fleet_table import FleetTable
from gb10dash.ui.widgets.host_grid import HostGrid
from gb10dash.ui.widgets.log_pane import LogPane
from gb10dash.ui.widgets.out_of_view import OutOfView
from gb10dash.ui.widgets.recovery_banner import RecoveryBanner
from gb10dash.ui.widgets.status_line import StatusLine

if TYPE_CHECKING:
    from gb10dash.actions.port import Level
    from gb10dash.ui.app import Gb10DashApp

BenchKey = tuple[str, str | None]


class FleetView:
    def __init__(self, app: Gb10DashApp):
        self.app = app
        self.dirty: set[str] = set()  # hosts whose panel is to be drawn again
        self.updated_at: float | None = None
        self._bench: dict[str, tuple[BenchKey | None, list[HistoryEntry]]] = {}
        self._notifier = Notifier(app.config.alerts.notify, app.config.alerts.notify_timeout_s)
        self._alerts_drawn = False

    def draw(self, tick: Tick) -> None:
        app, now = self.app, tick.at
        app.shown.update(tick.states)  # alerts and the status line judge every host, drawn or not
        self.dirty |= tick.changed
        self._alert_events(tick.events)
        if not self.dirty:
            return
        grid = app.query_one(HostGrid)
        hidden: set[str] = set()
        for name in sorted(self.dirty):
            state, panel = app.shown[name], grid.panel(name)
            if app.summary or not grid.in_view(panel):  # out of sight: drawn when it comes back
                hidden.add(name)
                continue
            history = app.fleet.histories[name].points(now)
            panel.show(state, history, now, self.bench_runs(name, state.model_id), app.fleet.engine.active_for(name))
        self.dirty = hidden
        if app.summary:
            self.show_table()
        self.updated_at = now
        states = list(app.shown.values())
        app.query_one(StatusLine).show(states, now)
        app.query_one(RecoveryBanner).show({s.name: s.interrupted for s in states if s.interrupted})
        self.show_out_of_view()

    def show_fixed(
        self,
        states: Mapping[str, HostState],
        histories: Mapping[str, list[RatePoint]],
        now: float,
        bench: Mapping[str, list[HistoryEntry]],
    ) -> None:
        """Fixed states (tests, screenshots): drawn once."""
        app = self.app
        grid = app.query_one(HostGrid)
        for name, state in states.items():
            grid.panel(name).show(state, histories.get(name, []), now, bench.get(name, []))
        app.shown.update(states)
        app.query_one(StatusLine).show(list(states.values()), now)
        if app.summary:
            self.show_table()
            return
        focused = states.get(app.focused_host)
        if focused is not None:
            grid.panel(app.focused_host).focus()
            app.query_one(LogPane).show_host(app.focused_host, focused.recent_log)
        app.call_after_refresh(self.show_out_of_view)  # which panels show is known after the layout

    def show_out_of_view(self) -> None:
        """A line for each host whose panel the grid cannot show now (none in the summary table)."""
        app = self.app
        grid = app.query_one(HostGrid)
        hidden = [] if app.summary else [
            app.shown[p.host.name] for p in grid.panels if p.host.name in app.shown and not grid.in_view(p)
        ]  # fmt: skip
        app.query_one(OutOfView).show(hidden)

    def show_summary(self, on: bool) -> None:
        """The fleet summary table instead of the panels (on), or back."""
        app = self.app
        app.summary = on
        app.query_one(HostGrid).display = not on
        table = app.query_one(FleetTable)
        table.display = on
        if on:
            self.show_table()
            table.focus()
        else:
            self.dirty.update(app.shown)  # panels skipped while hidden
            app.focus_host(app.focused_host)

    def show_table(self) -> None:
        app = self.app
        hosts = app.config.hosts
        app.query_one(FleetTable).show(
            [app.shown[h.name] for h in hosts if h.name in app.shown],
            {h.name: app.fleet.engine.active_for(h.name) for h in hosts},
            time.monotonic(),
        )

    def bench_runs(self, name: str, model_id: str | None) -> list[HistoryEntry]:
        """The bench history of the served model: read when the model changes or after a bench."""
        key = (name, model_id)
        if self._bench.get(name, (None, []))[0] != key:
            self._bench[name] = (key, bench_history.read_history(name, model_id) if model_id else [])
        return self._bench[name][1]

    def bench_ran(self, name: str) -> None:
        self._bench.pop(name, None)
        self.dirty.add(name)

    def canary_seen(self, name: str, result: CanaryResult, was: CanaryResult | None) -> None:
        if not result.ok:
            self.app.notify(result.describe(), title=f"{name}: wedge canary", severity="error", timeout=15)
        elif was is not None and not was.ok:
            self.app.notify(result.describe(), title=f"{name}: answers again", timeout=8)

    def _alert_events(self, events: Sequence[AlertEvent]) -> None:
        """A raised alert rings the bell (if configured), shows a notification and runs the notify
        command; the banner and the host's panel show the firing ones."""
        app = self.app
        for event in events:
            alert = event.alert
            self.dirty.add(alert.host)
            if event.kind is EventKind.RAISED:
                if app.config.alerts.bell:
                    app.bell()
                severity: Level = "error" if alert.severity == CRITICAL else "warning"
                app.notify(
                    f"{alert.rule}: {alert.message}", title=f"{alert.host}: alert", timeout=10, severity=severity
                )
            else:
                app.notify(f"{alert.rule} cleared", title=f"{alert.host}: alert cleared", timeout=6)
            if self._notifier.enabled:
                app.run_worker(self._send_notify(event), exit_on_error=False, group="notify")
        if events or not self._alerts_drawn:
            self._alerts_drawn = True
            app.query_one(AlertBanner).show(app.fleet.engine.active)

    async def _send_notify(self, event: AlertEvent) -> None:
        failed = await self._notifier.send(event)
        if failed:
            self.app.notify(failed, title="alert notify command", severity="warning", timeout=8)
