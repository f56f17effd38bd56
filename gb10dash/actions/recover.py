"""Recovery: undo a plan that started and never ended (the dashboard running it was killed).

Two places say a plan never ended: this workstation's audit log (a `started` record with no end)
and the host's plan marker (pending.py; any workstation can find it). The marker holds the undo
steps; the recovery is a plan of those steps, run and audited like any other, which closes the
interrupted plan's record (`interrupted` → `recovered`) and removes the marker. An unfinished
record whose marker is gone left nothing to undo on the host (it died before changing anything,
or after its end was settled): the recovery closes it (`closed`) and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gb10dash.actions.audit import AuditLog
from gb10dash.actions.pending import PendingPlan, PlanMarker
from gb10dash.actions.plan import Plan
from gb10dash.config import HostConfig
from gb10dash.transport.base import Transport


@dataclass(frozen=True, slots=True)
class Interrupted:
    """What one host has left behind: the marker's plan (to undo) and this workstation's unended records."""

    host: str
    pending: PendingPlan | None = None
    unfinished: tuple[dict[str, Any], ...] = field(default=())
    marker_error: str | None = None  # the marker could not be read or parsed

    @property
    def any(self) -> bool:
        return self.pending is not None or bool(self.unfinished) or self.marker_error is not None

    def problem(self) -> str | None:
        """One line for `status` and the dashboard's banner, None when nothing was left behind."""
        if self.marker_error is not None:
            return f"plan marker unreadable: {self.marker_error}"
        if self.pending is not None:
            return f"the {self.pending.describe()}: run `gb10dash recover {self.host}`"
        if self.unfinished:
            last = self.unfinished[-1]
            return (
                f"the {last['action']} started {last['time']} here never ended (nothing is left to undo "
                f"on the host): `gb10dash recover {self.host}` closes its record"
            )
        return None


async def find_interrupted(
    host: HostConfig, transport: Transport, audit: AuditLog | None = None, marker: PlanMarker | None = None
) -> Interrupted:
    audit = audit or AuditLog()
    unfinished = tuple(audit.unfinished(host.name))
    try:
        pending = await (marker or PlanMarker(transport, host.unit)).read()
    except ValueError as exc:
        return Interrupted(host.name, None, unfinished, str(exc))
    return Interrupted(host.name, pending, unfinished)


class InterruptedPlans:
    """The monitor's plan watch (monitor.PlanWatch): the problem line of a host's interrupted plan, or None.
    Each call: one read of the host's marker, and of the audit log only when it changed (the marker's path,
    which needs the login's home, is asked once per host, not every poll)."""

    def __init__(self, audit: AuditLog | None = None):
        self.audit = audit or AuditLog()
        self._markers: dict[str, PlanMarker] = {}

    async def __call__(self, host: HostConfig, transport: Transport) -> str | None:
        marker = self._markers.get(host.name)
        if marker is None or marker.transport is not transport or marker.unit != host.unit:
            marker = self._markers[host.name] = PlanMarker(transport, host.unit)
        return (await find_interrupted(host, transport, self.audit, marker)).problem()


def plan_recovery(pending: PendingPlan, host: str) -> Plan:
    """The interrupted plan's undo steps as a plan of their own (host: this workstation's name for it)."""
    if not pending.undo:
        raise ValueError(f"the marker of {pending.plan_id} holds no undo steps")
    warning = f"the {pending.describe()}; if that dashboard is in fact still running it, do not recover: wait for it"
    return Plan(
        action="recover",
        host=host,
        steps=pending.undo,
        recovers=pending.plan_id,
        summary=f"undo the interrupted {pending.what}",
        notes=(warning,),
    )


def close_unfinished(found: Interrupted, audit: AuditLog) -> list[str]:
    """Close this workstation's unended records that have nothing left to undo on the host (their marker
    is gone); the marker's own plan is marked `interrupted`, to be closed by its recovery. Lines to print."""
    said = []
    for record in found.unfinished:
        plan_id = record["plan_id"]
        if "interrupted" not in audit.history(plan_id):
            audit.note("interrupted", plan_id, found.host, "started and never ended: found by a recovery")
        if found.pending is not None and plan_id == found.pending.plan_id:
            continue
        audit.note("closed", plan_id, found.host, "nothing left to undo on the host (no plan marker)")
        said.append(
            f"{record['action']} started {record['time']} never ended; nothing was left to undo on the "
            f"host (no plan marker): its record is closed"
        )
    if found.pending is not None and "interrupted" not in audit.history(found.pending.plan_id):
        audit.note(
            "interrupted",
            found.pending.plan_id,
            found.host,
            f"found by its plan marker (started from {found.pending.workstation})",
        )
    return said
