"""Lab controls of the pretend GPU: files under $GB10LAB_ROOT/state, read on every sample, so a running
`nvidia-smi -lms` stream follows them (no restart, as a real GPU's clocks change under a running query).

- `gpu-clock-reasons`: the clocks_event_reasons.active bitmask to report (`0x48` or `72`); the SM clock
  drops with a slowdown among them (HW: to under half, SW: to about three quarters).
- `gpu-power-pin`: watts; power.draw stays there whatever the load (the GB10 power-negotiation fault: ~30 W).
- `gpu-load`: 0..1, the GPU's load instead of the one derived from llama-server's CPU use (utilization.gpu
  follows it), so a test can hold "under load" steady on a busy machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

FILES = {"reasons": "gpu-clock-reasons", "power_w": "gpu-power-pin", "load": "gpu-load"}


@dataclass(frozen=True, slots=True)
class GpuControls:
    reasons: int | None = None
    power_w: float | None = None
    load: float | None = None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def read_controls(root: Path) -> GpuControls:
    """The controls set on a lab host; a file that is missing or unreadable sets nothing."""
    state = root / "state"
    values: dict[str, float | int] = {}
    for name, filename in FILES.items():
        text = _read(state / filename)
        if text is None:
            continue
        try:
            values[name] = int(text, 0) if name == "reasons" else float(text)
        except ValueError:
            continue
    load = values.get("load")
    if load is not None:
        values["load"] = max(0.0, min(1.0, float(load)))
    return GpuControls(**values)  # type: ignore[arg-type]


def write_controls(root: Path, controls: GpuControls) -> None:
    """Set the given controls (None: cleared); each file is replaced atomically."""
    state = root / "state"
    state.mkdir(parents=True, exist_ok=True)
    for name, filename in FILES.items():
        value = getattr(controls, name)
        path = state / filename
        if value is None:
            path.unlink(missing_ok=True)
            continue
        tmp = path.with_name(f".{filename}.{os.getpid()}.tmp")
        tmp.write_text((f"{value:#x}" if name == "reasons" else f"{value:g}") + "\n")
        os.replace(tmp, path)
