"""The dashboard app: one panel per host, the focused host's log, a status line and keys.

The fleet's monitors (one per host, one SSH connection each, streams + slow polls) run as
workers in the app's event loop and post HostChanged; the app ticks the fleet at
the refresh interval and hands it to the widgets. Widgets never do I/O.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from textual import events, on
from textual.app import App, ComposeResult
from textual.binding import Binding

from gb10dash.actions.recover import InterruptedPlans
from gb10dash.bench.history import HistoryEntry
from gb10dash.commands import COMMANDS as REGISTRY
from gb10dash.commands import is_mutating
from gb10dash.config import Config
from gb10dash.core.canary import CanaryResult
from gb10dash.core.fleet import Fleet
from gb10dash.core.history import RatePoint
from gb10dash.core.monitor import Cadence, HostMonitor
from gb10dash.core.state import HostState
from gb10dash.ledger.recorder import recorder_for
from gb10dash.ledger.store import LedgerError, LedgerStore
from gb10dash.ui import themes
from gb10dash.ui.commands import DashboardCommands
from gb10dash.ui.fleet_view import FleetView
from gb10dash.ui.messages import ActionChanged, HostChanged
from gb10dash.ui.plan_safety import PlanSafety
from gb10dash.ui.widgets.action_progress import ActionProgress
from gb10dash.ui.widgets.alert_banner import AlertBanner
from gb10dash.ui.widgets.fleet_table import FleetTable
from gb10dash.ui.widgets.host_grid import HostGrid
from gb10dash.ui.widgets.host_panel import HostPanel
from gb10dash.ui.widgets.log_pane import LogPane
from gb10dash.ui.widgets.out_of_view import OutOfView
from gb10dash.ui.widgets.recovery_banner import RecoveryBanner
from gb10dash.ui.widgets.status_line import StatusLine
from gb10dash.ui.widgets.steady_footer import SteadyFooter
from gb10dash.ui.workflow_runner import WorkflowRunner

if TYPE_CHECKING:
    from gb10dash.actions.port import Outcome
    from gb10dash.actions.workflows import Workflows
    from gb10dash.chat.session import ChatHistories
    from gb10dash.ui.exit_watchdog import ExitWatchdog

SUMMARY_PAST_HOSTS = 8  # more hosts than this: the app opens on the fleet summary
#: journal entries kept per host by its monitor, and lines by the log pane: the same number, so the
#: pane never holds entries its monitor has let go (~0.7 KiB a line: 5000 in the pane were ~3.4 MiB)
LOG_LINES = 2000


def freeze_start_up() -> None:
    """What start-up made (modules, the widget tree, ~10^5 objects) lives as long as the app: collected
    once, then out of the cyclic collector's sight, so that a full collection scans only what came after.
    Every slow key press in the bench (~70 ms instead of ~20) had a 45-72 ms generation-2 collection
    inside its frame."""
    gc.collect()
    gc.freeze()


class Gb10DashApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "gb10dash"
    COMMANDS = App.COMMANDS | {DashboardCommands}
    #: generated from the command registry (gb10dash/commands.py): every binding has an id (its action),
    #: which [keys] in hosts.toml remaps (gb10dash/config/keys.py)
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
        watchdog: ExitWatchdog | None = None,
    ) -> None:
        """Live by default; with `states` it shows those fixed states (tests, screenshots).
        `background` is a coroutine factory run alongside (the demo's traffic).
        `read_only` refuses every action that changes a host, and the chat (gb10dash serve --read-only).
        `watchdog` ends the process when an exit a signal asked for does not finish (the command line's)."""
        super().__init__()
        themes.install(self)  # before the first frame, so nothing is drawn in another theme
        self.set_keymap(config.keys)
        self.config, self.refresh_s, self.read_only = config, refresh_s, read_only
        self.fixed = None if states is None else (dict(states), dict(histories or {}), now, dict(bench or {}))
        self._background = background
        cadence = Cadence(fast_s=refresh_s, gpu_ms=max(200, int(refresh_s * 1000)), log_lines=LOG_LINES)
        self.fleet = Fleet(  # monitors, canary, rate histories, alerts: run only when live (no fixed states)
            config,
            cadence=cadence,
            plan_watch=InterruptedPlans(),  # plans that never ended: the banner, R
            on_update=lambda name: self.post_message(HostChanged(name)),
            on_canary=lambda *seen: self.view.canary_seen(*seen),
            restart=self._canary_restart,
            busy=lambda name: name in self.workflows.running,
            ledger=recorder_for(config.ledger) if states is None else None,  # the token ledger, when live
        )
        self.monitors = {} if states is not None else self.fleet.monitors
        self.shown: dict[str, HostState] = {}  # the state each panel shows now
        self.focused_host = config.hosts[0].name
        self.compact = False  # z: compact mode (no header/footer, panels condensed)
        self.summary = False  # s: the fleet summary table instead of the panels
        self.view = FleetView(self)
        self.workflows = WorkflowRunner(self)
        self.safety = PlanSafety(self, watchdog)
        self.log_seq: dict[str, int] = {}  # host -> the last of its monitor's journal entries the pane has
        self._vitals: dict[str, tuple[bool, str | None, str | None]] = {}  # host -> what was last seen
        self._redraw_soon = False
        self._chat_histories: ChatHistories | None = None  # per host, for the session (made at the first chat)

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
        self.view.show_summary(len(self.config.hosts) > SUMMARY_PAST_HOSTS)
        self.call_after_refresh(freeze_start_up)
        limits = (max(5.0, 3 * self.refresh_s), max(30.0, 10 * self.refresh_s))
        for panel in self.query_one(HostGrid).panels:
            panel.age_limits = limits
        if self.fixed is not None:
            states, histories, now, bench = self.fixed
            self.view.show_fixed(states, histories, now if now is not None else time.time(), bench)
            return
        self.safety.install_signal_handlers()
        self.call_after_refresh(self._start_watching)  # the first frame first: connecting imports asyncssh
        self.set_interval(self.refresh_s, self.refresh_fleet)
        self.focus_host(self.focused_host)

    def _start_watching(self) -> None:
        """The hosts' monitors (their first connection imports asyncssh and cryptography, ~150 ms on
        these cores) and the background jobs, once the first frame is on the screen."""
        for job in self.fleet.jobs():
            self.run_worker(job, exit_on_error=False, group="fleet")
        if self._background is not None:
            self.run_worker(self._background(), exit_on_error=False, group="background")

    async def _canary_restart(self, monitor: HostMonitor, result: CanaryResult) -> None:
        name = monitor.host.name
        self.notify(f"restarting {name} (auto-restart on a wedge; audited)", title="wedge canary", severity="warning")
        self.workflows.start(name, lambda flows: flows.restart(), unasked=True)

    # -- updates ---------------------------------------------------------------------
    @on(HostChanged)
    def host_changed(self, message: HostChanged) -> None:
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
                self.set_timer(0.05, self.refresh_fleet)

    def refresh_fleet(self) -> None:
        self._redraw_soon = False
        if self.is_running:  # not a redraw timer that fires while the app is closing (its widgets going)
            self.view.draw(self.fleet.tick(time.time()))

    @on(ActionChanged)
    def _action_changed(self, message: ActionChanged) -> None:
        self.view.dirty.add(message.host)
        self.workflows.changed(message)

    def _feed_log(self, name: str) -> None:
        monitor = self.monitors[name]
        self.query_one(LogPane).set_problem(monitor.journal_problem)
        entries = monitor.entries_since(self.log_seq.get(name, 0))
        self.log_seq[name] = monitor.log_seq
        if entries:
            self.query_one(LogPane).append(entries)

    # -- focus -----------------------------------------------------------------------
    def focus_host(self, name: str) -> None:
        self.query_one(HostGrid).panel(name).focus()
        self._switch_log(name)
        self.call_after_refresh(self.view.show_out_of_view)  # the focus scrolled the grid

    def _switch_log(self, name: str) -> None:
        if name == self.focused_host and name in self.log_seq:
            return
        self.focused_host = name
        monitor = self.monitors.get(name)
        if monitor is not None:
            self.log_seq[name] = monitor.log_seq
            self.query_one(LogPane).show_host(name, list(monitor.log))
            self.query_one(LogPane).set_problem(monitor.journal_problem)
        if self.workflows.views:
            self.workflows.show()

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
        from gb10dash.ui.screens.help import HelpScreen  # the screens are imported when first opened (RSS)

        keys = [(self.key_label(c.id, c.key_label), c.help) for c in REGISTRY]
        keys += [("/ l p G", "in the log pane: search, level filter, pause, follow the end")]
        self.push_screen(HelpScreen(keys))

    # -- actions: the workflows of gb10dash/actions, run through the TuiPort -------------------
    def refused_read_only(self, what: str) -> bool:
        """True, after saying why, when this app only watches (started by gb10dash serve --read-only)."""
        if self.read_only:
            message = f"{what} is disabled: started with gb10dash serve --read-only"
            self.notify(message, title="read-only", severity="warning", timeout=6)
        return self.read_only

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """A mutating command is shown disabled in a read-only app (and Textual will not run it)."""
        return None if self.read_only and is_mutating(action) else True

    async def run_action(self, action, default_namespace=None, namespaces=None) -> bool:
        """Every key, palette entry and screen runs the app's actions through here: a mutating one
        is refused, with the reason, in a read-only app — one check for every command the registry
        marks mutating, none wired by hand."""
        if isinstance(action, str) and default_namespace in (None, self) and is_mutating(action):
            if self.refused_read_only(action.replace("_", " ")):
                return True
        return await super().run_action(action, default_namespace, namespaces)

    def action_restart(self) -> None:
        self.workflows.start(self.focused_host, lambda flows: flows.restart())

    def action_swap(self) -> None:
        self.workflows.start(self.focused_host, lambda flows: flows.swap())

    def action_rebuild(self) -> None:
        self.workflows.start(self.focused_host, lambda flows: flows.rebuild(restart=True))

    def action_rebuild_only(self) -> None:
        self.workflows.start(self.focused_host, lambda flows: flows.rebuild(restart=False))

    def action_revert_build(self) -> None:
        self.workflows.start(self.focused_host, lambda flows: flows.revert())

    def action_drop_caches(self) -> None:
        self.workflows.start(self.focused_host, lambda flows: flows.drop_caches())

    def action_recover(self) -> None:
        self.workflows.start(self.focused_host, lambda flows: flows.recover())

    def action_bench(self) -> None:
        name = self.focused_host

        async def bench(flows: Workflows) -> Outcome:
            outcome = await flows.bench()
            self.view.bench_ran(name)
            return outcome

        self.workflows.start(name, bench)

    def action_cancel_action(self) -> None:
        self.workflows.cancel()

    @property
    def chat_histories(self) -> ChatHistories:
        if self._chat_histories is None:
            from gb10dash.chat.session import ChatHistories

            self._chat_histories = ChatHistories()
        return self._chat_histories

    def action_chat(self) -> None:
        from gb10dash.ui.screens.chat import ChatScreen  # with httpx: only when a chat opens

        monitor = self.monitors.get(self.focused_host)
        if monitor is None:
            self.notify("no live connection in this view", severity="warning")
            return
        self.push_screen(ChatScreen(self.focused_host, monitor.api_client, histories=self.chat_histories))

    # -- views ---------------------------------------------------------------------------
    def action_alert_history(self) -> None:
        from gb10dash.ui.screens.alert_history import AlertHistoryScreen

        self.push_screen(AlertHistoryScreen(self.fleet.engine.history, time.time()))

    def action_token_ledger(self) -> None:
        self.run_worker(self._open_ledger, thread=True, group="ledger", exclusive=True, exit_on_error=False)

    def _open_ledger(self) -> None:
        """In a thread (SQLite): the ledger's last 7 days, then the screen."""
        from gb10dash.ledger.report import VIEW_DAYS, ledger_view
        from gb10dash.ui.screens.ledger import LedgerScreen

        now = time.time()
        store = LedgerStore(self.config.ledger.path)
        recorder = self.fleet.ledger
        try:
            hours = store.hours(now - VIEW_DAYS * 86400)
            note = f"ledger: {store.path}" + (f" · ⚠ {recorder.problem}" if recorder and recorder.problem else "")
        except FileNotFoundError:
            hours, note = [], f"no ledger yet ({store.path}): it is recorded while the dashboard runs"
        except LedgerError as exc:
            hours, note = [], str(exc)
        if not self.config.ledger.enabled:
            note += " · [ledger] enabled = false: nothing is recorded"
        self.call_from_thread(self.push_screen, LedgerScreen(ledger_view(hours, now, note)))

    def action_toggle_summary(self) -> None:
        self.view.show_summary(not self.summary)

    @on(FleetTable.RowSelected)
    def _open_host(self, event: FleetTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.focused_host = event.row_key.value
            self.view.show_summary(False)

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
        self.notify(f"copied {len(lines)} log lines of {self.focused_host} (OSC 52: your terminal's clipboard)")

    async def action_quit(self) -> None:
        self.workflows.quit()

    async def on_unmount(self) -> None:
        self.safety.remove_signal_handlers()
        for monitor in self.monitors.values():
            await monitor.close()
