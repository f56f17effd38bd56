"""`gb10dash status` and `gb10dash watch`: snapshots of every host as text or JSON."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from gb10dash.actions.recover import InterruptedPlans
from gb10dash.cli.status_json import status_document
from gb10dash.config import Config
from gb10dash.core.fleet import Fleet
from gb10dash.core.rates import Rate
from gb10dash.core.state import HostState
from gb10dash.format import bytes_kib, duration, number
from gb10dash.ledger.recorder import recorder_for

EXIT_OK, EXIT_DEGRADED = 0, 1


async def collect(config: Config, names: Sequence[str]) -> list[HostState]:
    tick = await Fleet(config, config.select(names), plan_watch=InterruptedPlans()).snapshot()
    return list(tick.states.values())


async def run_status(config: Config, names: Sequence[str], *, as_json: bool) -> int:
    states = await collect(config, names)
    if as_json:
        sys.stdout.write(json.dumps(status_document(states, config.path), indent=2) + "\n")
    else:
        sys.stdout.write(render_text(states))
    return EXIT_OK if all(s.healthy for s in states) else EXIT_DEGRADED


def run_watch(
    config: Config,
    names: Sequence[str],
    *,
    interval: float,
    while_watching: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> int:
    """Redraw the text view every interval until Ctrl-C, from monitors that keep one SSH
    connection per host with long-lived streams (the Textual dashboard replaces this view)."""
    try:
        asyncio.run(_watch(config, names, interval, while_watching))
    except KeyboardInterrupt:
        pass
    return EXIT_OK


async def _watch(
    config: Config,
    names: Sequence[str],
    interval: float,
    while_watching: Callable[[], Coroutine[Any, Any, None]] | None,
) -> None:
    fleet = Fleet(config, config.select(names), plan_watch=InterruptedPlans(), ledger=recorder_for(config.ledger))
    extra = asyncio.create_task(while_watching()) if while_watching is not None else None
    try:
        async with fleet.running():
            while True:
                await asyncio.sleep(interval)
                tick = fleet.tick(time.time(), every_host=True)
                sys.stdout.write("\x1b[H\x1b[2J" if sys.stdout.isatty() else "\n")
                sys.stdout.write(render_text(list(tick.states.values())))
                sys.stdout.write(f"(refreshing every {interval:g} s; Ctrl-C to quit)\n")
                sys.stdout.flush()
    finally:
        if extra is not None:
            extra.cancel()
            await asyncio.gather(extra, return_exceptions=True)


def render_text(states: Sequence[HostState]) -> str:
    degraded = sum(not s.healthy for s in states)
    head = "all healthy" if not degraded else f"{degraded} of {len(states)} degraded"
    lines = [f"gb10dash · {time.strftime('%Y-%m-%d %H:%M:%S')} · {head}"]
    for s in states:
        lines.append("")
        lines.extend(render_host(s))
    return "\n".join(lines) + "\n"


def render_host(s: HostState) -> list[str]:
    mark = "●" if s.healthy else "✗"
    out = [f"{mark} {s.name}"]
    if not s.connected:
        out.append(f"    {s.problems()[0]}")
        if s.health is not None:
            out.append(f"    health {s.health.state.value} (direct HTTP)")
        return out
    unit = s.unit
    up = duration(s.at - unit.started_at) if unit is not None and unit.started_at and unit.is_running else "–"
    if unit is not None and unit.watch_only:
        out.append(
            f"    server  {'llama-server process' if unit.is_running else 'no llama-server process'}  "
            f"pid {unit.main_pid or '–'}  up {up}  (watch-only: no unit)"
        )
    elif unit is not None:
        out.append(
            f"    unit    {unit.active_state}/{unit.sub_state}  pid {unit.main_pid or '–'}  "
            f"up {up}  restarts {number(unit.n_restarts)}  result {unit.result or '–'}"
        )
    health = s.health.state.value if s.health else "–"
    ctx_in_use = s.props.n_ctx if s.props else None
    out.append(f"    model   {s.model_id or '–'}  health {health}  ctx {number(ctx_in_use)}/{number(s.config.ctx)}")
    if s.load_progress is not None:
        out.append(f"    load    {s.load_progress.describe()}")
    gen, prompt = s.throughput.gen, s.throughput.prompt
    out.append(
        f"    tok/s   gen {_rate(gen)}  prompt {_rate(prompt)}  "
        f"(baseline {number(s.config.baseline_gen_tps)} / {number(s.config.baseline_prompt_tps)})"
    )
    g = s.gpu
    if g is not None:
        out.append(
            f"    gpu     {g.name or '–'}  cc {g.compute_cap or '–'}  util {number(g.utilization_pct)}%  "
            f"{number(g.temperature_c)}°C  {number(g.power_w)} W  SM {number(g.sm_clock_mhz)} MHz"
        )
    m, p = s.meminfo, s.process_memory
    if m is not None:
        server = f"  server RSS {bytes_kib(p.vm_rss_kib)}" if p else ""
        held = s.server_gpu_memory_mib
        gpu_held = f"  GPU-held {number(held)} MiB" if held is not None else ""
        out.append(
            f"    memory  {bytes_kib(m.used_kib)} / {bytes_kib(m.total_kib)} used (/proc/meminfo){server}{gpu_held}"
        )
    if s.mount is not None:
        mount = s.mount
        detail = f"{mount.entry.fstype} from {mount.entry.source}" if mount.entry else ""
        stat = f"stat {mount.stat_seconds * 1000:.0f} ms" if mount.stat_seconds is not None else ""
        out.append(f"    share   {mount.path} {mount.state.value} {detail} {stat}".rstrip())
    for problem in s.problems():
        out.append(f"    ! {problem}")
    for warning in s.warnings():
        out.append(f"    ~ {warning}")
    return out


def _rate(rate: Rate | None) -> str:
    if rate is None:
        return "–"
    return f"{number(rate.tokens_per_second)} ({rate.source.value})"
