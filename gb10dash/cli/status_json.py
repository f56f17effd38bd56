"""HostState → the JSON document of `gb10dash status --json` (schema: docs/status-json.md)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gb10dash.collectors.gpu import cuda_arch_for
from gb10dash.core.rates import Rate
from gb10dash.core.slot_activity import SlotActivity
from gb10dash.core.state import HostState
from gb10dash.format import iso_utc

SCHEMA = "gb10dash.status/3"


def status_document(states: Sequence[HostState], config_path: Path) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "generated_at": iso_utc(time.time()),
        "config": str(config_path),
        "healthy": all(s.healthy for s in states),
        "hosts": [host_document(s) for s in states],
    }


def host_document(s: HostState) -> dict[str, Any]:
    unit, health, model, props = s.unit, s.health, s.model, s.props
    return {
        "name": s.name,
        "healthy": s.healthy,
        "problems": s.problems(),
        "warnings": s.warnings(),
        "reachable": s.connected,
        "unreachable_since": iso_utc(s.unreachable_since),
        "unreachable_reason": s.unreachable_reason,
        "unit": None
        if unit is None
        else {
            "name": s.config.unit,
            "active_state": unit.active_state,
            "sub_state": unit.sub_state,
            "main_pid": unit.main_pid,
            "started_at": iso_utc(unit.started_at),
            "n_restarts": unit.n_restarts,
            "result": unit.result,
            "exec_main_status": unit.exec_main_status,
            "exec_start": list(unit.exec_start),
            "fragment_path": unit.fragment_path,
            "drop_in_paths": list(unit.drop_in_paths),
            "watch_only": unit.watch_only,
        },
        "health": None
        if health is None
        else {"state": health.state.value, "status_code": health.status_code, "message": health.message},
        "load_progress": s.load_progress.as_json() if s.load_progress is not None else None,
        "model": None
        if model is None
        else {
            "id": s.model_id,
            "api_id": model.id,
            "configured": s.config.model_path,
            "architecture": model.architecture,
            "n_params": model.n_params,
            "size_bytes": model.size_bytes,
            "ftype": model.ftype,
            "n_ctx_train": model.n_ctx_train,
        },
        "ctx": {"in_use": props.n_ctx if props else None, "configured": s.config.ctx},
        "server": None
        if props is None
        else {"build_info": props.build_info, "total_slots": props.total_slots, "model_path": props.model_path},
        "slots": None if s.slots is None else [_plain(slot) for slot in s.slots],
        "slot_activity": [_activity(a) for a in s.slot_activity],
        "kernel_events": [
            {
                "kind": e.kind.value,
                "at": iso_utc(e.at),
                "summary": e.describe(),
                "xid": e.xid,
                "pid": e.pid,
                "process": e.process,
                "message": e.message,
            }
            for e in s.kernel_events
        ],
        "throughput": {
            "gen": _rate(s.throughput.gen),
            "prompt": _rate(s.throughput.prompt),
            "baseline_gen_tps": s.config.baseline_gen_tps,
            "baseline_prompt_tps": s.config.baseline_prompt_tps,
            "spec_decode": _spec(s),
        },
        "gpu": _gpu(s),
        "gpu_processes": [_plain(p) for p in s.gpu_processes],
        "memory": _memory(s),
        "mount": None
        if s.mount is None
        else {
            "path": s.mount.path,
            "state": s.mount.state.value,
            "fstype": s.mount.entry.fstype if s.mount.entry else None,
            "source": s.mount.entry.source if s.mount.entry else None,
            "options": s.mount.entry.options if s.mount.entry else None,
            "stat_seconds": s.mount.stat_seconds,
            "error": s.mount.error,
        },
        "sources": {
            name: {
                "last_ok": iso_utc(st.last_ok),
                "last_error": st.last_error,
                "last_error_at": iso_utc(st.last_error_at),
            }
            for name, st in sorted(s.sources.items())
        },
    }


def _gpu(s: HostState) -> dict[str, Any] | None:
    g = s.gpu
    if g is None:
        return None
    derived = None
    if g.compute_cap:
        try:
            derived = cuda_arch_for(g.compute_cap)
        except ValueError:
            derived = None
    doc = _plain(g)
    doc["cuda_arch"] = s.config.cuda_arch or derived
    doc["cuda_arch_source"] = "config" if s.config.cuda_arch else ("compute_cap" if derived else None)
    return doc


def _memory(s: HostState) -> dict[str, Any] | None:
    m, p = s.meminfo, s.process_memory
    if m is None and p is None:
        return None
    return {
        "source": "/proc/meminfo",
        "total_kib": m.total_kib if m else None,
        "available_kib": m.available_kib if m else None,
        "used_kib": m.used_kib if m else None,
        "server_pid": p.pid if p else None,
        "server_rss_kib": p.vm_rss_kib if p else None,
        "server_hwm_kib": p.vm_hwm_kib if p else None,
        "server_gpu_mib": s.server_gpu_memory_mib,
        "pressure": None
        if s.memory_pressure is None
        else {
            "source": "/proc/pressure/memory",
            "some": _plain(s.memory_pressure.some),
            "full": _plain(s.memory_pressure.full) if s.memory_pressure.full is not None else None,
        },
    }


def _activity(a: SlotActivity) -> dict[str, Any]:
    return {
        "slot": a.slot,
        "phase": a.phase,
        "done": a.done,
        "total": a.total,
        "fraction": None if a.fraction is None else round(a.fraction, 4),
        "cached": a.cached,
        "tokens_per_second": None if a.tokens_per_second is None else round(a.tokens_per_second, 1),
        "eta_s": None if a.eta_s is None else round(a.eta_s, 1),
    }


def _rate(rate: Rate | None) -> dict[str, Any] | None:
    if rate is None:
        return None
    return {"tokens_per_second": rate.tokens_per_second, "source": rate.source.value, "at": iso_utc(rate.at)}


def _plain(obj: Any) -> dict[str, Any]:
    doc = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name != "raw":
            doc[f.name] = dict(value) if isinstance(value, Mapping) else value
    return doc


def _spec(s: HostState) -> dict[str, Any] | None:
    """Speculative decoding's last figures (a server with a draft model); None without drafting."""
    spec = s.spec_decode
    if spec is None:
        return None
    return {
        "acceptance": round(spec.acceptance, 4),
        "accepted_per_draft": round(spec.accepted_per_draft, 3),
        "drafted_tokens": spec.drafted,
        "measured_at": iso_utc(spec.at),
        "accepted_total": spec.accepted_total,
        "draft_tokens_total": spec.draft_tokens_total,
    }
