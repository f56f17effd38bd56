"""The recovery banner: a host has a plan that started and never ended; R offers to undo it. Hidden when none."""

from __future__ import annotations

from collections.abc import Mapping

from textual.content import Content

from gb10dash.ui.widgets.line import Line


def recovery_text(interrupted: Mapping[str, str]) -> str:
    """One line (pure): each host's interrupted plan, then the key."""
    if not interrupted:
        return ""
    return (
        "⚠ " + " · ".join(f"{host}: {what}" for host, what in sorted(interrupted.items())) + " · R on the host: undo it"
    )


class RecoveryBanner(Line):
    def show(self, interrupted: Mapping[str, str]) -> None:
        self.display = bool(interrupted)
        self.set_content(Content(recovery_text(interrupted)))

    def on_mount(self) -> None:
        self.display = False  # until a host has an interrupted plan
