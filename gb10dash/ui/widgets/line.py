"""Line: a Static that redraws only when its content changes, and asks for a new layout only
when its shape may change (the dashboard refreshes every second; a layout pass of the whole
screen costs tens of milliseconds, a redraw of one line next to nothing)."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static


class Line(Static):
    _shown: Content | None = None

    def set_content(self, content: Content) -> None:
        if content == self._shown:
            return
        relayout = (
            self._shown is None or _shape(content) != _shape(self._shown) or _widest(content) > self.content_size.width
        )
        self._shown = content
        self.update(content, layout=relayout)


def _shape(content: Content) -> int:
    return content.plain.count("\n")


def _widest(content: Content) -> int:
    return max((line.cell_length for line in content.split("\n")), default=0)
