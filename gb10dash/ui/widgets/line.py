"""Line: a Static that redraws only when its content changes, and asks for a new layout only
when its height at the width it has may change (the dashboard refreshes every second; a layout
pass of the whole screen costs tens of milliseconds, a redraw of one line next to nothing)."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from gb10dash.ui.widgets.rows_visual import same_content


class Line(Static):
    _shown: Content | None = None

    def set_content(self, content: Content) -> None:
        if same_content(content, self._shown):  # text and styles: Content's == compares the text alone
            return
        relayout = self._shown is None or self.height_changes(self._shown, content)
        self._shown = content
        self.update(content, layout=relayout)

    def height_changes(self, before: Content, after: Content) -> bool:
        """Would `after` take another number of rows than `before` at this line's width (wrapped as
        its styles say)? A line that wraps onto two rows keeps its layout while its text changes."""
        width = self.content_size.width
        if width <= 0:  # not laid out yet
            return True
        rules = self.styles  # as Textual's Widget passes them (its RenderStyles reads as a RulesMap)
        return before.get_height(rules, width) != after.get_height(rules, width)  # type: ignore[arg-type]
