"""Pure text of a chat turn's figures: the client's measurements beside the server's `timings`."""

from __future__ import annotations

from gb10dash.chat.session import Turn
from gb10dash.format import DASH, number

_PICTURES = {c: chr(0x2400 + c) for c in range(32) if chr(c) not in "\n\t"} | {0x7F: "\u2421"}


def printable(text: str) -> str:
    """Model output for the screen: C0 controls and DEL as their Unicode pictures (␀, ␛, …) —
    a tiny random model emits them, and a raw ESC or NUL would garble the terminal."""
    return text.translate(_PICTURES)


def _seconds(value: float | None) -> str:
    if value is None:
        return DASH
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _rate(value: float | None) -> str:
    return DASH if value is None else f"{number(round(value, 1))} tok/s"


def client_figures(turn: Turn) -> str:
    return f"client  TTFT {_seconds(turn.ttft_s)} · {_rate(turn.client_tps)} · {turn.deltas:,} deltas"


def server_figures(turn: Turn) -> str:
    t = turn.timings
    if t is None:
        if turn.stopped:
            return "server  no timings (stopped before the last chunk)"
        return "server  " + ("waiting for the last chunk" if turn.streaming else f"no timings {DASH}")
    return (
        f"server  prompt {number(t.prompt_n)} tok @ {_rate(t.prompt_per_second)}"
        f" · gen {number(t.predicted_n)} tok @ {_rate(t.predicted_per_second)}"
    )


def state_text(turn: Turn) -> str:
    """How the turn went (or goes), then the reasoning switches it was sent with."""
    return " · ".join((_state(turn), *turn.options))


def _state(turn: Turn) -> str:
    if turn.error:
        return "failed"
    if turn.stopped:
        return "stopped by you (request closed)"
    if not turn.done:
        return (
            "connecting…" if turn.model is None else ("streaming…" if turn.deltas else "waiting for the first token…")
        )
    reason = {"stop": "finished", "length": "max tokens reached"}.get(turn.finish_reason or "", turn.finish_reason)
    return reason or "finished"
