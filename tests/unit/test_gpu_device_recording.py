"""The product's own nvidia-smi argv, as answered by a real H100 (tests/fixtures/nvidia-smi/h100-device)."""

from __future__ import annotations

from pathlib import Path

from gb10dash.collectors.gpu import cuda_arch_for, parse_compute_apps, parse_gpu_csv

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "nvidia-smi" / "h100-device"


def test_query_gpu_with_our_fields_parses() -> None:
    (sample,) = parse_gpu_csv((RECORDED / "query-gpu.csv").read_text())
    assert sample.name == "NVIDIA H100 80GB HBM3" and sample.compute_cap == "9.0"
    assert (sample.memory_total_mib, sample.memory_used_mib, sample.memory_free_mib) == (81559, 0, 81079)
    assert sample.power_w == 123.03 and sample.power_limit_w == 700.0
    assert (sample.sm_clock_mhz, sample.sm_clock_max_mhz) == (1980, 1980)
    assert sample.clocks_event_reasons == 1 and sample.pci_bus_id == "00000000:00:06.0"


def test_lms_stream_lines_parse_and_move() -> None:
    samples = parse_gpu_csv((RECORDED / "query-gpu-lms.csv").read_text())
    assert len(samples) == 6
    assert [s.power_w for s in samples][:3] == [118.99, 97.86, 72.5]
    assert {s.sm_clock_mhz for s in samples} == {405.0, 345.0}


def test_no_compute_apps_is_empty_output() -> None:
    assert (RECORDED / "compute-apps.csv").read_text() == ""
    assert parse_compute_apps("") == ()


def test_arch_from_the_real_compute_cap() -> None:
    assert cuda_arch_for((RECORDED / "compute-cap.txt").read_text().strip()) == "90"
