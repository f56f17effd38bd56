"""The dashboard app: one panel per host, the focused host's log, a status line and keys.

The fleet's monitors (one per host, one SSH connection each, streams + slow polls) run as
workers in the app's event loop and post HostChanged; the app ticks the fleet at
the refresh interval and hands it to the widgets. Widgets never do I/O.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding

from gb10dash.actions.build_switch import prepare_revert
from gb10dash.actions.drop_caches import plan_drop_caches
from gb10dash.actions.executor import PlanResult, Progress, cancelled_result
from gb10dash.actions.plan import Plan
from gb10dash.actions.rebuild import (
    commits_of,
    prepare_rebuild,
    remote_path,
    rewrite_follow_up,
    switches_build,
)
from gb10dash.actions.recover import InterruptedPlans
from gb10dash.actions.regression import BeforeAfter, quick_bench
from gb10dash.actions.restart import plan_restart
from gb10dash.actions.runner import ActionBusy, run_plan
from gb10dash.actions.swap_prepare import prepare_swap, share_models
from gb10dash.actions.watch_only import require_unit
from gb10dash.alerts import CRITICAL, AlertEvent
from gb10dash.alerts.notify import Notifier
from gb10dash.bench import history as bench_history
from gb10dash.bench.history import HistoryEntry
from gb10dash.bench.report import table as bench_table
from gb10dash.bench.report import verdict as bench_verdict
from gb10dash.bench.runner import BenchError, BenchResult, BenchRun
from gb10dash.bench.workload import make_workload
from gb10dash.canary import CanaryResult
from gb10dash.chat.session import ChatHistories
from gb10dash.commands import COMMANDS as REGISTRY
from gb10dash.commands import is_mutating
from gb10dash.config import Config
from gb10dash.fleet import Fleet
from gb10dash.history import RatePoint
from gb10dash.memsplit import memory_split
from gb10dash.monitor import Cadence, HostMonitor
from gb10dash.state import HostState
from gb10dash.transport.base import TransportError
from gb10dash.ui import themes
from gb10dash.ui.commands import DashboardCommands
from gb10dash.ui.messages import HostChanged
from gb10dash.ui.plan_safety import PlanSafety
from gb10dash.ui.screens.alert_history import AlertHistoryScreen
from gb10dash.ui.screens.chat import ChatScreen
from gb10dash.ui.screens.confirm import ConfirmScreen
from gb10dash.ui.screens.help import HelpScreen
from gb10dash.ui.screens.model_picker import ModelPicker
from gb10dash.ui.widgets.action_progress import ActionProgress, ActionView
from gb10dash.ui.widgets.alert_banner import AlertBanner
from gb10dash.ui.widgets.fleet_table import FleetTable
from gb10dash.ui.widgets.host_grid import HostGrid
from gb10dash.ui.widgets.host_panel import HostPanel
from gb10dash.ui.widgets.log_pane import LogPane
from gb10dash.ui.widgets.out_of_view import OutOfView
from gb10dash.ui.widgets.recovery_banner import RecoveryBanner
from gb10dash.ui.widgets.status_line import StatusLine
from gb10dash.ui.widgets.steady_footer import SteadyFooter

SUMMARY_PAST_HOSTS = 8  # more hosts than this: the app opens on the fleet summary
#: journal entries kept per host by its monitor, and lines by the log pane: the same number, so the
#: pane never holds entries its monitor has let go (~0.7 KiB a line: 5000 in the pane were ~3.4 MiB)
LOG_LINES = 2000


class Gb10DashApp(PlanSafety, App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "gb10dash"
    COMMANDS = App.COMMANDS | {DashboardCommands}
    #: generated from the command registry (gb10dash/commands.py): every binding has an id (its action),
    #: which [keys] in hosts.toml remaps (gb10dash/keymap.py)
    BINDINGS = [Binding(c.key, c.id, c.footer or c.help, show=bool(c.footer), id=c.id) for c in REGISTRY if c.bound]

    def __init__(
        self,
        config: Config,
        *,
        refresh_s: float = 1.0,
        states: Mapping[str, HostState] | None = None,
        histories: Mapping[str, list[RatePoint]] | None = None,
        now: float | None = None,
        bench: Mapping[str, list[HistoryEntry]] | None = None,
        background: Callable[[], Awaitable[None]] | None = None,
        read_only: bool = False,
    ) -> None:
        """Live by default; with `states` it shows those fixed states (tests, screenshots).
        `background` is a coroutine factory run alongside (the demo's traffic).
        `read_only` refuses every action that changes a host, and the chat (gb10dash serve --read-only)."""
        super().__init__()
        themes.install(self)  # before the first frame, so nothing is drawn in another theme
        self.set_keymap(config.keys)
        self.config = config
        self.refresh_s = refresh_s
        self.read_only = read_only
        self._fixed_states = dict(states) if states is not None else None
        self._fixed_histories = dict(histories or {})
        self._fixed_now = now
        self._fixed_bench = dict(bench or {})
        self._background = background
        cadence = Cadence(fast_s=refresh_s, gpu_ms=max(200, int(refresh_s * 1000)), log_lines=LOG_LINES)
        self.fleet = Fleet(  # monitors, canary, rate histories, alerts: run only when live (no fixed states)
            config,
            cadence=cadence,
            plan_watch=InterruptedPlans(),  # plans that never ended: the banner, R
            on_update=lambda name: self.post_message(HostChanged(name)),
            on_canary=self._canary_seen,
            restart=self._canary_restart,
            busy=lambda name: name in self.actions_running,
        )
        self.monitors = {} if states is not None else self.fleet.monitors
        self._dirty: set[str] = set()  # hosts whose panel is to be drawn again
        self._log_seq: dict[str, int] = {}
        self._updated_at: float | None = None
        self.shown: dict[str, HostState] = {}  # the state each panel shows now
        self.focused_host = config.hosts[0].name
        self.actions_running: dict[str, str] = {}  # host -> action, while one runs
        self.compact = False  # z: compact mode (no header/footer, panels condensed)
        self.summary = False  # s: the fleet summary table instead of the panels
        self.alert_engine = self.fleet.engine
        self._notifier = Notifier(config.alerts.notify, config.alerts.notify_timeout_s)
        self._alerts_drawn = False
        self._vitals: dict[str, tuple[bool, str | None, str | None]] = {}  # host -> what was last seen
        self._redraw_soon = False
        self.action_views: dict[str, ActionView] = {}  # host -> what its running action shows
        self._action_tasks: dict[str, asyncio.Task[None]] = {}
        self._bench_before: dict[str, BenchResult | None] = {}  # host -> the quick bench before its rebuild
        self.chat_histories = ChatHistories()  # per host, for the session
        self._bench_cache: dict[str, tuple[tuple[str, str | None] | None, list[HistoryEntry]]] = {}

    @property
    def host_names(self) -> list[str]:
        return [host.name for host in self.config.hosts]

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status")
        yield AlertBanner(id="alert-banner")
        yield RecoveryBanner(id="recovery-banner")
        yield HostGrid(self.config.hosts, id="hosts")
        yield OutOfView(id="out-of-view")
        yield FleetTable(id="fleet")
        yield LogPane(id="log", max_lines=LOG_LINES)
        yield ActionProgress(id="action")
        yield SteadyFooter()

    def on_mount(self) -> None:
        self._show_summary(len(self.config.hosts) > SUMMARY_PAST_HOSTS)
        limits = (max(5.0, 3 * self.refresh_s), max(30.0, 10 * self.refresh_s))
        for panel in self.query_one(HostGrid).panels:
            panel.age_limits = limits
        if self._fixed_states is not None:
            self._show_fixed()
            return
        self.install_signal_handlers()
        for job in self.fleet.jobs():
            self.run_worker(job, exit_on_error=False, group="fleet")
        if self._background is not None:
            self.run_worker(self._background(), exit_on_error=False, group="background")
        self.set_interval(self.refresh_s, self._refresh)
        self.focus_host(self.focused_host)

    def _canary_seen(self, name: str, result: CanaryResult, was: CanaryResult | None) -> None:
        if not result.ok:
            self.notify(result.describe(), title=f"{name}: wedge canary", severity="error", timeout=15)
        elif was is not None and not was.ok:
            self.notify(result.describe(), title=f"{name}: answers again", timeout=8)

    async def _canary_restart(self, monitor: HostMonitor, result: CanaryResult) -> None:
        name = monitor.host.name
        self.notify(
            f"restarting {name} (auto-restart on a wedge; audited)",
            title="wedge canary",
            severity="warning",
            timeout=10,
        )
        self._run_action(plan_restart(monitor.host), name, monitor.host.unit)

    # -- updates ---------------------------------------------------------------------
    @on(HostChanged)
    def _mark_dirty(self, message: HostChanged) -> None:
        if not self.is_running:  # a monitor's update that arrives while the app is closing (its widgets going)
            return
        if message.name == self.focused_host:
            self._feed_log(message.name)
        # a host going down or coming back is drawn now, not at the next tick (coalesced ~50 ms)
        vitals = self.monitors[message.name].vitals()
        if self._vitals.get(message.name) != vitals:
            self._vitals[message.name] = vitals
            if not self._redraw_soon:
                self._redraw_soon = True
                self.set_timer(0.05, self._redraw_now)

    def _redraw_now(self) -> None:
        self._redraw_soon = False
        self._refresh()

    def _refresh(self) -> None:
        if not self.is_running:  # a redraw timer that fires while the app is closing (its widgets going)
            return
        now = time.time()
        tick = self.fleet.tick(now)
        self.shown.update(tick.states)  # alerts and the status line judge every host, drawn or not
        self._dirty |= tick.changed
        self._show_alert_events(tick.events)
        if not self._dirty:
            return
        grid = self.query_one(HostGrid)
        hidden: set[str] = set()
        for name in sorted(self._dirty):
            state = self.shown[name]
            panel = grid.panel(name)
            if self.summary or not grid.in_view(panel):  # out of sight: drawn when it comes back
                hidden.add(name)
                continue
            panel.show(
                state,
                self.fleet.histories[name].points(now),
                now,
                self._bench_runs(name, state.model_id),
                self.alert_engine.active_for(name),
            )
        self._dirty = hidden
        if self.summary:
            self._show_table()
        self._updated_at = now
        # the states just shown; a host not drawn yet is asked once (no second build of drawn ones)
        states = list(self.shown.values())
        self.query_one(StatusLine).show(states, now)
        self.query_one(RecoveryBanner).show({s.name: s.interrupted for s in states if s.interrupted})
        self._show_out_of_view()

    def _show_out_of_view(self) -> None:
        """A line for each host whose panel the grid cannot show now (none in the summary table)."""
        grid = self.query_one(HostGrid)
        hidden = (
            []
            if self.summary
            else [
                self.shown[panel.host.name]
                for panel in grid.panels
                if panel.host.name in self.shown and not grid.in_view(panel)
            ]
        )
        self.query_one(OutOfView).show(hidden)

    def _bench_runs(self, name: str, model_id: str | None) -> list[HistoryEntry]:
        """The bench history of the served model: read when the model changes or after a bench."""
        key = (name, model_id)
        if self._bench_cache.get(name, (None, []))[0] != key:
            runs = bench_history.read_history(name, model_id) if model_id else []
            self._bench_cache[name] = (key, runs)
        return self._bench_cache[name][1]

    def _feed_log(self, name: str) -> None:
        monitor = self.monitors[name]
        self.query_one(LogPane).set_problem(monitor.journal_problem)
        entries = monitor.entries_since(self._log_seq.get(name, 0))
        self._log_seq[name] = monitor.log_seq
        if entries:
            self.query_one(LogPane).append(entries)

    def _show_fixed(self) -> None:
        assert self._fixed_states is not None
        now = self._fixed_now if self._fixed_now is not None else time.time()
        grid = self.query_one(HostGrid)
        for name, state in self._fixed_states.items():
            grid.panel(name).show(state, self._fixed_histories.get(name, []), now, self._fixed_bench.get(name, []))
        self.shown.update(self._fixed_states)
        self.query_one(StatusLine).show(list(self._fixed_states.values()), now)
        if self.summary:
            self._show_table()
            return
        focused = self._fixed_states.get(self.focused_host)
        if focused is not None:
            grid.panel(self.focused_host).focus()
            self.query_one(LogPane).show_host(self.focused_host, focused.recent_log)
        self.call_after_refresh(self._show_out_of_view)  # which panels show is known after the layout

    # -- focus -----------------------------------------------------------------------
    def focus_host(self, name: str) -> None:
        self.query_one(HostGrid).panel(name).focus()
        self._switch_log(name)
        self.call_after_refresh(self._show_out_of_view)  # the focus scrolled the grid

    def _switch_log(self, name: str) -> None:
        if name == self.focused_host and name in self._log_seq:
            return
        self.focused_host = name
        monitor = self.monitors.get(name)
        if monitor is not None:
            self._log_seq[name] = monitor.log_seq
            self.query_one(LogPane).show_host(name, list(monitor.log))
            self.query_one(LogPane).set_problem(monitor.journal_problem)
        if self.action_views:
            self._show_action()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, HostPanel):
            self._switch_log(event.widget.host.name)

    def _step_host(self, step: int) -> None:
        names = self.host_names
        index = names.index(self.focused_host) if self.focused_host in names else 0
        name = names[(index + step) % len(names)]
        if self.summary:  # the table's cursor moves to the host; its log follows
            self.query_one(FleetTable).move_cursor(row=(index + step) % len(names))
            self._switch_log(name)
            return
        self.focus_host(name)

    def action_next_host(self) -> None:
        self._step_host(1)

    def action_previous_host(self) -> None:
        self._step_host(-1)

    def action_focus_log(self) -> None:
        self.query_one(LogPane).focus()

    def action_pause_log(self) -> None:
        self.query_one(LogPane).action_toggle_pause()

    # -- themes, help -----------------------------------------------------------------
    def dashboard_themes(self) -> Sequence[str]:
        return themes.names()

    def set_theme(self, name: str) -> None:
        themes.choose(self, name)

    def action_next_theme(self) -> None:
        names = list(self.dashboard_themes())
        current = self.theme if self.theme in names else names[-1]
        self.set_theme(names[(names.index(current) + 1) % len(names)])
        self.notify(f"theme: {self.theme}", timeout=2)

    def key_label(self, action: str, default: str) -> str:
        """The key the operator presses for action: the [keys] remap, else the default."""
        remapped = self.config.keys.get(action)
        return remapped.replace(",", " / ") if remapped else default

    def action_help(self) -> None:
        keys = [(self.key_label(c.id, c.key_label), c.help) for c in REGISTRY]
        keys += [("/ l p G", "in the log pane: search, level filter, pause, follow the end")]
        self.push_screen(HelpScreen(keys))

    # -- actions ---------------------------------------------------------------------------
    def _refused_read_only(self, what: str) -> bool:
        """True, after saying why, when this app only watches (started by gb10dash serve --read-only)."""
        if self.read_only:
            self.notify(
                f"{what} is disabled: started with gb10dash serve --read-only",
                title="read-only",
                severity="warning",
                timeout=6,
            )
        return self.read_only

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A mutating command is shown disabled in a read-only app (and Textual will not run it)."""
        return None if self.read_only and is_mutating(action) else True

    async def run_action(self, action, default_namespace=None, namespaces=None) -> bool:  # type: ignore[override]
        """Every key, palette entry and screen runs the app's actions through here: a mutating one
        is refused, with the reason, in a read-only app — one check for every command the registry
        marks mutating, none wired by hand."""
        if (
            isinstance(action, str)
            and default_namespace in (None, self)
            and is_mutating(action)
            and self._refused_read_only(action.replace("_", " "))
        ):
            return True
        return await super().run_action(action, default_namespace, namespaces)

    def action_restart(self) -> None:
        monitor = self._live_monitor()
        if monitor is None:
            return
        try:
            plan = plan_restart(monitor.host)
        except ValueError as exc:  # a watch-only host
            self.notify(str(exc), title=f"{monitor.host.name}: cannot restart", severity="error", timeout=8)
            return
        self._confirm_and_run(plan, monitor.host.name, monitor.host.unit)

    def action_chat(self) -> None:
        name = self.focused_host
        monitor = self.monitors.get(name)
        if monitor is None:
            self.notify("no live connection in this view", severity="warning")
            return
        self.push_screen(ChatScreen(name, monitor.api_client, histories=self.chat_histories))

    def _live_monitor(self) -> HostMonitor | None:
        monitor = self.monitors.get(self.focused_host)
        if monitor is None:
            self.notify("no live connection in this view", severity="warning")
        elif self.focused_host in self.actions_running:
            self.notify(
                f"{self.focused_host}: {self.actions_running[self.focused_host]} is still running", severity="warning"
            )
            return None
        return monitor

    def action_rebuild(self, restart: bool = True) -> None:
        monitor = self._live_monitor()
        if monitor is not None:
            self._plan_rebuild(monitor, restart)

    def action_rebuild_only(self) -> None:
        self.action_rebuild(restart=False)

    @work(exit_on_error=False, group="actions")
    async def _plan_rebuild(self, monitor: HostMonitor, restart: bool) -> None:
        host = monitor.host
        try:
            plan = await prepare_rebuild(host, monitor.transport, monitor.api_client, restart=restart)
        except (TransportError, ValueError) as exc:
            self.notify(str(exc), title=f"{host.name}: cannot plan the rebuild", severity="error", timeout=8)
            return
        self._confirm_and_run(plan, host.name, host.unit)

    @work(exit_on_error=False, group="actions")
    async def action_bench(self) -> None:
        monitor = self._live_monitor()
        if monitor is None:
            return
        name = monitor.host.name
        self.actions_running[name] = "bench"
        self.notify(f"{name}: quick benchmark started", timeout=3)
        try:
            run = BenchRun(monitor.host, await monitor.api_client(), make_workload(quick=True))
            result = await run.run()
            bench_history.append(result)
            self._bench_cache.pop(name, None)
            self._dirty.add(name)
            self.notify(
                "\n".join(bench_table(result)),
                title=f"{name}: {bench_verdict(result)}",
                timeout=20,
                severity="warning" if result.regression else "information",
            )
        except (BenchError, TransportError, ValueError) as exc:
            self.notify(str(exc), title=f"{name}: benchmark failed", severity="error", timeout=10)
        finally:
            self.actions_running.pop(name, None)

    def action_swap(self) -> None:
        monitor = self._live_monitor()
        if monitor is not None:
            self._pick_model(monitor.host.name)

    @work(exit_on_error=False, group="actions")
    async def _pick_model(self, name: str) -> None:
        monitor = self.monitors[name]
        host = monitor.host
        try:
            require_unit(host, "the model swap")
            self.notify(f"{name}: listing the models on {host.model_share} …", timeout=3)
            candidates = await share_models(monitor.transport, host, client=monitor.api_client)
        except (TransportError, ValueError) as exc:
            self.notify(str(exc), title=f"{name}: cannot swap", severity="error", timeout=8)
            return
        if not candidates:
            self.notify(f"no GGUF models found on {host.model_share}", title=name, severity="warning")
            return
        serving = self.shown[name].model_id if name in self.shown else None
        chosen = await self.push_screen_wait(ModelPicker(name, host.model_share, candidates, serving))
        if chosen is None:
            return
        try:
            plan = await prepare_swap(monitor.transport, host, chosen, client=monitor.api_client)
        except (TransportError, ValueError) as exc:
            self.notify(str(exc), title=f"{name}: cannot plan the swap", severity="error", timeout=8)
            return
        self._confirm_and_run(plan, name, host.unit)

    def _confirm_and_run(self, plan: Plan, host: str, unit: str, title: str | None = None) -> None:
        if self._refused_read_only(plan.action):  # before a plan is even shown (_run_action checks again)
            return
        if host in self.actions_running:
            self.notify(
                f"{host}: {self.actions_running[host]} is still running; wait for it to finish", severity="warning"
            )
            return

        def answered(go: bool | None) -> None:
            if go:
                self._run_action(plan, host, unit)

        self.push_screen(ConfirmScreen(title or f"{plan.action} on {host}?", plan.describe()), answered)

    def _show_action(self) -> None:
        view = self.action_views.get(self.focused_host) or next(iter(self.action_views.values()), None)
        self.query_one(ActionProgress).show(view)

    @work(exit_on_error=False, group="actions")
    async def _run_action(self, plan: Plan, host: str, unit: str) -> None:
        # the one door to the executor (a confirmed plan, the wedge canary's auto-restart): shut when read-only
        if self._refused_read_only(plan.action):
            return
        monitor = self.monitors[host]
        self.actions_running[host] = plan.action
        self.action_views[host] = ActionView(host, plan.action, total=len(plan.steps))
        self._action_tasks[host] = asyncio.current_task()  # type: ignore[assignment]
        self._show_action()
        self.notify(f"{host}: {plan.action} started", timeout=3)

        def progress(step: Progress) -> None:
            self.action_views[host] = self.action_views[host].advanced(step)
            self._show_action()
            waiting = step.status == "progress" and step.percent is None and step.elapsed_s % 10 < 0.6
            if step.status in ("ok", "failed") or waiting:
                self.notify(
                    f"{host}: {step.title} — {step.status} {step.detail}".rstrip(),
                    timeout=4,
                    severity="error" if step.status == "failed" else "information",
                )

        try:
            if plan.action == "rebuild" and switches_build(plan):
                self._bench_before[host] = await self._regression_bench(monitor, "before")
            result = await run_plan(plan, monitor.transport, monitor.api_client, unit=unit, on_progress=progress)
            if result.ok and plan.action in ("rebuild", "rebuild-switch") and host in self._bench_before:
                await self._regression_check(monitor, result)
        except (ActionBusy, TransportError) as exc:
            self.notify(str(exc), title=f"{plan.action} not started", severity="error", timeout=8)
            return
        except asyncio.CancelledError as exc:
            self.plan_cancelled(host, plan, cancelled_result(exc))
            raise
        finally:
            self.actions_running.pop(host, None)
            self.action_views.pop(host, None)
            self._action_tasks.pop(host, None)
            self._show_action()
            self.call_later(monitor.poll_plans)  # a plan that ended (or a recovery) clears the banner at once
        self._report(plan, host, result)
        if not result.ok and plan.action == "rebuild":
            await self._offer_flag_rewrite(monitor, plan, result)

    async def _regression_bench(self, monitor: HostMonitor, label: str) -> BenchResult | None:
        host = monitor.host.name
        self.action_views[host] = ActionView(
            host, self.actions_running.get(host, "rebuild"), title=f"quick bench {label} (regression check)"
        )
        self._show_action()
        try:
            return await quick_bench(monitor.host, await monitor.api_client())
        except (BenchError, TransportError, ValueError) as exc:
            self.notify(str(exc), title=f"{host}: quick bench {label} failed", severity="warning", timeout=8)
            return None

    async def _regression_check(self, monitor: HostMonitor, result: PlanResult) -> None:
        """The quick bench on the new build against the one before it; a drop offers the revert."""
        host = monitor.host.name
        before = self._bench_before.pop(host)
        if before is None:
            return
        check = BeforeAfter(before, await self._regression_bench(monitor, "after"), commits=commits_of(result))
        self._bench_cache.pop(host, None)
        self.notify(
            "\n".join(check.table()),
            title=f"{host}: rebuild regression check",
            timeout=30,
            severity="warning" if check.dropped else "information",
        )
        if check.dropped:
            self._plan_revert(monitor, title=f"gen tok/s dropped on {host}: revert to the previous build?")

    def _report(self, plan: Plan, host: str, result: PlanResult) -> None:
        if result.ok:
            self.notify(f"{host}: {plan.action} done in {result.record.duration_s:.1f} s", title="done", timeout=6)
            return
        tail = "\n".join(result.journal[-8:])
        self.notify(
            f"{result.error}" + (f"\n{tail}" if tail else ""),
            title=f"{host}: {plan.action} failed" + (" (rolled back)" if result.rolled_back else ""),
            severity="error",
            timeout=20,
        )

    async def _offer_flag_rewrite(self, monitor: HostMonitor, plan: Plan, result: PlanResult) -> None:
        """The new build renamed flags of the unit's ExecStart: offer the rewritten one as a drop-in."""
        try:
            follow = await rewrite_follow_up(monitor.transport, monitor.host, plan, result)
        except (TransportError, ValueError) as exc:
            self.notify(
                str(exc),
                title=f"{monitor.host.name}: cannot offer the rewritten ExecStart",
                severity="error",
                timeout=8,
            )
            return
        if follow is not None:
            self._confirm_and_run(
                follow,
                monitor.host.name,
                monitor.host.unit,
                title=f"The new build renamed flags: switch {monitor.host.name} with this ExecStart?",
            )

    def action_cancel_action(self) -> None:
        host = self.focused_host if self.focused_host in self._action_tasks else next(iter(self._action_tasks), None)
        if host is None:
            self.notify("no action is running", severity="information", timeout=3)
            return
        action = self.actions_running.get(host, "the action")

        def answered(go: bool | None) -> None:
            task = self._action_tasks.get(host)
            if go and task is not None:
                task.cancel()

        self.push_screen(
            ConfirmScreen(
                f"Cancel {action} on {host}?",
                [
                    "The running command is killed on the host (a build with all its "
                    "compilers); steps already done are undone, as on a failure."
                ],
            ),
            answered,
        )

    def _show_alert_events(self, events: Sequence[AlertEvent]) -> None:
        """What a tick's alert events show: a raised alert rings the bell (if configured), shows a
        notification and runs the notify command; the banner and the host's panel show the firing ones."""
        for event in events:
            alert = event.alert
            self._dirty.add(alert.host)
            if event.kind == "raised":
                if self.config.alerts.bell:
                    self.bell()
                self.notify(
                    f"{alert.rule}: {alert.message}",
                    title=f"{alert.host}: alert",
                    timeout=10,
                    severity="error" if alert.severity == CRITICAL else "warning",
                )
            else:
                self.notify(f"{alert.rule} cleared", title=f"{alert.host}: alert cleared", timeout=6)
            if self._notifier.enabled:
                self._send_notify(event)
        if events or not self._alerts_drawn:
            self._alerts_drawn = True
            self.query_one(AlertBanner).show(self.alert_engine.active)

    @work(exit_on_error=False, group="notify")
    async def _send_notify(self, event: AlertEvent) -> None:
        failed = await self._notifier.send(event)
        if failed:
            self.notify(failed, title="alert notify command", severity="warning", timeout=8)

    def action_alert_history(self) -> None:
        self.push_screen(AlertHistoryScreen(self.alert_engine.history, time.time()))

    def _show_table(self) -> None:
        self.query_one(FleetTable).show(
            [self.shown[h.name] for h in self.config.hosts if h.name in self.shown],
            {h.name: self.alert_engine.active_for(h.name) for h in self.config.hosts},
        )

    def _show_summary(self, on: bool) -> None:
        self.summary = on
        self.query_one(HostGrid).display = not on
        table = self.query_one(FleetTable)
        table.display = on
        if on:
            self._show_table()
            table.focus()
        else:
            self._dirty.update(self.shown)  # panels skipped while hidden
            self.focus_host(self.focused_host)

    def action_toggle_summary(self) -> None:
        self._show_summary(not self.summary)

    @on(FleetTable.RowSelected)
    def _open_host(self, event: FleetTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.focused_host = event.row_key.value
            self._show_summary(False)

    def action_toggle_compact(self) -> None:
        """Compact mode for a split or far screen: header and footer hidden, panels condensed."""
        self.compact = not self.compact
        self.screen.set_class(self.compact, "-compact-mode")
        self.query_one(HostGrid).force_compact(self.compact)

    def action_copy_log(self) -> None:
        lines = self.query_one(LogPane).on_screen_lines
        if not lines:
            self.notify("no log lines on screen to copy", severity="warning", timeout=3)
            return
        self.copy_to_clipboard("\n".join(lines) + "\n")
        self.notify(
            f"copied {len(lines)} log lines of {self.focused_host} (OSC 52: your terminal's clipboard)", timeout=3
        )

    def action_drop_caches(self) -> None:
        monitor = self._live_monitor()
        if monitor is None:
            return
        state = self.shown.get(monitor.host.name)
        split = memory_split(state.meminfo, state.server_gpu_memory_mib) if state is not None else None
        self._confirm_and_run(
            plan_drop_caches(monitor.host, split.cache_kib if split else None), monitor.host.name, monitor.host.unit
        )

    def action_revert_build(self) -> None:
        monitor = self._live_monitor()
        if monitor is not None:
            self._plan_revert(monitor)

    @work(exit_on_error=False, group="actions")
    async def _plan_revert(self, monitor: HostMonitor, title: str | None = None) -> None:
        host = monitor.host
        try:
            plan = await prepare_revert(
                monitor.transport, host, remote_path(host.build_dir, local=host.transport == "local")
            )
        except (TransportError, ValueError) as exc:
            self.notify(str(exc), title=f"{host.name}: cannot revert the build", severity="error", timeout=8)
            return
        self._confirm_and_run(plan, host.name, host.unit, title=title)

    async def action_quit(self) -> None:
        if not self.actions_running:
            self.exit()
            return
        running = ", ".join(f"{a} on {h}" for h, a in self.actions_running.items())

        def answered(go: bool | None) -> None:
            if go:
                self.exit()

        self.push_screen(
            ConfirmScreen(
                "Quit while an action runs?",
                [
                    f"Still running: {running}.",
                    "Quitting stops watching it; the host "
                    "finishes or fails on its own, and the audit log may miss the end.",
                ],
            ),
            answered,
        )

    async def on_unmount(self) -> None:
        self.remove_signal_handlers()
        for monitor in self.monitors.values():
            await monitor.close()
