"""HostPanel: everything about one host, updated in place by `show(state, history, now)`.

The panel is focusable (the app moves focus between hosts). CSS classes it sets on itself:
`-stale` (unreachable: last known values greyed), `-degraded` (problems: error border/title),
`-compact` / `-tiny` (little room: one line per part / and no chart; set by HostGrid).
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.content import Content
from textual.widget import Widget

from gb10dash.alerts import Alert
from gb10dash.bench.history import HistoryEntry
from gb10dash.config import HostConfig
from gb10dash.core.history import RatePoint
from gb10dash.core.state import HostState
from gb10dash.format import coarse_duration
from gb10dash.ui.widgets.alerts import AlertsView
from gb10dash.ui.widgets.gpu import GpuLine
from gb10dash.ui.widgets.kernel_line import KernelLine
from gb10dash.ui.widgets.labels import BAD, MUTED, OK
from gb10dash.ui.widgets.memory import MemoryView
from gb10dash.ui.widgets.model import ModelLine
from gb10dash.ui.widgets.service import ServiceLine
from gb10dash.ui.widgets.share import ShareLine
from gb10dash.ui.widgets.slots import SlotsView
from gb10dash.ui.widgets.throughput import ThroughputView


def panel_title(name: str, state: HostState | None) -> Content:
    if state is None:
        return Content.assemble(("… ", MUTED), (name, "bold"))
    if not state.connected:
        return Content.assemble(("✗ ", BAD), (name, "bold"), (" unreachable", BAD))
    if not state.healthy:
        return Content.assemble(("✗ ", BAD), (name, "bold"), (" degraded", BAD))
    return Content.assemble(("● ", OK), (name, "bold"))


#: the sources refreshed at every refresh or streamed: the newest of them is the panel's data age
FRESH_SOURCES = ("memory", "health", "gpu")


def data_age(state: HostState, now: float) -> float | None:
    """Seconds since the newest of the frequently refreshed figures (None: none yet)."""
    seen = [state.sources[name].last_ok for name in FRESH_SOURCES if name in state.sources]
    known = [at for at in seen if at is not None]
    return max(0.0, now - max(known)) if known else None


def age_level(age: float | None, limits: tuple[float, float]) -> str:
    """'' while fresh, 'amber' past the first limit, 'red' past the second."""
    if age is None or age < limits[0]:
        return ""
    return "amber" if age < limits[1] else "red"


def panel_subtitle(state: HostState) -> str:
    gpu = state.gpu
    if gpu is None or not gpu.name:
        return state.config.ssh_alias or state.config.transport
    return f"{gpu.name} · sm {gpu.compute_cap}" if gpu.compute_cap else gpu.name


class HostPanel(Widget, can_focus=True):
    def __init__(self, host: HostConfig, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.host = host
        self.state: HostState | None = None
        self.age_limits = (5.0, 30.0)  # data older than this turns the border amber, then red (set by the app)
        self.border_title = panel_title(host.name, None)
        self._titles: tuple[Content, str | None] = (panel_title(host.name, None), None)  # as last assigned

    def compose(self) -> ComposeResult:
        yield AlertsView(classes="alerts")
        yield ServiceLine(Content.styled("waiting for the first update…", MUTED), classes="section")
        yield ModelLine(classes="section")
        yield ThroughputView(classes="section")
        yield MemoryView(classes="section")
        yield GpuLine(classes="section")
        yield ShareLine(classes="section")
        yield KernelLine(classes="section")
        yield SlotsView(classes="section")

    def on_mount(self) -> None:
        self.query_one(AlertsView).display = False
        self.query_one(KernelLine).display = False

    def watch_has_focus(self, has_focus: bool) -> None:
        """Restyle the panel alone when focus comes or goes. Textual restyles the focused widget's
        whole subtree, which throws away every cached line of both panels (the one left and the one
        entered) and renders them again: ~25 ms a keypress on these cores. Only the panel's own border
        depends on `:focus` — app.tcss has no `HostPanel:focus <descendant>` rule (a test checks)."""
        self.app.stylesheet.update_nodes([self], animate=False)

    def condense(self, *, compact: bool, tiny: bool = False) -> None:
        """Little room: `compact` puts each part on one line, `tiny` also drops the chart."""
        self.set_class(compact or tiny, "-compact")
        self.set_class(tiny, "-tiny")
        for part in self.query_children().filter("SlotsView, MemoryView"):
            part.compact = compact or tiny  # type: ignore[attr-defined]

    def show(
        self,
        state: HostState,
        history: Sequence[RatePoint],
        now: float,
        bench: Sequence[HistoryEntry] = (),
        firing: Sequence[Alert] = (),
    ) -> None:
        """Update every part in place from a state, its rate history, the bench runs of the served
        model and the time `now`."""
        self.state = state
        age = data_age(state, now)
        level = age_level(age, self.age_limits)
        self.set_class(not state.connected, "-stale")
        self.set_class(not state.healthy, "-degraded")
        self.set_class(level == "amber", "-age-amber")
        self.set_class(level == "red", "-age-red")
        title, subtitle = panel_title(self.host.name, state), panel_subtitle(state)
        if level and age is not None:
            subtitle = f"data {coarse_duration(age)} old · {subtitle}"
        # each assignment repaints the whole panel, so only on a change; compared with what was
        # assigned (the border_title getter gives the parsed markup back, which never equals it)
        if title != self._titles[0]:
            self.border_title = title
        if subtitle != self._titles[1]:
            self.border_subtitle = subtitle
        self._titles = (title, subtitle)
        self.query_one(AlertsView).show(state, now, firing)
        self.query_one(ServiceLine).show(state.unit, now)
        self.query_one(ModelLine).show(state, now)
        self.query_one(ThroughputView).show(state, history, now, bench)
        self.query_one(MemoryView).show(state)
        self.query_one(GpuLine).show(state.gpu)
        self.query_one(ShareLine).show(state.mount, state.config.model_share)
        self.query_one(KernelLine).show(state.kernel_events, now)
        self.query_one(SlotsView).show(state.slots, state.slot_activity)
