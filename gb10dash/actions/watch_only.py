"""A watch-only host (`unit = ""`): its llama-server is not a systemd unit, so the actions that act
through one (restart, swap, rebuild and its revert) are refused, saying why; drop caches, the quick
bench and the chat need no unit and stay."""

from __future__ import annotations

from gb10dash.config import HostConfig


def require_unit(host: HostConfig, action: str) -> None:
    """ValueError naming the reason when the host has no systemd unit to act through."""
    if not host.unit:
        raise ValueError(
            f'{host.name} is watch-only (unit = "" in its config): {action} acts through a systemd '
            f"unit, and its llama-server is not one; drop caches, bench and chat still work"
        )
