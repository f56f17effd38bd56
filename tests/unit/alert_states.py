"""HostState builders for the alert tests: a healthy host, and the one change each case needs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from gb10dash.collectors.gpu import GpuSample
from gb10dash.collectors.llama import Health, HealthState
from gb10dash.collectors.memory import MemInfo
from gb10dash.collectors.mounts import MountState, MountStatus
from gb10dash.collectors.pressure import parse_pressure
from gb10dash.collectors.systemd import UnitStatus
from gb10dash.config import HostConfig
from gb10dash.core.rates import Rate, RateSource
from gb10dash.core.state import HostState, Throughput

T0 = 1_800_000_000.0
HOST = HostConfig(
    name="pegasus",
    api_url="http://127.0.0.1:8000",
    model_path="/mnt/models/m/model.gguf",
    ctx=4096,
    ssh_alias="pegasus-llm",
    baseline_gen_tps=50.0,
)
RUNNING = UnitStatus(
    active_state="active",
    sub_state="running",
    main_pid=4242,
    started_at=T0 - 3600,
    n_restarts=0,
    result="success",
    exec_main_status=0,
    exec_start=("llama-server",),
    fragment_path="/etc/systemd/system/llama-server.service",
    drop_in_paths=(),
)
GIB = 1024 * 1024
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def healthy(at: float = T0, **changes: object) -> HostState:
    state = HostState(
        config=HOST,
        at=at,
        connected=True,
        unit=RUNNING,
        health=Health(HealthState.OK, 200, None),
        gpu=GpuSample(temperature_c=55.0, utilization_pct=10.0, power_w=40.0, clocks_event_reasons=0),
        meminfo=MemInfo(
            total_kib=128 * GIB,
            available_kib=60 * GIB,
            free_kib=None,
            cached_kib=None,
            buffers_kib=None,
            swap_total_kib=None,
            swap_free_kib=None,
        ),
        mount=MountStatus(path="/mnt/models", state=MountState.MOUNTED, stat_seconds=0.01),
        memory_pressure=parse_pressure((FIXTURES / "proc" / "pressure-memory-idle.txt").read_text()),
        throughput=Throughput(gen=Rate(55.0, RateSource.METRICS, at - 5)),
    )
    return dataclasses.replace(state, **changes)


def unit(**changes: object) -> UnitStatus:
    return dataclasses.replace(RUNNING, **changes)


def unreachable(at: float, since: float) -> HostState:
    return HostState(
        config=HOST, at=at, connected=False, unreachable_since=since, unreachable_reason="connection refused"
    )
