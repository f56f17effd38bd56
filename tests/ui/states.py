"""Fixed HostStates for UI tests, built by the real parsers from the recorded files in tests/fixtures.

No wall clock anywhere: every timestamp is relative to NOW. Where a recording is of a tiny lab
model, its JSON is re-served with the production model's id and metadata (same format, other
values) so the pictures look like the real deployment in DESIGN.md.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from gb10dash.collectors.gpu import parse_compute_apps, parse_gpu_csv, parse_gpu_csv_line
from gb10dash.collectors.llama import (
    SlotInfo,
    health_down,
    parse_health,
    parse_metrics,
    parse_models,
    parse_props,
    parse_slots,
)
from gb10dash.collectors.memory import parse_meminfo, parse_proc_status
from gb10dash.collectors.mounts import MountState, MountStatus, find_mount, parse_mountinfo
from gb10dash.collectors.systemd import parse_systemctl_show
from gb10dash.config import HostConfig, load_config
from gb10dash.core.history import RateHistory, RatePoint
from gb10dash.core.rates import Rate, RateSource
from gb10dash.core.slot_activity import SlotActivity, SlotActivityTracker
from gb10dash.core.state import SOURCES, HostState, SourceStatus, Throughput

REPO = Path(__file__).resolve().parents[2]
FIX = REPO / "tests" / "fixtures"
#: the fixed "now" of every picture (2026-08-30 00:33:20 UTC); the GB10 unit started 2h03m before
NOW = 1788050000.0


def read(path: str) -> str:
    return (FIX / path).read_text(encoding="utf-8")


def hosts() -> dict[str, HostConfig]:
    """pegasus and stella from the repo's example hosts.toml."""
    return {host.name: host for host in load_config(REPO / "hosts.toml").hosts}


def renamed(host: HostConfig, name: str) -> HostConfig:
    return dataclasses.replace(host, name=name, ssh_alias=f"{name}-llm")


def _models_body(model_path: str, size: int, ftype: str, n_params: int, n_ctx: int) -> str:
    data = json.loads(read("llama-server/v1_models.body"))
    entry = data["data"][0]
    entry["id"] = model_path
    entry["aliases"] = [model_path]
    entry["meta"].update(size=size, ftype=ftype, n_params=n_params, n_ctx=n_ctx, n_ctx_train=n_ctx)
    return json.dumps(data)


def _props_body(model_path: str, n_ctx: int, slots: int) -> str:
    data = json.loads(read("llama-server/props.body"))
    data["default_generation_settings"]["n_ctx"] = n_ctx
    data.update(total_slots=slots, model_path=model_path, model_alias=model_path)
    return json.dumps(data)


def _activity(slots: tuple[SlotInfo, ...]) -> tuple[SlotActivity, ...]:
    """What the monitor makes of one /slots reading (no rate from one)."""
    return SlotActivityTracker().update(slots, NOW)


def _slots_body(recorded: str, n_ctx: int, decoding: dict[int, int] | None = None) -> str:
    """A recorded /slots body with the slots' n_ctx set; `decoding` {slot id: n_decoded} marks slots busy."""
    data: list[dict[str, Any]] = json.loads(read(recorded))
    for slot in data:
        slot["n_ctx"] = n_ctx
        if decoding and slot["id"] in decoding:
            slot["is_processing"] = True
            slot["next_token"][0]["n_decoded"] = decoding[slot["id"]]
    return json.dumps(data)


def _sources(at: float, **failing: str) -> dict[str, SourceStatus]:
    sources = {name: SourceStatus().ok(at) for name in SOURCES}
    for name, error in failing.items():
        sources[name] = sources[name].failed(at, error)
    return sources


def _mounted(stat_seconds: float) -> MountStatus:
    entry = find_mount(parse_mountinfo(read("mounts/mountinfo-gb10.txt")), "/mnt/models")
    return MountStatus("/mnt/models", MountState.MOUNTED, entry, stat_seconds)


def pegasus() -> HostState:
    """Healthy GB10: gpt-oss-120b, nvidia-smi memory [N/A], memory from /proc/meminfo, one busy slot."""
    host = hosts()["pegasus"]
    unit = parse_systemctl_show(read("systemd/show-active.txt"))  # MainPID 48213
    apps = read("nvidia-smi/gb10-compute-apps-nounits.csv").replace("1784176", str(unit.main_pid))
    return HostState(
        config=host,
        at=NOW,
        connected=True,
        unit=unit,
        health=parse_health(200, read("llama-server/health_ready.body")),
        model=parse_models(_models_body(host.model_path, 63_387_346_944, "MXFP4 MoE", 116_829_156_672, 131072))[0],
        props=parse_props(_props_body(host.model_path, 131072, 2)),
        slots=parse_slots(_slots_body("llama-server/slots_processing_big.body", 131072)),
        slot_activity=_activity(parse_slots(_slots_body("llama-server/slots_processing_big.body", 131072))),
        metrics=parse_metrics(read("llama-server/metrics_processing.body")),
        gpu=parse_gpu_csv_line(read("nvidia-smi/gb10-query-gpu-nounits.csv").strip()),
        gpu_processes=parse_compute_apps(apps),
        meminfo=parse_meminfo(read("proc/meminfo-gb10.txt")),
        process_memory=parse_proc_status(read("proc/status-llama-server-gb10.txt")),
        mount=_mounted(0.012),
        throughput=Throughput(Rate(57.9, RateSource.METRICS, NOW - 1), Rate(1794.2, RateSource.METRICS, NOW - 1)),
        sources=_sources(NOW - 1),
    )


def stella() -> HostState:
    """Healthy host with an H100 profile (own VRAM reported by nvidia-smi), Qwen3-8B Q8_0, 4 slots."""
    host = hosts()["stella"]
    unit_text = read("systemd/show-active.txt").replace("48213", "6262")
    (gpu,) = parse_gpu_csv(read("nvidia-smi/h100-query-gpu-units.csv"), None)
    return HostState(
        config=host,
        at=NOW,
        connected=True,
        unit=parse_systemctl_show(unit_text),
        health=parse_health(200, read("llama-server/health_ready.body")),
        model=parse_models(_models_body(host.model_path, 8_709_519_360, "Q8_0", 8_190_735_360, 32768))[0],
        props=parse_props(_props_body(host.model_path, 8192, 4)),
        slots=parse_slots(_slots_body("llama-server/h100_slots_busy.json", 8192, {3: 2412})),
        slot_activity=_activity(parse_slots(_slots_body("llama-server/h100_slots_busy.json", 8192, {3: 2412}))),
        gpu=gpu,
        gpu_processes=parse_compute_apps(read("nvidia-smi/h100-compute-apps-llama-server.csv")),
        meminfo=parse_meminfo(read("proc/meminfo-lab-x86_64.txt")),
        process_memory=parse_proc_status(read("proc/status-llama-server-gb10.txt").replace("48213", "6262")),
        mount=_mounted(0.004),
        throughput=Throughput(Rate(27.1, RateSource.SLOTS, NOW - 2), Rate(2210.5, RateSource.JOURNAL, NOW - 95)),
        sources=_sources(NOW - 1),
    )


def stopped(name: str = "stella") -> HostState:
    """Service stopped (inactive/dead), /health refused: degraded."""
    host = hosts()["stella"] if name == "stella" else renamed(hosts()["stella"], name)
    lms = read("nvidia-smi/gb10-lms-stream-nounits.csv").splitlines()
    return HostState(
        config=host,
        at=NOW,
        connected=True,
        unit=parse_systemctl_show(read("systemd/show-never-started.txt")),
        health=health_down("connection refused (127.0.0.1:8000)"),
        gpu=parse_gpu_csv_line(lms[0]),
        meminfo=parse_meminfo(read("proc/meminfo-gb10.txt")),
        mount=_mounted(0.009),
        sources=_sources(NOW - 1, health="connection refused", api="connection refused"),
    )


def unreachable(name: str = "pegasus") -> HostState:
    """SSH lost 2m13s ago; the last known values are kept (and shown greyed)."""
    state = pegasus()
    host = state.config if name == "pegasus" else renamed(state.config, name)
    return dataclasses.replace(
        state,
        config=host,
        connected=False,
        unreachable_since=NOW - 133,
        unreachable_reason=f"{host.ssh_alias}: connection lost",
        sources=_sources(NOW - 133, ssh="connection lost"),
    )


def loading(name: str = "pegasus") -> HostState:
    """Unit up for 72 s, /health answers 503 loading: /v1/models and /props not available yet."""
    state = pegasus()
    host = state.config if name == "pegasus" else renamed(state.config, name)
    unit = dataclasses.replace(state.unit, started_at=NOW - 72)
    return dataclasses.replace(
        state,
        config=host,
        unit=unit,
        model=None,
        props=None,
        slots=None,
        metrics=None,
        health=parse_health(503, read("llama-server/health_loading.body")),
        gpu=parse_gpu_csv_line(read("nvidia-smi/gb10-lms-stream-nounits.csv").splitlines()[0]),
        throughput=Throughput(),
    )


def healthy_copy(state: HostState, name: str) -> HostState:
    return dataclasses.replace(state, config=renamed(state.config, name))


def history(gen_level: float, prompt_level: float, *, phase: float = 0.0) -> list[RatePoint]:
    """Ten minutes of points every 5 s: bursts of generation with idle gaps; deterministic."""
    rates = RateHistory()
    for step in range(121):
        at = NOW - 600 + step * 5
        wave = math.sin(step / 7.0 + phase)
        busy = wave > -0.35
        gen = gen_level * (0.92 + 0.08 * math.sin(step / 2.3 + phase)) if busy else 0.0
        prompt = prompt_level * (0.85 + 0.15 * math.cos(step / 3.1 + phase)) if busy else 0.0
        rates.observe(Rate(gen, RateSource.METRICS, at), Rate(prompt, RateSource.METRICS, at), at)
    return rates.points(NOW)


def histories_for(states: list[HostState]) -> dict[str, list[RatePoint]]:
    """A history per host: the healthy ones busy near their baseline, the others empty."""
    out: dict[str, list[RatePoint]] = {}
    for index, state in enumerate(states):
        base_gen = state.config.baseline_gen_tps or 20.0
        base_prompt = state.config.baseline_prompt_tps or 1000.0
        has_rates = state.throughput.gen is not None
        out[state.name] = history(base_gen, base_prompt, phase=index * 1.3) if has_rates else []
    return out
