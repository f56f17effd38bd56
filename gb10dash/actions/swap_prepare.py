"""Everything a swap plan needs, read from the host: the unit, its real ExecStart, the drop-in
it would replace (kept for rollback), memory for the fit check, and the models on the share —
or, when the host's llama-server is a router (`--models-dir`, no `-m`), the router's listing."""

from __future__ import annotations

from collections.abc import Sequence

from gb10dash.actions.fit import fit_check
from gb10dash.actions.models import ModelCandidate, list_models
from gb10dash.actions.plan import Plan
from gb10dash.actions.router_swap import (
    ClientFactory,
    detect_router,
    plan_router_swap,
    router_candidates,
)
from gb10dash.actions.swap import (
    current_exec_start,
    dropin_path,
    plan_swap,
    read_dropin,
)
from gb10dash.actions.watch_only import require_unit
from gb10dash.collectors.memory import collect_meminfo
from gb10dash.collectors.systemd import UnitStatus, collect_unit
from gb10dash.config import HostConfig
from gb10dash.transport.base import Transport


def find_candidate(candidates: Sequence[ModelCandidate], wanted: str) -> ModelCandidate:
    """The candidate named by a path, a share-relative name, a file name or the id llama-server reports
    (any part of a split model names all of it; see ModelCandidate.names); ValueError if none/many."""
    wanted = wanted.strip()
    exact = [c for c in candidates if wanted in c.names]
    if len(exact) == 1:
        return exact[0]
    if not exact:
        known = ", ".join(c.display_name for c in candidates if c.enabled) or "none"
        raise ValueError(f"no model {wanted!r} on the share (models: {known})")
    raise ValueError(f"{wanted!r} names several models: " + ", ".join(c.display_name for c in exact))


async def _unit_argv(transport: Transport, host: HostConfig) -> tuple[UnitStatus | None, tuple[str, ...]]:
    """The unit and its ExecStart as `systemctl show` has it; (None, ()) when that cannot be read."""
    try:
        unit = await collect_unit(transport, host.unit)
    except ValueError:
        return None, ()
    return unit, unit.exec_start


async def prepare_swap(
    transport: Transport,
    host: HostConfig,
    candidate: ModelCandidate,
    *,
    ctx: int | None = None,
    timeout_s: float = 300.0,
    allow_disabled: bool = False,
    client: ClientFactory | None = None,
) -> Plan:
    """The swap plan: through the router's API when the host runs one (see router_swap), else
    through a drop-in of the unit. client: the host's API client (HostMonitor.api_client); made
    from host.api_url when not given."""
    require_unit(host, "the model swap")
    unit, argv = await _unit_argv(transport, host)
    site = await detect_router(transport, host, argv, client)
    if site is not None:
        if ctx is not None:
            raise ValueError("router mode: a model's context size comes from the router's presets, not the swap")
        return plan_router_swap(host, site, candidate, timeout_s=timeout_s, allow_disabled=allow_disabled)
    if unit is None:
        unit = await collect_unit(transport, host.unit)  # the unit's own error, now worth raising
    exec_start = await current_exec_start(transport, unit)
    previous = await read_dropin(transport, dropin_path(unit))
    fit = fit_check(candidate, ctx or host.ctx, await collect_meminfo(transport))
    return plan_swap(
        host,
        unit,
        candidate,
        ctx=ctx,
        previous_dropin=previous,
        timeout_s=timeout_s,
        fit=fit,
        exec_start=exec_start,
        allow_disabled=allow_disabled,
    )


async def share_models(
    transport: Transport, host: HostConfig, *, client: ClientFactory | None = None
) -> list[ModelCandidate]:
    """The models a swap can pick: the router's own listing in router mode (with sizes and headers
    from its models dir), else the GGUFs on the host's model share."""
    _unit, argv = await _unit_argv(transport, host)
    site = await detect_router(transport, host, argv, client)
    if site is not None:
        return list(await router_candidates(transport, host, site))
    return await list_models(transport, host.model_share)
