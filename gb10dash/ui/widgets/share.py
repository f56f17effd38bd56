"""The NFS share line: mounted / not mounted / hung, with how long the stat took."""

from __future__ import annotations

from textual.content import Content

from gb10dash.collectors.mounts import MountState, MountStatus
from gb10dash.ui.widgets.labels import BAD, MUTED, OK, WARN, joined
from gb10dash.ui.widgets.line import Line


def stat_time(seconds: float | None) -> str:
    if seconds is None:
        return "no stat"
    return f"stat {seconds * 1000:.0f} ms" if seconds < 1 else f"stat {seconds:.1f} s"


def share_content(mount: MountStatus | None, path: str) -> Content:
    head = Content.assemble(("share ", MUTED), (path + " ", ""))
    if mount is None:
        return Content.assemble(head, ("? unknown", MUTED))
    if mount.ok:
        state = Content.assemble(("● ", OK), (mount.state.value, f"bold {OK}"))
        slow = mount.stat_seconds is not None and mount.stat_seconds >= 1
        details = [(mount.entry.fstype, MUTED)] if mount.entry else []
        details.append((stat_time(mount.stat_seconds), WARN if slow else MUTED))
        return Content.assemble(head, joined([state, *details]))
    style = BAD
    word = Content.assemble(("✗ ", style), (mount.state.value, f"bold {style}"))
    details = [(stat_time(mount.stat_seconds), style)] if mount.state is not MountState.NOT_MOUNTED else []
    if mount.error:
        details.append((mount.error, style))
    return Content.assemble(head, joined([word, *details]))


class ShareLine(Line):
    def show(self, mount: MountStatus | None, path: str) -> None:
        self.set_content(share_content(mount, path))
