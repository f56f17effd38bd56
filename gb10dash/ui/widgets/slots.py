"""Slots: per slot idle, or busy with its phase — prefill (how far through the prompt, cached tokens,
tok/s, ETA) or generating (context fill, tokens of the request's limit, tok/s, ETA)."""

from __future__ import annotations

from collections.abc import Sequence

from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget

from gb10dash.collectors.llama import SlotInfo
from gb10dash.core.slot_activity import SlotActivity
from gb10dash.format import number, percent
from gb10dash.ui.widgets.labels import MUTED, OK, bar, joined, level_style
from gb10dash.ui.widgets.rows_visual import MadeRows, RowStrips, RowsVisual, same_rows

#: more slots than this are summarised on one line
MAX_SLOT_LINES = 4


def slot_fill(slot: SlotInfo) -> tuple[int | None, float | None]:
    """(tokens in the slot's context, fraction of n_ctx) for a busy slot; (None, None) when unknown."""
    if not slot.is_processing or slot.n_prompt_tokens is None:
        return None, None
    used = slot.n_prompt_tokens + (slot.n_decoded or 0)
    return used, (used / slot.n_ctx if slot.n_ctx else None)


#: the widest a slot's bar grows (the figures after it come first)
MAX_BAR = 24


def slot_line(slot: SlotInfo, activity: SlotActivity | None, width: int) -> Content:
    head = Content.assemble((f"slot {slot.id} ", MUTED))
    if not slot.is_processing:
        return Content.assemble(head, ("◌ idle", MUTED))
    if activity is not None and activity.phase == "prefill":
        fraction, style = activity.fraction, OK
        label, figures = " prefill", activity.figures()
    else:  # generating (or busy with no figures yet): the context's fill
        used, fraction = slot_fill(slot)
        style = level_style(fraction)
        label = " generating ctx" if activity is not None else " busy ctx"
        figures = [f"{number(used)}/{number(slot.n_ctx)} {percent(fraction)}"]
        figures += activity.figures() if activity is not None else []
    room = width - len(head.plain) - 1 - len(label)
    tail = _fitting(figures, room)
    bar_width = min(room - len(tail) - 1, MAX_BAR)
    return Content.assemble(
        head,
        ("●", OK),
        (label, f"bold {OK}"),
        Content.assemble(" ", bar(fraction, bar_width, style)) if bar_width >= 4 and fraction is not None else "",
        (tail, ""),
    )


def _fitting(figures: list[str], room: int) -> str:
    """' a · b · c': as many of the figures, first ones first, as fit in room (whole figures only); the
    first one even when it does not (the widget crops it: a figure says more than a bar)."""
    shown: list[str] = figures[:1]
    figures = figures[1:]
    for figure in figures:
        if len(" " + " · ".join([*shown, figure])) > room:
            break
        shown.append(figure)
    return " " + " · ".join(shown) if shown else ""


def slots_summary(slots: Sequence[SlotInfo], activity: Sequence[SlotActivity] = ()) -> Content:
    busy = [s for s in slots if s.is_processing]
    fills = [f for s in busy if (f := slot_fill(s)[1]) is not None]
    parts: list[Content | tuple[str, str]] = [
        Content.assemble(("slots ", MUTED), (f"{len(busy)}/{len(slots)} busy", f"bold {OK}" if busy else ""))
    ]
    if fills:
        parts.append(Content.assemble(("ctx fill max ", MUTED), (percent(max(fills)), level_style(max(fills)))))
    prefill = [a for a in activity if a.phase == "prefill"]
    if prefill:
        known = [f for a in prefill if (f := a.fraction) is not None]
        parts.append(
            Content.assemble(
                (f"{len(prefill)} in prefill", f"bold {OK}"), (f" (least {percent(min(known))})" if known else "", "")
            )
        )
    return joined(parts)


def slots_rows(
    slots: Sequence[SlotInfo] | None, activity: Sequence[SlotActivity], width: int, compact: bool
) -> list[Content]:
    if slots is None:
        return [Content.styled("slots –", MUTED)]
    if not slots:
        return [Content.styled("slots: none reported", MUTED)]
    if compact or len(slots) > MAX_SLOT_LINES:
        return [slots_summary(slots, activity)]
    by_slot = {a.slot: a for a in activity}
    return [slot_line(slot, by_slot.get(slot.id), width) for slot in slots]


class SlotsView(Widget):
    compact: reactive[bool] = reactive(False, layout=True)

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._slots: tuple[SlotInfo, ...] | None = None
        self._activity: tuple[SlotActivity, ...] = ()
        self._shown: list[Content] | None = None  # the rows render() last drew
        self._kept = RowStrips()
        self._made = MadeRows()

    def show(self, slots: Sequence[SlotInfo] | None, activity: Sequence[SlotActivity] = ()) -> None:
        shape = None if slots is None else len(slots)
        relayout = shape != (None if self._slots is None else len(self._slots))
        self._slots = tuple(slots) if slots is not None else None
        self._activity = tuple(activity)
        if not relayout and same_rows(self._rows(), self._shown):
            return  # idle slots polled again: the same lines
        self.refresh(layout=relayout)  # a new layout only when the number of slots changes

    def _rows(self) -> list[Content]:
        """The rows for the slots shown at this width: made once for show() to compare and render() to draw."""
        slots, activity, width, compact = self._slots, self._activity, max(self.size.width, 30), self.compact
        self._made.make((slots, activity, width, compact), lambda: slots_rows(slots, activity, width, compact))
        return self._made.rows

    def render(self) -> RowsVisual:
        self._shown = self._rows()
        return RowsVisual(self._shown, self._kept)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._kept.clear()
