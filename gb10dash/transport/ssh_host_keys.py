"""Host keys for the ssh transport: which known_hosts files apply, trust on first use for a host that
opts in (accept_new_host_key), and what to tell the operator about a refused key.

Apart from the connection so that the only code that writes known_hosts, and the rule that a
changed key is never accepted, can be read in one place.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

import asyncssh


class AcceptNewHostKey(asyncssh.SSHClient):
    """Trusts a host key that known_hosts does not (asyncssh asks only then) if known_hosts has no
    key at all for the host, and keeps it to be recorded; a host with other keys there has a
    CHANGED key: refused."""

    def __init__(self, known_hosts: Sequence[str]):
        self.known_hosts = known_hosts
        self.accepted: tuple[str, asyncssh.SSHKey] | None = None  # (known_hosts host pattern, key)
        self.changed = False

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        for path in self.known_hosts:
            try:
                known = asyncssh.read_known_hosts(path)
            except (OSError, ValueError):
                continue  # missing or unreadable: nothing known from it
            if any(known.match(host, addr, port)):
                self.changed = True
                return False
        self.accepted = (host if port in (22, None) else f"[{host}]:{port}", key)
        return True


def known_hosts_files(alias: str, config: Sequence[str]) -> list[str]:
    """The known_hosts files the ssh config names for alias (UserKnownHostsFile), else ~/.ssh/known_hosts."""
    named = asyncssh.SSHClientConnectionOptions(config=list(config), host=alias).known_hosts
    files = [str(f) for f in named] if isinstance(named, (list, tuple)) and named else ["~/.ssh/known_hosts"]
    return [os.path.expanduser(f) for f in files]


def _openssh_fields(key: asyncssh.SSHKey) -> tuple[str, str]:
    """(algorithm, base64 key) of the key's OpenSSH public form, as known_hosts holds them."""
    algorithm, data = key.export_public_key("openssh").decode().split()[:2]
    return algorithm, data


def key_fingerprint(key: asyncssh.SSHKey) -> str:
    """ "ALGO SHA256:…", as `ssh-keygen -lf` shows it on the host."""
    return f"{_openssh_fields(key)[0]} {key.get_fingerprint('sha256')}"


def append_known_host(path: str, pattern: str, key: asyncssh.SSHKey) -> None:
    """Add a newly trusted key to a known_hosts file (created, with its directory, if missing)."""
    algorithm, data = _openssh_fields(key)
    os.makedirs(os.path.dirname(path) or ".", mode=0o700, exist_ok=True)
    with open(path, "a", encoding="ascii") as known:
        known.write(f"{pattern} {algorithm} {data}\n")


async def offered_key(alias: str, config: Sequence[str], timeout_s: float) -> str:
    """The refused key's type and SHA256 fingerprint, to compare with the host's own ("" if unknown)."""
    try:
        async with asyncio.timeout(timeout_s):
            key = await asyncssh.get_server_host_key(alias, config=config)
    except (TimeoutError, OSError, asyncssh.Error, ValueError):
        return ""
    if key is None:
        return ""
    return f"; the host offered {key.get_algorithm()} {key.get_fingerprint('sha256')}"


def changed_key_message(alias: str, offered: str) -> str:
    """Why a host whose key changed is refused even with accept_new_host_key, and what to do."""
    return (
        f"{alias}: HOST KEY CHANGED: known_hosts holds another key for "
        f"this host{offered}. Someone may be intercepting the connection, or the "
        f"host was reinstalled; accept_new_host_key never accepts a changed key: "
        f"check it and edit known_hosts yourself"
    )
