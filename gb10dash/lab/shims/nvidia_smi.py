"""nvidia-smi shim (driver 580 formats): --query-gpu / --query-compute-apps with --format=csv[,noheader][,nounits],
-l N / -lms N loops, -L, --version, -i 0, and the default table. Profile from $GB10LAB_ROOT/etc/gpu-profile.

Fault injection: $GB10LAB_ROOT/state/nvidia-smi-fail holding `error` (driver not reachable, exit 9), `hang`,
`unknown-field` (the last queried field is refused, exit 2) or `na` (every value [N/A]).
Clock event reasons, a pinned power draw and the load: the files of gpu_controls.py (read every sample).
"""

from __future__ import annotations

import signal
import sys
import time

from .common import lab_root, run_main
from .gpu import NA, UNIT_OF, Gpu, query_gpu_fields
from .smi_table import render_list, render_table, render_version

APP_FIELDS = {
    "timestamp": "timestamp",
    "gpu_name": "gpu_name",
    "gpu_bus_id": "gpu_bus_id",
    "gpu_serial": "gpu_serial",
    "gpu_uuid": "gpu_uuid",
    "pid": "pid",
    "process_name": "process_name",
    "name": "process_name",
    "used_gpu_memory": "used_gpu_memory",
    "used_memory": "used_gpu_memory",
}
APP_FROM_GPU = {
    "timestamp": "timestamp",
    "gpu_name": "name",
    "gpu_bus_id": "pci.bus_id",
    "gpu_serial": "serial",
    "gpu_uuid": "uuid",
}
DRIVER_ERROR = (
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
    "Make sure that the latest NVIDIA driver is installed and running.\n"
)


class Fail(Exception):
    def __init__(self, text: str, code: int) -> None:
        super().__init__(text)
        self.text, self.code = text, code


def unit_of(field: str) -> str:
    if field in UNIT_OF:
        return UNIT_OF[field]
    if field.startswith("clocks.") and not field.startswith("clocks_"):
        return "[MHz]"
    return ""


def parse(argv: list[str]) -> dict:
    opts: dict = {"gpu": None, "apps": None, "format": "csv", "interval": None, "list": False, "version": False}
    i = 0
    while i < len(argv):
        arg = argv[i]
        key, eq, val = arg.partition("=")

        def value(arg: str = arg, eq: str = eq, val: str = val) -> str:
            nonlocal i
            if eq:
                return val
            i += 1
            if i >= len(argv):
                raise Fail(f"ERROR: Option {arg} requires a value. Please run 'nvidia-smi -h'.\n\n", 255)
            return argv[i]

        if key in ("--query-gpu", "--query-compute-apps"):
            opts["gpu" if key == "--query-gpu" else "apps"] = value()
        elif key == "--format":
            opts["format"] = value()
        elif key in ("-lms", "--loop-ms"):
            opts["interval"] = int(value()) / 1000
        elif key in ("-l", "--loop"):
            if not eq and i + 1 < len(argv) and argv[i + 1].isdigit():
                i += 1
                opts["interval"] = float(argv[i])
            else:
                opts["interval"] = float(val) if eq else 5.0
        elif key in ("-i", "--id"):
            if value() not in ("0", "00000000:00:06.0", "0000000F:01:00.0"):
                raise Fail("No devices were found\n", 6)
        elif arg in ("-L", "--list-gpus"):
            opts["list"] = True
        elif arg == "--version":
            opts["version"] = True
        else:
            raise Fail(f"ERROR: Option {arg} is not recognized. Please run 'nvidia-smi -h'.\n\n", 255)
        i += 1
    return opts


def _format(spec: str) -> tuple[bool, bool]:
    mods = [m.strip() for m in spec.split(",")]
    if mods[0] != "csv" or any(m not in ("noheader", "nounits") for m in mods[1:]):
        raise Fail("Format modifier is not recognized.\n", 2)
    return "noheader" in mods, "nounits" in mods


def _fields(spec: str, known: dict[str, str]) -> list[str]:
    names = [name.strip() for name in spec.split(",")]
    for name in names:
        if name and name not in known:
            raise Fail(f'Field "{name}" is not a valid field to query.\n\n', 2)
    return [known[name] for name in names if name]


def _cell(field: str, value: str, units: bool) -> str:
    unit = unit_of(field)
    if not units or not unit or value == NA:
        return value
    return f"{value} {unit[1:-1]}"


def csv_rows(gpu: Gpu, fields: list[str], apps_mode: bool, units: bool) -> list[str]:
    values = gpu.sample()
    if not apps_mode:
        return [", ".join(_cell(f, values.get(f, NA), units) for f in fields)]
    rows = []
    for app in gpu.apps():
        cells = [app[f] if f in app else values.get(APP_FROM_GPU[f], NA) for f in fields]
        rows.append(", ".join(_cell(f, c, units) for f, c in zip(fields, cells)))
    return rows


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    root = lab_root()
    try:
        fault = (root / "state" / "nvidia-smi-fail").read_text().strip()
    except OSError:
        fault = ""
    out = sys.stdout
    try:
        if fault == "error":
            raise Fail(DRIVER_ERROR, 9)
        if fault == "hang":
            while True:
                time.sleep(3600)
        opts = parse(argv)
        gpu = Gpu(root)
        query = opts["gpu"] if opts["gpu"] is not None else opts["apps"]
        if fault == "unknown-field" and query:  # an older driver that lacks a field we ask for
            raise Fail(f'Field "{query.split(",")[-1]}" is not a valid field to query.\n\n', 2)
        if fault == "na":  # a driver that reports nothing: every value [N/A]
            gpu.sample = dict  # type: ignore[method-assign]
        if opts["version"]:
            print(render_version(gpu.sample(), gpu.profile))
            return 0
        if opts["list"]:
            print(render_list(gpu.sample()))
            return 0
        query = opts["gpu"] if opts["gpu"] is not None else opts["apps"]
        if query is None:
            while True:
                print(render_table(gpu.profile, gpu.sample(), gpu.apps()), flush=True)
                if opts["interval"] is None:
                    return 0
                time.sleep(opts["interval"])
        noheader, nounits = _format(opts["format"])
        apps_mode = opts["gpu"] is None
        fields = _fields(query, query_gpu_fields() if not apps_mode else APP_FIELDS)
    except Fail as exc:
        out.write(exc.text)
        return exc.code
    if not fields:  # `--query-gpu=`: real nvidia-smi prints an empty header and an empty row
        out.write("\n\n")
        return 0
    if not noheader:
        out.write(", ".join(f + (f" {unit_of(f)}" if unit_of(f) else "") for f in fields) + "\n")
    next_at = time.monotonic()
    while True:
        for row in csv_rows(gpu, fields, apps_mode, not nounits):
            out.write(row + "\n")
        out.flush()
        if opts["interval"] is None:
            return 0
        next_at += opts["interval"]
        delay = next_at - time.monotonic()
        if delay < -opts["interval"]:
            next_at, delay = time.monotonic(), 0
        time.sleep(max(0.0, delay))


if __name__ == "__main__":
    run_main(main)
