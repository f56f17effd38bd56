"""`gb10dash recover HOST [--yes]`: find what an interrupted plan left on the host and undo it."""

from __future__ import annotations

import sys

from gb10dash.actions.audit import AuditLog
from gb10dash.actions.cli import (
    EXIT_FAILED,
    EXIT_OK,
    confirm,
    report,
    run_interruptible,
)
from gb10dash.actions.recover import close_unfinished, find_interrupted, plan_recovery
from gb10dash.actions.runner import ActionBusy, host_lock
from gb10dash.config import Config
from gb10dash.monitor import HostMonitor
from gb10dash.transport.base import TransportError


async def recover_command(config: Config, host_name: str, *, yes: bool) -> int:
    host = config.host(host_name)
    monitor = HostMonitor(host, config.ssh)
    audit = AuditLog()
    try:
        await monitor.transport.connect()
        with host_lock(host.name):  # no plan of this workstation runs on the host while its records are read
            found = await find_interrupted(host, monitor.transport, audit)
            if found.marker_error is not None:
                print(f"gb10dash: {host.name}: {found.marker_error}; look at it and remove it by hand", file=sys.stderr)
                return EXIT_FAILED
            if not found.any:
                print(f"nothing to recover on {host.name}: no plan marker on the host, no unended plan here")
                return EXIT_OK
            for line in close_unfinished(found, audit):
                print(line)
        if found.pending is None:
            return EXIT_OK
        plan = plan_recovery(found.pending, host.name)
        refused = confirm(plan, yes, question="Undo it?", refuse_hint="add --yes to run the recovery")
        if refused is not None:
            return refused
        result = await run_interruptible(plan, monitor)  # on success it removes the marker, notes `recovered`
        return result if isinstance(result, int) else report(result)
    except (TransportError, ActionBusy, ValueError) as exc:
        print(f"gb10dash: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        await monitor.close()
