"""The benchmark history: one JSON line per finished run in `$XDG_DATA_HOME/gb10dash/bench.jsonl`.

`record(result)` is also what `gb10dash bench --json` prints. `read_history(host, model)` gives
the runs of one host and model, oldest first (for the dashboard's throughput chart).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gb10dash import locations
from gb10dash.bench.stats import Summary
from gb10dash.collectors.llama import model_file_name
from gb10dash.format import iso_utc

if TYPE_CHECKING:  # the runner (and httpx with it) only where a bench runs
    from gb10dash.bench.runner import BenchResult

SCHEMA = "gb10dash.bench/1"
FILE_NAME = "bench.jsonl"
MAX_READ_BYTES = 16 * 1024 * 1024  # only the newest part of a huge history is read


def history_path() -> Path:
    return locations.data_dir() / FILE_NAME


def _summary(summary: Summary | None) -> dict[str, Any] | None:
    return summary.as_dict() if summary else None


def record(result: BenchResult) -> dict[str, Any]:
    """The JSON document of one run (a history line, and an element of `bench --json`)."""
    gen, prompt = result.gen, result.prompt
    return {
        "schema": SCHEMA,
        "time": iso_utc(result.started_at),
        "ts": round(result.started_at, 3),
        "duration_s": round(result.finished_at - result.started_at, 3) if result.finished_at else None,
        "host": result.host,
        "model": result.model,
        "model_id": result.model_id,
        "build": result.build,
        "base_url": result.base_url,
        "workload": {**result.workload.as_dict(), "prompt_tokens_counted": result.prompt_tokens},
        "gen_tps": _summary(gen.summary),
        "prompt_tps": _summary(prompt.summary),
        "ttft_s": _summary(result.ttft),
        "baseline": {"gen_tps": result.baseline_gen_tps, "prompt_tps": result.baseline_prompt_tps},
        "ratio": {"gen": gen.ratio, "prompt": prompt.ratio},
        "regression": {"gen": gen.regression, "prompt": prompt.regression, "any": result.regression},
        "partial": result.partial,
        "warnings": list(result.warnings),
        "warmup": result.warmup.as_dict() if result.warmup else None,
        "samples": [s.as_dict() for s in result.samples],
    }


def append(result: BenchResult, path: Path | None = None) -> dict[str, Any]:
    """Append the run to the history (one line, written in one call); partial runs are refused."""
    if result.partial:
        raise ValueError("a partial run is not written to the bench history")
    doc = record(result)
    path = path or history_path()
    locations.append_private_line(path, json.dumps(doc, separators=(",", ":"), allow_nan=False) + "\n")
    return doc


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    ts: float
    host: str
    model: str
    build: str | None
    prompt_tokens: int | None
    gen_tokens: int | None
    gen_tps: float | None  # means
    prompt_tps: float | None
    ttft_s: float | None
    regression: bool
    doc: dict[str, Any]


def _mean(doc: dict[str, Any], key: str) -> float | None:
    value = doc.get(key)
    mean = value.get("mean") if isinstance(value, dict) else None
    return float(mean) if isinstance(mean, (int, float)) else None


def _entry(doc: Any) -> HistoryEntry | None:
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        return None
    if (
        not isinstance(doc.get("ts"), (int, float))
        or not isinstance(doc.get("host"), str)
        or not isinstance(doc.get("model"), str)
        or doc.get("partial")
    ):
        return None
    workload = doc.get("workload")
    if not isinstance(workload, dict):
        workload = {}
    regression = doc.get("regression")
    return HistoryEntry(
        ts=float(doc["ts"]),
        host=doc["host"],
        model=doc["model"],
        build=doc.get("build") if isinstance(doc.get("build"), str) else None,
        prompt_tokens=workload.get("prompt_tokens"),
        gen_tokens=workload.get("gen_tokens"),
        gen_tps=_mean(doc, "gen_tps"),
        prompt_tps=_mean(doc, "prompt_tps"),
        ttft_s=_mean(doc, "ttft_s"),
        regression=bool(regression.get("any")) if isinstance(regression, dict) else False,
        doc=doc,
    )


def read_history(host: str | None = None, model: str | None = None, *, path: Path | None = None) -> list[HistoryEntry]:
    """Finished runs, oldest first, of `host` and `model` (a model id or its file name; None: all).

    Lines that are not JSON or not of this schema (a torn write, another version) are skipped.
    """
    path = path or history_path()
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - MAX_READ_BYTES))
            raw = fh.read(MAX_READ_BYTES)
    except FileNotFoundError:
        return []
    lines = raw.decode("utf-8", errors="replace").splitlines()
    if len(raw) == MAX_READ_BYTES and size > MAX_READ_BYTES:
        lines = lines[1:]  # the first line is cut
    wanted_model = model_file_name(model) if model else None
    entries = []
    for line in lines:
        try:
            entry = _entry(json.loads(line))
        except ValueError:
            continue
        if entry is None or (host and entry.host != host) or (wanted_model and entry.model != wanted_model):
            continue
        entries.append(entry)
    entries.sort(key=lambda e: e.ts)
    return entries
