"""Clock event reasons and a pinned power draw through the real path: the lab's nvidia-smi shim
(controlled by its state files) → the monitor's `-lms` stream over SSH → GpuSample → the alert
engine's `throttle` and `power_low` rules, raised after their (shortened) for_s and cleared after
their clear_s. Also: the shim prints the fields exactly as a real H100 did."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from gb10dash.lab import Lab
from gb10dash.lab.shims.gpu_controls import GpuControls, read_controls, write_controls

from . import labctl
from .faultctl import monitor_for, running
from .test_alerts_lab import Driver, driving, engine

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "nvidia-smi" / "h100-device"
HOST = "pegasus"  # the gb10 profile


def smi(root: Path, *argv: str) -> str:
    env = dict(os.environ, GB10LAB_ROOT=str(root))
    done = subprocess.run(
        [sys.executable, "-m", "gb10dash.lab.shims.nvidia_smi", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout


def test_shim_prints_the_reasons_as_the_real_tool_and_follows_its_controls(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "gpu-profile").write_text("h100\n")
    real_header, real_row = (RECORDED / "clocks-event-reasons-units.csv").read_text().splitlines()
    query = "--query-gpu=" + ",".join(c.split(" [")[0].strip() for c in real_header.split(","))
    header, row = smi(tmp_path, query, "--format=csv").splitlines()
    assert header == real_header
    cells, real_cells = row.split(", "), real_row.split(", ")
    assert cells[:10] == real_cells[:10]  # idle: 0x0000000000000001, Active, Not Active × 7
    write_controls(tmp_path, GpuControls(reasons=0x48, power_w=30.0, load=0.95))
    assert read_controls(tmp_path) == GpuControls(reasons=0x48, power_w=30.0, load=0.95)
    _, row = smi(tmp_path, query, "--format=csv").splitlines()
    cells = row.split(", ")
    assert cells[1] == "0x0000000000000048"
    assert cells[2:10] == ["Not Active", "Not Active", "Not Active", "Active", "Active"] + ["Not Active"] * 3
    assert 29.5 <= float(cells[12].removesuffix(" W")) <= 30.5
    assert int(cells[10].removesuffix(" MHz")) < 1980 // 2
    write_controls(tmp_path, GpuControls(load=1.0))  # at its 700 W limit an H100 says SW power cap
    assert smi(tmp_path, "--query-gpu=clocks_event_reasons.active", "--format=csv,noheader") == "0x0000000000000004\n"
    (tmp_path / "etc" / "gpu-profile").write_text("gb10\n")
    write_controls(tmp_path, GpuControls(load=0.8))  # a GB10 under load: no reason, and not power_low's ≤ 40 W
    reasons, power = (
        smi(tmp_path, "--query-gpu=clocks_event_reasons.active,power.draw", "--format=csv,noheader,nounits")
        .strip()
        .split(", ")
    )
    assert reasons == "0x0000000000000000" and 43 <= float(power) <= 45
    write_controls(tmp_path, GpuControls())
    assert read_controls(tmp_path) == GpuControls() and not list((tmp_path / "state").glob("gpu-*"))


async def test_throttle_and_pinned_low_power_are_decoded_alerted_and_cleared(lab: Lab) -> None:
    short = {"for_s": 2.0, "clear_s": 2.0}
    e = engine(throttle=short, power_low=short)
    monitor = monitor_for(lab, HOST)
    try:
        async with running(monitor), driving(Driver(monitor, e)) as d:
            first = await labctl.until(
                lambda: (g := monitor.state.gpu) and g.clocks_event_reasons is not None and g, 30, "a first GPU sample"
            )
            assert first.name == "NVIDIA GB10" and first.sm_clock_max_mhz == 3003 and not first.throttle_reasons
            labctl.gpu_controls(lab, HOST, reasons=0x48, power_w=30.0, load=0.95)
            t0 = time.monotonic()
            # (a) the monitor's sample decodes it
            g = await labctl.until(
                lambda: (g := monitor.state.gpu) and g.clocks_event_reasons == 0x48 and g,
                20,
                "the HW thermal slowdown in a sample",
            )
            seen = time.monotonic() - t0
            assert [r.key for r in g.throttle_reasons] == ["hw_thermal_slowdown"]
            assert [r.key for r in g.clock_reasons] == ["hw_slowdown", "hw_thermal_slowdown"]
            assert g.sm_clock_ratio < 0.5 and 29.5 <= g.power_w <= 30.5 and g.utilization_pct >= 80
            # (b) the engine raises both after their for_s
            throttle = (await labctl.until(lambda: d.event("raised", "throttle"), 20, "throttle raised")).alert
            power = (await labctl.until(lambda: d.event("raised", "power_low"), 20, "power_low raised")).alert
            assert throttle.message == "GPU clocks held down: HW thermal slowdown"
            assert power.message.startswith("GPU power 30 W at ") and power.severity == "warning"
            assert throttle.raised_at - throttle.since >= 2.0 and power.raised_at - power.since >= 2.0
            raised = time.monotonic() - t0
            labctl.gpu_controls(lab, HOST)  # the fault ends
            t1 = time.monotonic()
            for rule, alert in (("throttle", throttle), ("power_low", power)):
                cleared = (await labctl.until(lambda r=rule: d.event("cleared", r), 20, f"{rule} cleared")).alert
                assert cleared.id == alert.id and cleared.cleared_at - cleared.raised_at >= 2.0
            assert e.active == []
            print(
                f"\nthrottle/power_low: seen in a sample {seen:.1f} s after the control was set, both raised "
                f"{raised:.1f} s after (for_s 2), cleared {time.monotonic() - t1:.1f} s after it ended (clear_s 2)"
            )
    finally:
        labctl.gpu_controls(lab, HOST)
