"""Messages the dashboard passes around (the monitors post them; the app owns every change)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from gb10dash.ui.widgets.action_progress import ActionView


class HostChanged(Message):
    """Something new is known about a host; the app pulls its state on the next refresh tick.

    Frequent (every GPU sample, every journal burst), so a queued one for the same host is
    replaced rather than piled up.
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, HostChanged) and message.name == self.name


class ActionChanged(Message):
    """A host's running action moved on (a step, a percentage, a stage); None: it ended."""

    def __init__(self, host: str, view: ActionView | None) -> None:
        super().__init__()
        self.host, self.view = host, view
