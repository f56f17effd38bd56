"""Slots: busy / idle per slot with its context fill (prompt + decoded tokens vs the slot's n_ctx)."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from gb10dash.collectors.llama import SlotInfo
from gb10dash.format import number, percent
from gb10dash.ui.widgets.labels import MUTED, OK, bar, joined, level_style, lines

#: more slots than this are summarised on one line
MAX_SLOT_LINES = 4


def slot_fill(slot: SlotInfo) -> tuple[int | None, float | None]:
    """(tokens in the slot's context, fraction of n_ctx) for a busy slot; (None, None) when unknown."""
    if not slot.is_processing or slot.n_prompt_tokens is None:
        return None, None
    used = slot.n_prompt_tokens + (slot.n_decoded or 0)
    return used, (used / slot.n_ctx if slot.n_ctx else None)


def slot_line(slot: SlotInfo, width: int) -> Content:
    head = Content.assemble((f"slot {slot.id} ", MUTED))
    if not slot.is_processing:
        return Content.assemble(head, ("◌ idle", MUTED))
    used, fraction = slot_fill(slot)
    tail = f" {number(used)}/{number(slot.n_ctx)} {percent(fraction)}"
    bar_width = width - len(head.plain) - len("● busy ctx ") - len(tail)
    return Content.assemble(
        head,
        ("● ", OK),
        ("busy", f"bold {OK}"),
        (" ctx ", MUTED),
        bar(fraction, bar_width, level_style(fraction)) if bar_width >= 4 else "",
        (tail, ""),
    )


def slots_summary(slots: Sequence[SlotInfo]) -> Content:
    busy = [s for s in slots if s.is_processing]
    fills = [f for s in busy if (f := slot_fill(s)[1]) is not None]
    parts: list[Content | tuple[str, str]] = [
        Content.assemble(("slots ", MUTED), (f"{len(busy)}/{len(slots)} busy", f"bold {OK}" if busy else ""))
    ]
    if fills:
        parts.append(Content.assemble(("ctx fill max ", MUTED), (percent(max(fills)), level_style(max(fills)))))
    return joined(parts)


def slots_content(slots: Sequence[SlotInfo] | None, width: int, compact: bool) -> Content:
    if slots is None:
        return Content.styled("slots –", MUTED)
    if not slots:
        return Content.styled("slots: none reported", MUTED)
    if compact or len(slots) > MAX_SLOT_LINES:
        return slots_summary(slots)
    return lines(*(slot_line(slot, width) for slot in slots))


class SlotsView(Widget):
    compact: reactive[bool] = reactive(False, layout=True)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._slots: tuple[SlotInfo, ...] | None = None
        self._shown: Content | None = None  # what render() last drew

    def show(self, slots: Sequence[SlotInfo] | None) -> None:
        shape = None if slots is None else len(slots)
        relayout = shape != (None if self._slots is None else len(self._slots))
        self._slots = tuple(slots) if slots is not None else None
        if not relayout and slots_content(self._slots, max(self.size.width, 30), self.compact) == self._shown:
            return  # idle slots polled again: the same lines
        self.refresh(layout=relayout)  # a new layout only when the number of slots changes

    def render(self) -> Content:
        self._shown = slots_content(self._slots, max(self.size.width, 30), self.compact)
        return self._shown
