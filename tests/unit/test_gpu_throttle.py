"""clocks_event_reasons.active decoded, checked against what a real H100 printed for the same moment
(tests/fixtures/nvidia-smi/h100-device: the bitmask next to the per-reason Active/Not Active fields,
`nvidia-smi -q -d PERFORMANCE`, and the field docs of `--help-query-gpu`)."""

from __future__ import annotations

import re
from pathlib import Path

from gb10dash.collectors import clock_reasons
from gb10dash.collectors.clock_reasons import (
    REASONS,
    THROTTLE_MASK,
    decode,
    throttling,
    unknown_bits,
)
from gb10dash.collectors.gpu import GpuSample, parse_gpu_csv, parse_gpu_csv_line

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "nvidia-smi"
DEVICE = FIX / "h100-device"
# the argv of clocks-event-reasons-nounits.csv (the units file names the same fields in its header)
NOUNITS_FIELDS = ("index", "clocks_event_reasons.active", "clocks.sm", "clocks.max.sm", "power.draw")


def keys(reasons) -> list[str]:
    return [r.key for r in reasons]


def test_recorded_bitmask_agrees_with_the_per_reason_fields_printed_beside_it() -> None:
    (s,) = parse_gpu_csv((DEVICE / "clocks-event-reasons-units.csv").read_text(), None)
    assert s.clocks_event_reasons == 0x1 and (s.sm_clock_mhz, s.sm_clock_max_mhz, s.power_w) == (345, 1980, 70.78)
    printed = {
        name.removeprefix("clocks_event_reasons."): value
        for name, value in s.extra.items()
        if name.startswith("clocks_event_reasons.")
    }
    assert len(printed) == 8  # every per-reason field the tool has; each is one of ours
    for key, value in printed.items():
        assert value in ("Active", "Not Active"), (key, value)
        assert (clock_reasons.BY_KEY[key] in s.clock_reasons) == (value == "Active"), key
    assert keys(s.clock_reasons) == ["gpu_idle"] and s.throttle_reasons == ()
    assert abs(s.sm_clock_ratio - 345 / 1980) < 1e-9


def test_recorded_nounits_line() -> None:
    s = parse_gpu_csv_line((DEVICE / "clocks-event-reasons-nounits.csv").read_text(), NOUNITS_FIELDS)
    assert s.clocks_event_reasons == 1 and keys(s.clock_reasons) == ["gpu_idle"] and not s.throttle_reasons
    assert (s.sm_clock_mhz, s.sm_clock_max_mhz, s.power_w) == (345, 1980, 70.79)


def test_every_reason_of_nvidia_smi_q_is_named_here_in_its_words() -> None:
    text = (DEVICE / "q-performance.txt").read_text()
    section = text.split("Clocks Event Reasons\n", 1)[1].split("Clocks Event Reasons Counters", 1)[0]
    titles = [line.split(":")[0].strip() for line in section.splitlines() if ":" in line]
    assert titles[0] == "Idle" and len(titles) == 9
    assert sorted(titles) == sorted(r.title for r in REASONS)


def test_every_per_reason_query_field_in_the_help_is_a_reason_here() -> None:
    help_text = (DEVICE / "help-query-gpu.txt").read_text()
    fields = set(re.findall(r'"clocks_event_reasons\.([a-z_]+)"', help_text)) - {"supported", "active"}
    assert fields == {r.key for r in REASONS} - {"display_clock_setting"}  # -q only; no query field


def test_bits_follow_nvml_h() -> None:
    assert {r.key: r.bit for r in REASONS} == {
        "gpu_idle": 0x1,
        "applications_clocks_setting": 0x2,
        "sw_power_cap": 0x4,
        "hw_slowdown": 0x8,
        "sync_boost": 0x10,
        "sw_thermal_slowdown": 0x20,
        "hw_thermal_slowdown": 0x40,
        "hw_power_brake_slowdown": 0x80,
        "display_clock_setting": 0x100,
    }
    assert THROTTLE_MASK == 0x4 | 0x8 | 0x10 | 0x20 | 0x40 | 0x80


def test_decode_and_what_counts_as_throttling() -> None:
    assert decode(None) == () and decode(0) == () and throttling(None) == ()
    assert keys(decode(0x0000000000000004)) == ["sw_power_cap"] == keys(throttling(0x4))
    assert throttling(0x1 | 0x2 | 0x100) == ()  # idle, applications and display clocks: settings, not slowdowns
    # HW Slowdown summarises its causes: with one of them set, the cause is named, not both
    assert keys(throttling(0x8 | 0x40)) == ["hw_thermal_slowdown"]
    assert keys(throttling(0x8 | 0x80 | 0x4)) == ["sw_power_cap", "hw_power_brake_slowdown"]
    assert keys(throttling(0x8)) == ["hw_slowdown"]
    assert keys(decode(0x8 | 0x40)) == ["hw_slowdown", "hw_thermal_slowdown"]
    assert unknown_bits(0x1 | 0x200) == 0x200 and unknown_bits(0x1FF) == 0 and unknown_bits(None) == 0


def test_gb10_lines_under_load_say_no_reason_and_a_clock_ratio() -> None:
    idle, busy, _ = parse_gpu_csv((FIX / "gb10-lms-stream-nounits.csv").read_text())
    assert keys(idle.clock_reasons) == ["gpu_idle"] and busy.clock_reasons == () and busy.throttle_reasons == ()
    assert round(busy.sm_clock_ratio, 3) == round(2405 / 3003, 3)
    assert GpuSample(sm_clock_mhz=900.0).sm_clock_ratio is None  # no max reported
    assert GpuSample(sm_clock_mhz=None, sm_clock_max_mhz=3003.0).sm_clock_ratio is None
    assert GpuSample(sm_clock_mhz=900.0, sm_clock_max_mhz=0.0).sm_clock_ratio is None
