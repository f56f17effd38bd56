"""nvidia-smi CSV queries: argv, parsers and the CUDA arch for a compute capability (pure)."""

from __future__ import annotations

import math
import re
from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from gb10dash.collectors.clock_reasons import ClockReason, decode, throttling
from gb10dash.collectors.commands import run_checked
from gb10dash.transport.base import Transport

GPU_QUERY_FIELDS = (
    "index",
    "name",
    "uuid",
    "pci.bus_id",
    "compute_cap",
    "driver_version",
    "pstate",
    "temperature.gpu",
    "utilization.gpu",
    "utilization.memory",
    "memory.total",
    "memory.used",
    "memory.free",
    "power.draw",
    "power.limit",
    "clocks.sm",
    "clocks.max.sm",
    "clocks_event_reasons.active",
)
COMPUTE_APPS_FIELDS = ("pid", "process_name", "used_memory")

# Every accepted spelling (query alias or CSV header name) → GpuSample attribute.
_GPU_ATTR = {
    "index": "index",
    "name": "name",
    "gpu_name": "name",
    "uuid": "uuid",
    "gpu_uuid": "uuid",
    "pci.bus_id": "pci_bus_id",
    "gpu_bus_id": "pci_bus_id",
    "compute_cap": "compute_cap",
    "driver_version": "driver_version",
    "pstate": "pstate",
    "temperature.gpu": "temperature_c",
    "utilization.gpu": "utilization_pct",
    "utilization.memory": "memory_utilization_pct",
    "memory.total": "memory_total_mib",
    "memory.used": "memory_used_mib",
    "memory.free": "memory_free_mib",
    "power.draw": "power_w",
    "power.limit": "power_limit_w",
    "gpu.power.requested_limit": "power_limit_w",
    "clocks.sm": "sm_clock_mhz",
    "clocks.current.sm": "sm_clock_mhz",
    "clocks.max.sm": "sm_clock_max_mhz",
    "clocks_event_reasons.active": "clocks_event_reasons",
    "clocks_throttle_reasons.active": "clocks_event_reasons",
}
_STR_ATTRS = {"name", "uuid", "pci_bus_id", "compute_cap", "driver_version", "pstate"}
_APP_ATTR = {
    "pid": "pid",
    "process_name": "process_name",
    "name": "process_name",
    "used_memory": "used_memory_mib",
    "used_gpu_memory": "used_memory_mib",
    "gpu_uuid": "gpu_uuid",
}
_NA = {"", "n/a", "not supported", "unknown error", "not found", "insufficient permissions"}
_UNIT = re.compile(r"\s*(?:%|MiB|W|MHz|C)$")
_ERROR_LINE = re.compile(
    r'^(?:Field ".*" is not a valid field|ERROR:|Format modifier|NVIDIA-SMI has failed|No devices were found)'
)


@dataclass(frozen=True)
class GpuSample:
    index: int | None = None
    name: str | None = None
    uuid: str | None = None
    compute_cap: str | None = None
    driver_version: str | None = None
    pstate: str | None = None
    temperature_c: float | None = None
    utilization_pct: float | None = None
    memory_utilization_pct: float | None = None
    memory_total_mib: float | None = None
    memory_used_mib: float | None = None
    memory_free_mib: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    sm_clock_mhz: float | None = None
    sm_clock_max_mhz: float | None = None
    clocks_event_reasons: int | None = None
    pci_bus_id: str | None = None
    extra: Mapping[str, str | None] = field(default_factory=lambda: MappingProxyType({}), compare=False)

    @property
    def memory_supported(self) -> bool:
        """False on GB10 (unified memory: nvidia-smi reports [N/A])."""
        return self.memory_total_mib is not None

    @property
    def clock_reasons(self) -> tuple[ClockReason, ...]:
        """clocks_event_reasons.active decoded (idle, SW power cap, HW thermal slowdown, ...)."""
        return decode(self.clocks_event_reasons)

    @property
    def throttle_reasons(self) -> tuple[ClockReason, ...]:
        """The slowdowns among them: not idle, not clocks held by a setting."""
        return throttling(self.clocks_event_reasons)

    @property
    def sm_clock_ratio(self) -> float | None:
        """SM clock ÷ its max (clocks.max.sm); None when either is not reported."""
        if self.sm_clock_mhz is None or not self.sm_clock_max_mhz:
            return None
        return self.sm_clock_mhz / self.sm_clock_max_mhz


@dataclass(frozen=True)
class GpuProcess:
    pid: int
    process_name: str
    used_memory_mib: float | None
    gpu_uuid: str | None = None


def gpu_query_argv(loop_ms: int | None) -> list[str]:
    argv = ["nvidia-smi", "--query-gpu=" + ",".join(GPU_QUERY_FIELDS), "--format=csv,noheader,nounits"]
    return argv + (["-lms", str(int(loop_ms))] if loop_ms else [])


def compute_apps_argv() -> list[str]:
    return ["nvidia-smi", "--query-compute-apps=" + ",".join(COMPUTE_APPS_FIELDS), "--format=csv,noheader,nounits"]


def _check_error(line: str) -> None:
    if _ERROR_LINE.match(line.strip()):
        raise ValueError(f"nvidia-smi reported an error: {line.strip()}")


def _cell(value: str) -> str | None:
    """A CSV cell with N/A markers (`[N/A]`, `[Not Supported]`, …) turned into None."""
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        return None
    return None if value.lower() in _NA else value


def _number(fieldname: str, value: str) -> float:
    try:
        number = float(_UNIT.sub("", value))
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise ValueError(f"nvidia-smi field {fieldname!r}: expected a number, got {value!r}")
    return number


def _header_name(cell: str) -> str:
    return re.sub(r"\s*\[[^\]]*\]$", "", cell.strip())


def fields_from_header(line: str) -> tuple[str, ...]:
    """Field names from a CSV header line (`utilization.gpu [%], name` → ('utilization.gpu', 'name'))."""
    return tuple(_header_name(c) for c in line.split(","))


def _is_header(line: str, fields: Sequence[str], attrs: Mapping[str, str]) -> bool:
    names = fields_from_header(line)
    if len(names) != len(fields):
        return False
    return all(n == f or (n in attrs and attrs.get(n) == attrs.get(f)) for n, f in zip(names, fields))


def parse_gpu_csv_line(line: str, fields: Sequence[str] = GPU_QUERY_FIELDS) -> GpuSample:
    """One `--query-gpu` CSV line (with or without units) → GpuSample; N/A → None, never 0."""
    _check_error(line)
    cells = line.rstrip("\r\n").split(",")
    if len(cells) != len(fields):
        raise ValueError(
            f"nvidia-smi CSV line has {len(cells)} columns, expected {len(fields)} "
            f"({', '.join(fields)}): {line.strip()!r}"
        )
    values: dict[str, object] = {}
    extra: dict[str, str | None] = {}
    for fieldname, raw in zip(fields, cells):
        value = _cell(raw)
        attr = _GPU_ATTR.get(fieldname)
        if attr is None:
            extra[fieldname] = value
        elif value is None:
            values[attr] = None
        elif attr in _STR_ATTRS:
            values[attr] = value
        elif attr == "index":
            values[attr] = int(_number(fieldname, value))
        elif attr == "clocks_event_reasons":
            try:
                values[attr] = int(value, 16) if value.lower().startswith("0x") else int(value)
            except ValueError:
                raise ValueError(f"nvidia-smi field {fieldname!r}: expected a bitmask, got {value!r}") from None
        else:
            values[attr] = _number(fieldname, value)
    return GpuSample(**values, extra=MappingProxyType(extra))  # type: ignore[arg-type]


def parse_gpu_csv(text: str, fields: Sequence[str] | None = GPU_QUERY_FIELDS) -> tuple[GpuSample, ...]:
    """Every GPU line of a query (multi-GPU or a `-lms` stream). fields=None: read them from the header."""
    samples: list[GpuSample] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        _check_error(line)
        if fields is None:
            fields = fields_from_header(line)
            continue
        if _is_header(line, fields, _GPU_ATTR):
            continue
        samples.append(parse_gpu_csv_line(line, fields))
    return tuple(samples)


def parse_compute_apps(text: str, fields: Sequence[str] = COMPUTE_APPS_FIELDS) -> tuple[GpuProcess, ...]:
    """`--query-compute-apps` CSV → processes; empty output or "No running processes found" → ()."""
    attrs = [_APP_ATTR.get(f) for f in fields]
    procs: list[GpuProcess] = []
    for line in text.splitlines():
        if not line.strip() or "no running processes found" in line.lower() or _is_header(line, fields, _APP_ATTR):
            continue
        _check_error(line)
        cells = line.split(",")
        if len(cells) > len(fields) and "process_name" in attrs:  # a name with commas
            i, extra = attrs.index("process_name"), len(cells) - len(fields)
            cells = cells[:i] + [",".join(cells[i : i + extra + 1])] + cells[i + extra + 1 :]
        if len(cells) != len(fields):
            raise ValueError(
                f"compute-apps CSV line has {len(cells)} columns, expected {len(fields)}: {line.strip()!r}"
            )
        row = {a: c.strip() for a, c in zip(attrs, cells) if a}
        try:
            pid = int(row.get("pid", ""))
        except ValueError:
            raise ValueError(f"compute-apps CSV line: expected an integer pid, got {row.get('pid')!r}") from None
        mem = _cell(row.get("used_memory_mib", ""))
        procs.append(
            GpuProcess(
                pid=pid,
                process_name=row.get("process_name", ""),
                used_memory_mib=None if mem is None else _number("used_memory", mem),
                gpu_uuid=_cell(row.get("gpu_uuid", "")),
            )
        )
    return tuple(procs)


def cuda_arch_for(compute_cap: str, *, mxfp4: bool = False) -> str:
    """CMAKE_CUDA_ARCHITECTURES for a compute capability: 12.1 → 121 (121a-real for MXFP4 on SM ≥ 10)."""
    m = re.fullmatch(r"\s*(\d{1,2})\.(\d)\s*", compute_cap or "")
    if not m:
        raise ValueError(f"invalid compute capability {compute_cap!r}: expected MAJOR.MINOR such as '12.1'")
    major, minor = int(m.group(1)), int(m.group(2))
    arch = f"{major}{minor}"
    # Blackwell FP4 block-scale MMA is only in the arch-specific ("a") targets.
    return f"{arch}a-real" if mxfp4 and major >= 10 else arch


# -- collectors -------------------------------------------------------------------------------
async def collect_gpu(transport: Transport) -> tuple[GpuSample, ...]:
    return parse_gpu_csv(await run_checked(transport, gpu_query_argv(None)))


async def stream_gpu(transport: Transport, interval_ms: int) -> AsyncGenerator[GpuSample, None]:
    """One sample per GPU per interval from a single long-lived `nvidia-smi -lms` process."""
    async for line in transport.stream(gpu_query_argv(interval_ms)):
        if line.strip():
            yield parse_gpu_csv_line(line)


async def collect_compute_apps(transport: Transport) -> tuple[GpuProcess, ...]:
    return parse_compute_apps(await run_checked(transport, compute_apps_argv()))
