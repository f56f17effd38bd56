"""docs/prometheus/gb10dash-rules.yml: promtool accepts it and its unit tests pass (each rule fires on the
series that should raise it, after its `for`); every gb10dash alert rule has its Prometheus twin; every
series a rule reads is one the exporter writes (docs/exporter.md). The live half — a real Prometheus
loading the file and one rule firing after a unit stop — is tests/lab/test_exporter_prometheus.py."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gb10dash.alerts.rules import RULES

DOCS = Path(__file__).resolve().parents[2] / "docs"
RULES_FILE = DOCS / "prometheus" / "gb10dash-rules.yml"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

#: gb10dash's rule → the Prometheus alert(s) that stand for it
TWINS = {
    "unreachable": ["GB10HostUnreachable"],
    "unit": ["GB10UnitNotActive", "GB10UnitRestarting"],
    "health": ["GB10HealthDown", "GB10ModelLoadTooLong"],
    "share": ["GB10ShareNotMounted"],
    "throughput": ["GB10ThroughputBelowBaseline"],
    "gpu_temp": ["GB10GpuHot"],
    "throttle": ["GB10GpuThrottled"],
    "power_low": ["GB10PowerLowUnderLoad"],
    "memory": ["GB10MemoryLow"],
    "memory_pressure": ["GB10MemoryPressure"],
    "kernel": ["GB10GpuFault", "GB10OomKill"],
    "wedged": ["GB10Wedged"],
}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if not Path(PROMTOOL).exists():
        pytest.fail("promtool missing: apt-get install -y prometheus (or scripts/setup --test)", pytrace=False)
    return subprocess.run(
        [PROMTOOL, *args], cwd=RULES_FILE.parent, capture_output=True, text=True, timeout=120, check=False
    )


def test_promtool_checks_the_rules() -> None:
    done = promtool("check", "rules", RULES_FILE.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {sum(len(v) for v in TWINS.values())} rules found" in done.stdout


def test_promtools_unit_tests_of_the_rules_pass() -> None:
    done = promtool("test", "rules", "gb10dash-rules.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_gb10dash_rule_has_its_prometheus_twin() -> None:
    alerts = re.findall(r"^\s*- alert: (\w+)$", RULES_FILE.read_text(), re.MULTILINE)
    assert set(TWINS) == set(RULES)
    assert sorted(alerts) == sorted(a for twins in TWINS.values() for a in twins)


def test_every_series_a_rule_reads_is_exported() -> None:
    exported = set(re.findall(r"^\| `(gb10dash_\w+)`", (DOCS / "exporter.md").read_text(), re.MULTILINE))
    read = set(re.findall(r"\b(gb10dash_\w+)", RULES_FILE.read_text())) - {"gb10dash_rules"}
    assert read and read <= exported, read - exported
