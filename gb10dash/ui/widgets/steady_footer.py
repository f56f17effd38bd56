"""The footer, rebuilt only when the keys it shows change.

Textual's Footer recomposes every key on every bindings update, and focus moving from one host
panel to the next is one (the panels have no keys of their own, so nothing it shows changes). That
rebuild and its restyling were ~40 % of the time from `n` to the next frame (bench/RESULTS.md).
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class SteadyFooter(Footer):
    _shown: tuple[tuple[str, str, bool], ...] | None = None

    def bindings_changed(self, screen: Screen) -> None:
        shown = tuple(
            (binding.key, binding.description, enabled)
            for (_, binding, enabled, _) in screen.active_bindings.values()
            if binding.show
        )
        if shown == self._shown and self._bindings_ready:
            return
        self._shown = shown
        super().bindings_changed(screen)
