"""Everything a swap plan needs, read from the host: the unit, its real ExecStart, the drop-in
it would replace (kept for rollback), memory for the fit check, and the models on the share."""

from __future__ import annotations

from collections.abc import Sequence

from gb10dash.actions.fit import fit_check
from gb10dash.actions.models import ModelCandidate, list_models
from gb10dash.actions.plan import Plan
from gb10dash.actions.swap import current_exec_start, dropin_path, plan_swap, read_dropin
from gb10dash.collectors.memory import collect_meminfo
from gb10dash.collectors.systemd import collect_unit
from gb10dash.config import HostConfig
from gb10dash.transport.base import Transport


def find_candidate(candidates: Sequence[ModelCandidate], wanted: str) -> ModelCandidate:
    """The candidate named by a path, a share-relative name or a file name; ValueError if none/many."""
    exact = [c for c in candidates if wanted in (c.path, c.display_name, c.file_name)]
    if len(exact) == 1:
        return exact[0]
    if not exact:
        known = ", ".join(c.display_name for c in candidates if c.enabled) or "none"
        raise ValueError(f"no model {wanted!r} on the share (models: {known})")
    raise ValueError(f"{wanted!r} names several models: " + ", ".join(c.display_name for c in exact))


async def prepare_swap(transport: Transport, host: HostConfig, candidate: ModelCandidate, *,
                       ctx: int | None = None, timeout_s: float = 300.0, allow_disabled: bool = False) -> Plan:
    unit = await collect_unit(transport, host.unit)
    exec_start = await current_exec_start(transport, unit)
    previous = await read_dropin(transport, dropin_path(unit))
    fit = fit_check(candidate, ctx or host.ctx, await collect_meminfo(transport))
    return plan_swap(host, unit, candidate, ctx=ctx, previous_dropin=previous, timeout_s=timeout_s,
                     fit=fit, exec_start=exec_start, allow_disabled=allow_disabled)


async def share_models(transport: Transport, host: HostConfig) -> list[ModelCandidate]:
    return await list_models(transport, host.model_share)
