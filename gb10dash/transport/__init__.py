"""Transports: how commands reach a host (ssh or local)."""

from __future__ import annotations

from gb10dash.config import HostConfig, SshSettings
from gb10dash.transport.base import CommandResult, CommandTimeout, Transport, TransportError

__all__ = ["CommandResult", "CommandTimeout", "Transport", "TransportError", "make_transport"]


def make_transport(host: HostConfig, ssh: SshSettings) -> Transport:
    if host.transport == "local":
        from gb10dash.transport.local import LocalTransport

        return LocalTransport(host.name)
    from gb10dash.transport.ssh import SshTransport

    assert host.ssh_alias is not None  # the config guarantees it for transport "ssh"
    return SshTransport(host.name, host.ssh_alias, ssh, accept_new_host_key=host.accept_new_host_key)
