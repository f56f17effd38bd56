"""Messages the dashboard passes around (the monitors post them; the app owns every change)."""

from __future__ import annotations

from textual.message import Message


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
