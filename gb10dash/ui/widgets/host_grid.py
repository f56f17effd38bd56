"""HostGrid: one HostPanel per host, side by side; stacked when the terminal is narrow.

Columns follow the grid's own width: 1 below NARROW_BELOW columns (class `-narrow`: panels
stacked), else as many as fit at MIN_PANEL_WIDTH (8 hosts at 160 wide: 4 x 2). Rows share
the height; when a share would be lower than MIN_PANEL_HEIGHT, every row gets the grid's
height (capped at FULL_PANEL_HEIGHT) and the grid scrolls — focus scrolls the focused panel
into view. Low panels condense: `compact` (one line per part) and `tiny` (no chart).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from textual.app import ComposeResult
from textual.containers import ScrollableContainer
from textual.events import Resize
from textual.geometry import Region, Size

from gb10dash.config import HostConfig
from gb10dash.ui.widgets.host_panel import HostPanel

NARROW_BELOW = 120
MIN_PANEL_WIDTH = 40
MIN_PANEL_HEIGHT = 15  # a tiny panel: everything but the chart
FULL_PANEL_HEIGHT = 22  # a compact panel with a small chart
#: panels lower than this are compact (one line per part, cut with an ellipsis)
ROOMY_HEIGHT = 34


def panel_id(name: str) -> str:
    """The DOM id of a host's panel: `host-<name>` (characters an id cannot hold become `_`)."""
    return "host-" + re.sub(r"[^A-Za-z0-9_-]", "_", name)


def grid_shape(hosts: int, size: Size) -> tuple[int, int]:
    """(columns, rows) for this many hosts in this many cells."""
    if hosts <= 0:
        return 1, 0
    columns = 1 if size.width < NARROW_BELOW else max(1, min(hosts, size.width // MIN_PANEL_WIDTH))
    return columns, math.ceil(hosts / columns)


class HostGrid(ScrollableContainer, can_focus=False):
    def __init__(self, hosts: Sequence[HostConfig], *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.hosts = tuple(hosts)
        self.forced_compact = False  # the operator's compact mode (z)

    def force_compact(self, on: bool) -> None:
        self.forced_compact = on
        self.fit_to(self.size)

    def compose(self) -> ComposeResult:
        for host in self.hosts:
            yield HostPanel(host, id=panel_id(host.name))

    def panel(self, name: str) -> HostPanel:
        return self.query_one(f"#{panel_id(name)}", HostPanel)

    def in_view(self, panel: HostPanel) -> bool:
        """The panel shows at least partly in the grid's scroll window (before the first layout: yes)."""
        if not self.size.area:
            return True
        window = Region(int(self.scroll_x), int(self.scroll_y), self.size.width, self.size.height)
        return panel.virtual_region.overlaps(window)

    @property
    def panels(self) -> list[HostPanel]:
        return list(self.query_children(HostPanel))

    def on_resize(self, event: Resize) -> None:
        self.fit_to(event.size)

    def fit_to(self, size: Size) -> None:
        columns, rows = grid_shape(len(self.hosts), size)
        self.set_class(size.width < NARROW_BELOW, "-narrow")
        share = size.height // max(rows, 1)
        fits = share >= MIN_PANEL_HEIGHT
        row_height = share if fits else max(MIN_PANEL_HEIGHT, min(size.height, FULL_PANEL_HEIGHT))
        self.styles.grid_size_columns = columns
        self.styles.grid_size_rows = rows
        self.styles.grid_rows = "1fr" if fits else str(row_height)
        for panel in self.panels:
            panel.condense(
                compact=self.forced_compact or row_height < ROOMY_HEIGHT, tiny=row_height < FULL_PANEL_HEIGHT
            )
