"""Command palette: every dashboard command, searchable (Ctrl+P)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from gb10dash.commands import COMMANDS

if TYPE_CHECKING:
    from gb10dash.ui.app import Gb10DashApp


class DashboardCommands(Provider):
    def _commands(self) -> list[tuple[str, str, object]]:
        app: Gb10DashApp = self.app  # type: ignore[assignment]
        found: list[tuple[str, str, object]] = []
        for name in app.host_names:
            found.append((f"Focus host {name}", f"show {name}'s panel and log", partial(app.focus_host, name)))
        for theme in app.dashboard_themes():
            found.append((f"Theme: {theme}", "switch the colour theme (remembered)", partial(app.set_theme, theme)))
        for command in COMMANDS:
            key = app.key_label(command.id, command.key_label)
            where = f"key {key}" if key else "palette only"
            if app.read_only and command.mutating:
                where += " — disabled: read-only"
            found.append((command.help, where, partial(app.run_action, command.id)))
        return found

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)  # type: ignore[arg-type]
