"""nvidia-smi CSV parsing: recorded H100 output, GB10-format fixtures, error outputs, arch mapping."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gb10dash.collectors.gpu import (
    COMPUTE_APPS_FIELDS,
    GPU_QUERY_FIELDS,
    compute_apps_argv,
    cuda_arch_for,
    fields_from_header,
    gpu_query_argv,
    parse_compute_apps,
    parse_gpu_csv,
    parse_gpu_csv_line,
)

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "nvidia-smi"
HELP_FIELDS = FIX / "help-query-gpu-580.159.04-fields.txt"  # the field lines of `--help-query-gpu`
# The field order of the recorded H100 query (its header, with aliases as nvidia-smi prints them).
H100_FIELDS = fields_from_header((FIX / "h100-query-gpu-units.csv").read_text().splitlines()[0])
LMS_FIELDS = ("timestamp", "utilization.gpu", "temperature.gpu", "power.draw", "clocks.sm", "memory.used")


def read(name: str) -> str:
    return (FIX / name).read_text()


def test_argv() -> None:
    fields = ",".join(GPU_QUERY_FIELDS)
    assert gpu_query_argv(None) == ["nvidia-smi", "--query-gpu=" + fields, "--format=csv,noheader,nounits"]
    assert gpu_query_argv(1000)[-2:] == ["-lms", "1000"]
    assert compute_apps_argv() == [
        "nvidia-smi",
        "--query-compute-apps=pid,process_name,used_memory",
        "--format=csv,noheader,nounits",
    ]
    assert COMPUTE_APPS_FIELDS == ("pid", "process_name", "used_memory")


def test_every_query_field_exists_in_nvidia_smi_580_help() -> None:
    known = set(re.findall(r'"([^"]+)"', HELP_FIELDS.read_text()))
    assert set(GPU_QUERY_FIELDS) <= known


def test_gb10_memory_is_none_not_zero() -> None:
    s = parse_gpu_csv_line(read("gb10-query-gpu-nounits.csv"))
    assert (s.index, s.name, s.compute_cap, s.pci_bus_id) == (0, "NVIDIA GB10", "12.1", "0000000F:01:00.0")
    assert s.memory_total_mib is None and s.memory_used_mib is None and s.memory_free_mib is None
    assert not s.memory_supported
    assert s.power_limit_w is None and s.power_w == 47.82
    assert (s.utilization_pct, s.memory_utilization_pct, s.temperature_c) == (96.0, 0.0, 61.0)
    assert (s.sm_clock_mhz, s.sm_clock_max_mhz, s.clocks_event_reasons) == (2405.0, 3003.0, 0)


def test_gb10_with_header_and_units() -> None:
    (s,) = parse_gpu_csv(read("gb10-query-gpu-units.csv"))
    assert s.memory_total_mib is None and s.power_w == 4.12 and s.utilization_pct == 0.0
    assert (s.pstate, s.sm_clock_mhz, s.clocks_event_reasons) == ("P8", 208.0, 1)
    (t,) = parse_gpu_csv(read("gb10-query-gpu-units.csv"), fields=None)  # fields read from the header
    assert t.sm_clock_mhz == 208.0 and t.power_w == 4.12


def test_gb10_lms_stream_skips_blank_lines() -> None:
    samples = parse_gpu_csv(read("gb10-lms-stream-nounits.csv"))
    assert [s.utilization_pct for s in samples] == [0.0, 94.0, 96.0]
    assert [s.temperature_c for s in samples] == [41.0, 55.0, 70.0]
    assert all(s.memory_used_mib is None for s in samples)


def test_odd_not_available_spellings_become_none() -> None:
    s = parse_gpu_csv_line(read("gb10-query-gpu-odd-na.csv"))
    assert s.utilization_pct is None and s.memory_utilization_pct is None  # [Unknown Error], N/A
    assert s.memory_total_mib is None and s.memory_used_mib is None and s.memory_free_mib is None
    assert s.sm_clock_max_mhz is None and s.clocks_event_reasons is None
    assert s.temperature_c == 61.0


def test_h100_nounits_recorded() -> None:
    (s,) = parse_gpu_csv(read("h100-query-gpu-nounits.csv"), H100_FIELDS)
    assert (s.name, s.compute_cap, s.driver_version) == ("NVIDIA H100 80GB HBM3", "9.0", "580.159.04")
    assert (s.memory_total_mib, s.memory_used_mib, s.memory_free_mib) == (81559.0, 1011.0, 80069.0)
    assert (s.power_w, s.power_limit_w, s.utilization_pct) == (701.60, 700.00, 100.0)
    assert (s.sm_clock_mhz, s.sm_clock_max_mhz) == (1410.0, 1980.0)
    assert s.clocks_event_reasons == 4  # SW power cap
    assert s.extra["fan.speed"] is None and s.extra["temperature.memory"] == "44"


def test_h100_units_recorded() -> None:
    (s,) = parse_gpu_csv(read("h100-query-gpu-units.csv"), H100_FIELDS)
    assert (s.power_w, s.memory_total_mib, s.utilization_pct, s.sm_clock_mhz) == (700.55, 81559.0, 100.0, 1395.0)
    assert s.memory_utilization_pct == 28.0


def test_h100_alias_header_read_from_output() -> None:
    (s,) = parse_gpu_csv(read("h100-aliases-header-nounits.csv"), fields=None)
    assert (s.utilization_pct, s.power_w, s.memory_total_mib, s.sm_clock_mhz) == (0.0, 130.22, 81559.0, 1980.0)
    assert (s.name, s.pci_bus_id, s.temperature_c) == ("NVIDIA H100 80GB HBM3", "00000000:00:06.0", 41.0)


def test_h100_lms_stream_recorded() -> None:
    samples = parse_gpu_csv(read("h100-lms-stream-nounits.csv"), LMS_FIELDS)
    assert len(samples) == 6
    assert [s.power_w for s in samples][:2] == [702.63, 696.31]
    assert samples[-1].sm_clock_mhz == 1395.0 and samples[0].memory_used_mib == 1011.0
    assert samples[0].extra["timestamp"] == "2026/11/24 22:01:12.077"
    with_units = parse_gpu_csv(read("h100-lms-stream-units.csv"), ("timestamp", "utilization.gpu"))
    assert [s.utilization_pct for s in with_units] == [0.0] * 4


def test_multi_gpu() -> None:
    a, b = parse_gpu_csv(read("multi-gpu-nounits.csv"))
    assert (a.index, a.memory_total_mib, b.index, b.memory_total_mib) == (0, None, 1, 81559.0)


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("h100-error-unknown-field.txt", 'Field "foo" is not a valid field'),
        ("h100-error-bad-option.txt", "is not recognized"),
    ],
)
def test_nvidia_smi_error_output_raises(name: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_gpu_csv(read(name))
    with pytest.raises(ValueError, match=match):
        parse_compute_apps(read(name))


def test_wrong_column_count_and_bad_numbers_raise() -> None:
    with pytest.raises(ValueError, match="24 columns, expected 18"):
        parse_gpu_csv_line(read("h100-query-gpu-nounits.csv"))
    with pytest.raises(ValueError, match="'temperature.gpu': expected a number"):
        parse_gpu_csv_line("hot", ("temperature.gpu",))


def test_compute_apps() -> None:
    assert parse_compute_apps(read("h100-compute-apps-nounits.csv"))[0].used_memory_mib == 1002.0
    (p,) = parse_compute_apps(read("h100-compute-apps-llama-server.csv"))
    assert (p.pid, p.process_name, p.used_memory_mib) == (6262, "build-cuda90/bin/llama-server", 1110.0)
    (q,) = parse_compute_apps(read("h100-compute-apps-units.csv"), ("pid", "process_name", "used_memory", "gpu_uuid"))
    assert (q.pid, q.used_memory_mib, q.gpu_uuid) == (400, 1002.0, "GPU-9c8cbba9-953c-e8c8-98ae-d32a0fd7fdf3")
    llama, xorg = parse_compute_apps(read("gb10-compute-apps-nounits.csv"))
    assert (llama.pid, llama.used_memory_mib) == (1784176, 67012.0)
    assert llama.process_name == "/home/llm-agent/llama.cpp/build/bin/llama-server"
    assert xorg.used_memory_mib is None  # [N/A], not 0


def test_compute_apps_without_processes() -> None:
    assert parse_compute_apps(read("h100-compute-apps-none.csv")) == ()
    assert parse_compute_apps(read("h100-compute-apps-none-header.csv")) == ()
    assert parse_compute_apps(read("no-running-processes.txt")) == ()


def test_compute_apps_odd_names_and_orders() -> None:
    (p,) = parse_compute_apps(read("gb10-compute-apps-comma-name.csv"))
    assert (p.pid, p.process_name, p.used_memory_mib) == (114687, "/opt/odd,dir/python", 19135.0)
    (q,) = parse_compute_apps(
        read("gb10-compute-apps-uuid-first.csv"), ("gpu_uuid", "pid", "process_name", "used_memory")
    )
    assert (q.pid, q.gpu_uuid) == (114687, "GPU-3f0c2a71-8d4e-5b19-a6c2-7e91d04b5a13")
    with pytest.raises(ValueError, match="integer pid"):
        parse_compute_apps(read("gb10-compute-apps-uuid-first.csv"))


@pytest.mark.parametrize(
    ("cap", "mxfp4", "arch"),
    [
        ("12.1", False, "121"),
        ("12.1", True, "121a-real"),
        ("9.0", False, "90"),
        ("9.0", True, "90"),
        ("8.9", False, "89"),
        (" 10.0 ", True, "100a-real"),
    ],
)
def test_cuda_arch_for(cap: str, mxfp4: bool, arch: str) -> None:
    assert cuda_arch_for(cap, mxfp4=mxfp4) == arch


@pytest.mark.parametrize("bad", ["", "12", "[N/A]", "12.1.0", "x.y", "121"])
def test_cuda_arch_for_invalid(bad: str) -> None:
    with pytest.raises(ValueError, match="compute capability"):
        cuda_arch_for(bad)
