"""The chat test pane's engine: the chat protocol (protocol), streaming one turn and the per-host
history (session), text of the figures (render); the stream itself is read by transport.sse. No Textual here."""

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
