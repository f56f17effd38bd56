"""The kernel line: the newest GPU Xid, NVIDIA driver out-of-memory or OOM kill in the host's kernel log,
with when it was and how many there were; hidden while the kernel has said none of these."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content

from gb10dash.collectors.kernel_events import KernelEvent, KernelEventKind
from gb10dash.format import clock
from gb10dash.ui.widgets.labels import BAD, MUTED, WARN, joined
from gb10dash.ui.widgets.line import Line

RECENT_S = 900.0  # a newer event is drawn in the alert colours (the kernel rule's default window)


def kernel_content(events: Sequence[KernelEvent], now: float) -> Content | None:
    if not events:
        return None
    newest = events[-1]
    recent = newest.at is not None and now - newest.at <= RECENT_S
    severe = newest.kind is not KernelEventKind.OOM_KILL or newest.hits_server
    style = (BAD if severe else WARN) if recent else MUTED
    parts: list[Content | tuple[str, str]] = [
        Content.assemble(("kernel ", MUTED), ("✗ " if recent else "", style), (newest.describe(), style)),
        (clock(newest.at), MUTED),
    ]
    if len(events) > 1:
        parts.append((f"{len(events)} since start", MUTED))
    return joined(parts)


class KernelLine(Line):
    def show(self, events: Sequence[KernelEvent], now: float) -> None:
        content = kernel_content(events, now)
        self.display = content is not None
        if content is not None:
            self.set_content(content)
