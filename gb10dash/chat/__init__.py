"""The chat test pane's engine: SSE parsing (sse), the chat protocol (protocol), streaming one
turn and the per-host history (session), text of the figures (render). No Textual here."""

from __future__ import annotations

from gb10dash.chat.session import (
    ChatHistories,
    ChatHistory,
    ChatSettings,
    ClientFactory,
    Turn,
    fixed_url,
    stream_turn,
)

__all__ = ["ChatHistories", "ChatHistory", "ChatSettings", "ClientFactory", "Turn", "fixed_url", "stream_turn"]
