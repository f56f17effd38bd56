"""The model picker (`m`): the GGUF models on the host's share, the unusable ones disabled with
their reason. Returns the chosen candidate (or None). It is given the list; it fetches nothing."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from gb10dash.actions.models import ModelCandidate


def option_for(candidate: ModelCandidate, serving: str | None) -> Option:
    mark = "● " if candidate.file_name == serving else "  "
    if candidate.enabled:
        text = Content.assemble(
            (mark + candidate.display_name, "bold"), ("  " + candidate.describe(), "$foreground-muted")
        )
    else:
        text = Content.assemble(
            (mark + candidate.display_name, "$foreground-muted strike"),
            (f"  not offered: {candidate.reason}", "$error"),
        )
    return Option(text, id=candidate.path, disabled=not candidate.enabled)


class ModelPicker(ModalScreen[ModelCandidate | None]):
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, host: str, share: str, candidates: Sequence[ModelCandidate], serving: str | None):
        super().__init__()
        self._host, self._share, self._serving = host, share, serving
        self._by_path = {c.path: c for c in candidates}
        self._options = [option_for(c, serving) for c in candidates]

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Static(
                f"Swap the model on {self._host} — GGUF files on {self._share} "
                f"(● serving now; Enter picks, Escape cancels)",
                id="picker-title",
                markup=False,
            )
            yield OptionList(*self._options, id="picker-list")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self._by_path.get(event.option.id or ""))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
