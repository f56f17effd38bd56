"""Small Content builders shared by the panel's line widgets (pure: data in, Content out).

Data (model names, error messages) is never parsed as markup: it goes in as plain text.
Colours are theme variables, so every theme applies.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.content import Content

SEP = (" · ", "$foreground-muted")
MUTED = "$foreground-muted"
OK, WARN, BAD, INFO = "$success", "$warning", "$error", "$primary"


def field(name: str, value: str, style: str = "") -> Content:
    """`name value` with the name muted."""
    return Content.assemble((name + " ", MUTED), (value, style))


def joined(parts: Iterable[Content | str | tuple[str, str]], sep: tuple[str, str] = SEP) -> Content:
    out: list[Content | str | tuple[str, str]] = []
    for part in parts:
        if out:
            out.append(sep)
        out.append(part)
    return Content.assemble(*out)


def lines(*rows: Content) -> Content:
    return Content("\n").join(rows)


def bar(fraction: float | None, width: int, style: str = INFO) -> Content:
    """A horizontal bar of `width` cells, filled to `fraction` (None: an empty muted bar)."""
    width = max(1, width)
    filled = 0 if fraction is None else round(max(0.0, min(1.0, fraction)) * width)
    return Content.assemble(("█" * filled, style), ("░" * (width - filled), MUTED))


def level_style(fraction: float | None, warn: float = 0.85, bad: float = 0.95) -> str:
    if fraction is None or fraction < warn:
        return INFO
    return WARN if fraction < bad else BAD
