"""Load progress of a standalone llama-server while /health says 503 loading (pure).

Measured: bytes the process has read (`rchar` of /proc/PID/io) ÷ the size of the model's GGUF
files (every split part), with a rate over the last seconds and an ETA. `rchar` counts read()
calls: it follows a `--load-mode none` / `dio` / `--no-mmap` load; an mmap load shows as page
faults, which it does not count. Where it cannot be used (the file is not readable, or the
load maps the model) the progress is estimated from the past load times of the same model on
the same host, kept in a small JSON file (`LoadHistory`) under the XDG state dir.
"""

from __future__ import annotations

import collections
import json
import math
import posixpath
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gb10dash.collectors.gguf_names import SPLIT_RE
from gb10dash.collectors.router import flag_value
from gb10dash.format import bytes_count, duration
from gb10dash.locations import state_dir, write_private_file

HISTORY_FILE = "load-times.json"
HISTORY_KEEP = 20  # loads kept per host and model
ESTIMATE_FROM = 5  # the last loads an estimate rests on (their median)
RATE_WINDOW_S = 5.0  # the rate is taken over the samples of the last seconds
MODEL_FLAGS = ("-m", "--model")
_READ_LOAD_MODES = ("none", "dio")  # load modes that read() the model (rchar sees them)


# -- what to measure -----------------------------------------------------------------------
def parse_rchar(text: str) -> int:
    """`/proc/PID/io` → its rchar (bytes passed to read() and friends); ValueError when absent."""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "rchar":
            try:
                return int(value.strip())
            except ValueError:
                break
    raise ValueError("no rchar line (expected /proc/PID/io text)")


def served_model_path(exec_start: Sequence[str] | None, configured: str) -> str:
    """The unit's `-m` path (what the process loads), else the config's model_path."""
    return flag_value(tuple(exec_start or ()), MODEL_FLAGS) or configured


def model_parts(path: str) -> tuple[str, ...]:
    """Every file of the model: a split model's `-0000N-of-0000M.gguf` parts, else the file itself."""
    match = SPLIT_RE.match(posixpath.basename(path))
    if not match or int(match["count"]) < 2:
        return (path,)
    directory, stem, count = posixpath.dirname(path), match["stem"], int(match["count"])
    return tuple(posixpath.join(directory, f"{stem}-{no:05d}-of-{count:05d}.gguf") for no in range(1, count + 1))


def sizes_argv(parts: Sequence[str]) -> list[str]:
    """`stat` of every part (symlinks followed), one size per line; run once per process."""
    return ["stat", "-L", "--printf=%s\\n", "--", *parts]


def parse_sizes(text: str, expected: int) -> int:
    """The sizes `sizes_argv` printed, summed; ValueError unless there is one per part."""
    sizes = [line.strip() for line in text.splitlines() if line.strip()]
    if len(sizes) != expected or not all(s.isdigit() for s in sizes):
        raise ValueError(f"expected {expected} file size(s) from stat, got {text.strip()[:200]!r}")
    return sum(int(s) for s in sizes)


def reads_count_load(exec_start: Sequence[str] | None) -> bool:
    """Whether rchar follows this server's load: `--load-mode none|dio` or `--no-mmap` (read() into
    buffers). The default and `mmap`/`mlock` map the file: page faults, not counted in rchar."""
    args = tuple(exec_start or ())
    if "--no-mmap" in args:
        return True
    return flag_value(args, ("-lm", "--load-mode")) in _READ_LOAD_MODES


# -- progress ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LoadProgress:
    fraction: float | None  # 0..1; None when nothing is known
    read_bytes: int | None = None  # measured: rchar
    total_bytes: int | None = None  # the model's files together
    rate_bps: float | None = None  # bytes per second over the last samples
    eta_s: float | None = None
    estimated: bool = False  # from past load times, not from reads
    past_loads: int = 0  # how many past loads the estimate rests on
    why_estimated: str | None = None  # e.g. "/proc/1234/io: permission denied"

    def describe(self) -> str:
        """`loading 42 % · 1.3 GiB of 3.1 GiB · 180 MiB/s · ETA 10 s`, or the estimate's wording."""
        if self.estimated:
            if self.fraction is None:
                return "loading (no progress known: " + (self.why_estimated or "no past loads") + ")"
            plural = "s" if self.past_loads != 1 else ""
            text = f"loading ~{self.fraction * 100:.0f} % (estimate from {self.past_loads} past load{plural})"
            return text + (f" · ETA ~{_eta(self.eta_s)}" if self.eta_s is not None else "")
        bits = [f"loading {self.fraction * 100:.0f} %" if self.fraction is not None else "loading"]
        if self.read_bytes is not None and self.total_bytes:
            bits.append(f"{bytes_count(min(self.read_bytes, self.total_bytes))} of {bytes_count(self.total_bytes)}")
        if self.rate_bps is not None:
            bits.append(f"{self.rate_bps / 2**20:.0f} MiB/s")
        if self.eta_s is not None:
            bits.append(f"ETA {_eta(self.eta_s)}")
        return " · ".join(bits)

    def as_json(self) -> dict:
        return {
            "fraction": _rounded(self.fraction, 4),
            "read_bytes": self.read_bytes,
            "total_bytes": self.total_bytes,
            "rate_mib_s": _rounded(self.rate_bps / 2**20 if self.rate_bps is not None else None, 1),
            "eta_s": _rounded(self.eta_s, 1),
            "estimated": self.estimated,
            "past_loads": self.past_loads,
            "why_estimated": self.why_estimated,
        }


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _eta(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 60 else duration(seconds)


class ReadTracker:
    """Samples of (time, rchar) of one process against the model's total size."""

    def __init__(self, total_bytes: int, window_s: float = RATE_WINDOW_S):
        self.total_bytes = total_bytes
        self.window_s = window_s
        self.samples: collections.deque[tuple[float, int]] = collections.deque(maxlen=256)

    def add(self, at: float, rchar: int) -> LoadProgress:
        if self.samples and (rchar < self.samples[-1][1] or at <= self.samples[-1][0]):
            self.samples.clear()  # another process (a pid reused) or a clock step: start again
        self.samples.append((at, rchar))
        while len(self.samples) > 2 and at - self.samples[1][0] >= self.window_s:
            self.samples.popleft()
        return self.progress()

    def progress(self) -> LoadProgress:
        return measured(list(self.samples), self.total_bytes)


def measured(samples: Sequence[tuple[float, int]], total_bytes: int) -> LoadProgress:
    """Progress from (time, rchar) samples, oldest first; the rate from the first to the last."""
    if not samples or total_bytes <= 0:
        return LoadProgress(None, total_bytes=total_bytes or None)
    (t0, r0), (t1, r1) = samples[0], samples[-1]
    fraction = min(1.0, r1 / total_bytes)
    rate = (r1 - r0) / (t1 - t0) if len(samples) > 1 and t1 > t0 else None
    eta = max(0.0, total_bytes - r1) / rate if rate and rate > 0 else None
    return LoadProgress(fraction, r1, total_bytes, rate, eta)


def estimated(elapsed_s: float | None, past_seconds: Sequence[float], why: str) -> LoadProgress:
    """Progress from how long past loads took (the median of the last few), never past 99 %."""
    recent = [s for s in past_seconds if s > 0 and math.isfinite(s)][-ESTIMATE_FROM:]
    if not recent or elapsed_s is None:
        return LoadProgress(None, estimated=True, past_loads=len(recent), why_estimated=why)
    typical = statistics.median(recent)
    elapsed = max(0.0, elapsed_s)
    fraction = min(0.99, elapsed / typical)
    eta = typical - elapsed if elapsed < typical else None  # longer than usual: no guess
    return LoadProgress(fraction, eta_s=eta, estimated=True, past_loads=len(recent), why_estimated=why)


# -- history of load times -------------------------------------------------------------------
class LoadHistory:
    """`{"version": 1, "loads": {HOST: {MODEL_PATH: [{"seconds": s, "at": t}, …]}}}`, 0600, replaced
    atomically; an unreadable or foreign file reads as empty (and is replaced on the next record)."""

    def __init__(self, path: Path):
        self.path = path

    def read(self) -> dict[str, dict[str, list[dict]]]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        loads = data.get("loads") if isinstance(data, dict) and data.get("version") == 1 else None
        return loads if isinstance(loads, dict) else {}

    def past(self, host: str, model: str) -> list[float]:
        entries = self.read().get(host, {}).get(model, [])
        return (
            [float(e["seconds"]) for e in entries if isinstance(e, dict) and isinstance(e.get("seconds"), (int, float))]
            if isinstance(entries, list)
            else []
        )

    def record(self, host: str, model: str, seconds: float, at: float) -> None:
        loads = self.read()
        if not isinstance(loads.get(host), dict):
            loads[host] = {}
        per_host = loads[host]
        entries = per_host.get(model)
        if not isinstance(entries, list):
            entries = []
        per_host[model] = [*entries, {"seconds": round(seconds, 3), "at": round(at, 3)}][-HISTORY_KEEP:]
        write_private_file(self.path, json.dumps({"version": 1, "loads": loads}, indent=1) + "\n")


def default_history() -> LoadHistory:
    return LoadHistory(state_dir() / HISTORY_FILE)
