"""HostStates + active alerts → Prometheus metric families (pure; names in docs/exporter.md).

A figure the host did not give is left out (no series), never exported as 0 — as in
`status --json`, where it is null.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.metrics_core import Metric

from gb10dash.alerts.engine import Alert
from gb10dash.collectors.clock_reasons import REASONS
from gb10dash.collectors.kernel_events import KernelEventKind
from gb10dash.collectors.llama import HealthState, model_file_name
from gb10dash.collectors.mounts import MountState
from gb10dash.core.state import HostState

P = "gb10dash_"
UNIT_STATES = ("active", "reloading", "inactive", "failed", "activating", "deactivating")
HEALTH_STATES = tuple(s.value for s in HealthState)
MOUNT_STATES = tuple(s.value for s in MountState)
KIB = 1024
MIB = 1024 * 1024


def families(states: Sequence[HostState], alerts: Sequence[Alert], now: float) -> Iterator[Metric]:
    def gauge(name: str, doc: str, labels: Sequence[str] = ()) -> GaugeMetricFamily:
        return GaugeMetricFamily(P + name, doc, labels=["host", *labels])

    up = gauge("host_up", "1 when the host's SSH connection (or local transport) works")
    unit_active = gauge("unit_active", "1 when the llama-server unit is active/running", ["unit"])
    unit_state = gauge("unit_state", "1 for the unit's current ActiveState, 0 for the others", ["unit", "state"])
    restarts = gauge(
        "unit_restarts", "automatic restarts systemd counted since the unit was last started (NRestarts)", ["unit"]
    )
    health_ok = gauge("health_ok", "1 when llama-server's /health answers ok")
    health_state = gauge("health_state", "1 for the current /health state, 0 for the others", ["state"])
    model = InfoMetricFamily(
        P + "model", "the model llama-server serves (model_id: the GGUF file name)", labels=["host"]
    )
    gen = gauge("gen_tokens_per_second", "generation tok/s, last figure measured under load", ["source"])
    prompt = gauge("prompt_tokens_per_second", "prompt processing tok/s, last figure measured", ["source"])
    rate_age = gauge("throughput_age_seconds", "seconds since the tok/s figure was measured", ["kind"])
    baseline = gauge("baseline_tokens_per_second", "the host's baseline from the config", ["kind"])
    mem_total = gauge("memory_total_bytes", "MemTotal of /proc/meminfo")
    mem_avail = gauge("memory_available_bytes", "MemAvailable of /proc/meminfo")
    pressure = gauge(
        "memory_pressure_ratio",
        "PSI of /proc/pressure/memory: share of wall time tasks stalled on memory, 0 to 1",
        ["kind", "window"],
    )
    stalled = CounterMetricFamily(
        P + "memory_pressure_stall_seconds",
        "PSI total: seconds tasks stalled on memory since boot",
        labels=["host", "kind"],
    )
    rss = gauge("server_rss_bytes", "VmRSS of the unit's main process")
    gpu_mem = gauge("server_gpu_memory_bytes", "GPU memory the unit's main process holds (--query-compute-apps)")
    gpu_util = gauge("gpu_utilization_ratio", "GPU utilization, 0 to 1")
    gpu_temp = gauge("gpu_temperature_celsius", "GPU temperature")
    gpu_power = gauge("gpu_power_watts", "GPU power draw")
    sm_ratio = gauge("gpu_sm_clock_ratio", "SM clock divided by its max (clocks.max.sm), 0 to 1")
    reason_active = gauge(
        "gpu_throttle_active",
        "1 for each reason set in clocks_event_reasons.active, 0 for the others (nvml.h bits)",
        ["reason"],
    )
    throttled = gauge(
        "gpu_throttled", "1 when a clock event reason is a slowdown (not idle, applications or display clocks)"
    )
    mount_ok = gauge("mount_ok", "1 when the model share is mounted and answers stat", ["path"])
    mount_state = gauge("mount_state", "1 for the model share's current state, 0 for the others", ["path", "state"])
    mount_stat = gauge(
        "mount_stat_seconds", "how long stat of the model share took (for hung: waited so far)", ["path"]
    )
    spec_acceptance = gauge(
        "spec_acceptance_ratio", "speculative decoding: draft tokens accepted / drafted, last measured (0 to 1)"
    )
    spec_per_draft = gauge("spec_accepted_per_draft", "speculative decoding: tokens accepted per draft, last measured")
    prompt_tokens = CounterMetricFamily(
        P + "server_prompt_tokens",
        "llama-server's own llamacpp:prompt_tokens_total (since the server started; the token ledger's source)",
        labels=["host", "model"],
    )
    generated_tokens = CounterMetricFamily(
        P + "server_generated_tokens",
        "llama-server's own llamacpp:tokens_predicted_total (since the server started)",
        labels=["host", "model"],
    )
    loads = CounterMetricFamily(
        P + "model_loads", "model loads seen to end healthy (/health ok) since the exporter started", labels=["host"]
    )
    failed_loads = CounterMetricFamily(
        P + "model_load_failures",
        "model loads whose process went away (crashed, stopped, restarted) before /health said ok",
        labels=["host"],
    )
    last_load = gauge("model_last_load_seconds", "the last healthy model load: from the process's start to /health ok")
    uptime = gauge("unit_uptime_seconds", "seconds since the unit's main process started (the last restart)", ["unit"])
    kernel_events = gauge(
        "kernel_events",
        "GPU Xid errors, NVIDIA driver out-of-memory and OOM kills in the kernel log this boot (the newest 20 kept)",
        ["kind"],
    )
    kernel_last = gauge(
        "kernel_last_event_timestamp_seconds", "when the newest kernel event of each kind was logged", ["kind"]
    )
    wedged = gauge("wedged", "1 when /health says ok but the wedge canary got no good answer ([canary] on)")
    canary_seconds = gauge("canary_seconds", "how long the wedge canary's last request took")
    canary_age = gauge("canary_age_seconds", "seconds since the wedge canary's last request")
    source_age = gauge("source_age_seconds", "seconds since a collector source last succeeded", ["source"])
    alert = gauge("alert_active", "1 for each active alert", ["rule", "severity"])
    n_alerts = gauge("alerts_active", "number of active alerts")

    by_host: dict[str, list[Alert]] = {}
    for a in alerts:
        by_host.setdefault(a.host, []).append(a)
    for s in states:
        h = s.name
        up.add_metric([h], 1.0 if s.connected else 0.0)
        unit_name = s.config.unit
        if s.unit is not None:
            unit_active.add_metric([h, unit_name], 1.0 if s.unit.is_running else 0.0)
            for value in _with(UNIT_STATES, s.unit.active_state):
                unit_state.add_metric([h, unit_name, value], 1.0 if value == s.unit.active_state else 0.0)
            if s.unit.n_restarts is not None:
                restarts.add_metric([h, unit_name], float(s.unit.n_restarts))
            if s.unit.is_running and s.unit.started_at is not None:
                uptime.add_metric([h, unit_name], max(0.0, now - s.unit.started_at))
        if s.health is not None:
            health_ok.add_metric([h], 1.0 if s.health.state is HealthState.OK else 0.0)
            for value in HEALTH_STATES:
                health_state.add_metric([h, value], 1.0 if value == s.health.state.value else 0.0)
        if s.model_id is not None:
            model.add_metric([h], {"model_id": s.model_id, "configured_model_id": model_file_name(s.config.model_path)})
        for kind, rate, family in (("gen", s.throughput.gen, gen), ("prompt", s.throughput.prompt, prompt)):
            if rate is not None and rate.tokens_per_second is not None:
                family.add_metric([h, rate.source.value], rate.tokens_per_second)
                rate_age.add_metric([h, kind], max(0.0, now - rate.at))
        for kind, tps in (("gen", s.config.baseline_gen_tps), ("prompt", s.config.baseline_prompt_tps)):
            if tps is not None:
                baseline.add_metric([h, kind], tps)
        m = s.meminfo
        _maybe(mem_total, h, m.total_kib if m else None, KIB)
        _maybe(mem_avail, h, m.available_kib if m else None, KIB)
        if s.memory_pressure is not None:
            for kind, line in (("some", s.memory_pressure.some), ("full", s.memory_pressure.full)):
                if line is not None:
                    for window, avg_pct in (("10s", line.avg10), ("60s", line.avg60), ("300s", line.avg300)):
                        pressure.add_metric([h, kind, window], avg_pct / 100)
                    stalled.add_metric([h, kind], line.total_us / 1e6)
        _maybe(rss, h, s.process_memory.vm_rss_kib if s.process_memory else None, KIB)
        _maybe(gpu_mem, h, s.server_gpu_memory_mib, MIB)
        g = s.gpu
        if g is not None:
            _maybe(gpu_util, h, g.utilization_pct, 0.01)
            _maybe(gpu_temp, h, g.temperature_c)
            _maybe(gpu_power, h, g.power_w)
            _maybe(sm_ratio, h, g.sm_clock_ratio)
            if g.clocks_event_reasons is not None:
                for r in REASONS:
                    reason_active.add_metric([h, r.key], 1.0 if g.clocks_event_reasons & r.bit else 0.0)
                throttled.add_metric([h], 1.0 if g.throttle_reasons else 0.0)
        if s.mount is not None:
            path = s.mount.path
            mount_ok.add_metric([h, path], 1.0 if s.mount.ok else 0.0)
            for value in MOUNT_STATES:
                mount_state.add_metric([h, path, value], 1.0 if value == s.mount.state.value else 0.0)
            if s.mount.stat_seconds is not None:
                mount_stat.add_metric([h, path], s.mount.stat_seconds)
        if s.spec_decode is not None:
            spec_acceptance.add_metric([h], s.spec_decode.acceptance)
            spec_per_draft.add_metric([h], s.spec_decode.accepted_per_draft)
        if s.load_counts is not None:
            loads.add_metric([h], float(s.load_counts.loads))
            failed_loads.add_metric([h], float(s.load_counts.failed))
            _maybe(last_load, h, s.load_counts.last_seconds)
        if s.metrics is not None:
            labels = [h, s.model_id or ""]
            _maybe(prompt_tokens, h, s.metrics.prompt_tokens_total, labels=labels)
            _maybe(generated_tokens, h, s.metrics.tokens_predicted_total, labels=labels)
        if s.sources.get("kernel") is not None or s.kernel_events:
            for kind in KernelEventKind:
                seen = [e for e in s.kernel_events if e.kind is kind]
                kernel_events.add_metric([h, kind.value], float(len(seen)))
                if seen and seen[-1].at is not None:
                    kernel_last.add_metric([h, kind.value], seen[-1].at)
        if s.canary is not None:
            wedged.add_metric([h], 1.0 if s.wedged else 0.0)
            canary_seconds.add_metric([h], s.canary.seconds)
            canary_age.add_metric([h], max(0.0, now - s.canary.at))
        for name, status in sorted(s.sources.items()):
            age = status.age(now)
            if age is not None:
                source_age.add_metric([h, name], age)
        mine = by_host.get(h, [])
        for a in mine:
            alert.add_metric([h, a.rule, a.severity], 1.0)
        n_alerts.add_metric([h], float(len(mine)))
    yield from (
        up,
        unit_active,
        unit_state,
        restarts,
        uptime,
        loads,
        failed_loads,
        last_load,
        health_ok,
        health_state,
        model,
        gen,
        prompt,
        rate_age,
        baseline,
        mem_total,
        mem_avail,
        pressure,
        stalled,
        rss,
        gpu_mem,
        gpu_util,
        gpu_temp,
        gpu_power,
        sm_ratio,
        reason_active,
        throttled,
        mount_ok,
        mount_state,
        mount_stat,
        spec_acceptance,
        spec_per_draft,
        prompt_tokens,
        generated_tokens,
        kernel_events,
        kernel_last,
        wedged,
        canary_seconds,
        canary_age,
        source_age,
        alert,
        n_alerts,
    )


def _with(known: tuple[str, ...], value: str) -> tuple[str, ...]:
    return known if value in known else (*known, value)


def _maybe(
    family: GaugeMetricFamily | CounterMetricFamily,
    host: str,
    value: float | None,
    scale: float = 1.0,
    labels: Sequence[str] | None = None,
) -> None:
    if value is not None:
        family.add_metric(list(labels) if labels is not None else [host], value * scale)
