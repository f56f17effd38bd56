"""`gb10dash exporter` against the lab, scraped every second by a real Prometheus (Debian package
`prometheus`) on 127.0.0.1; the series are read back through Prometheus's HTTP query API."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from gb10dash.lab import Lab

from . import labctl

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
RULES = Path(__file__).resolve().parents[2] / "docs" / "prometheus" / "gb10dash-rules.yml"  # shipped as-is
GRAFANA = RULES.parents[1] / "grafana" / "gb10dash.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def exporter(config: Path, port: int, log: Path) -> Iterator[subprocess.Popen]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gb10dash", "--config", str(config), "exporter", "--listen", f"127.0.0.1:{port}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        yield proc
    finally:
        stop(proc)


@contextlib.contextmanager
def prometheus(tmp: Path, target_port: int, port: int) -> Iterator[str]:
    if not os.path.exists(PROMETHEUS):
        pytest.fail("prometheus missing: apt-get install -y prometheus (or scripts/setup --test)", pytrace=False)
    config = tmp / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {RULES}\n"
        "scrape_configs:\n  - job_name: gb10dash\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target_port}']\n"
    )
    log = (tmp / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)
        log.close()


def query(base: str, promql: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Instant query → {sorted labels (without __name__): value}."""
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        try:
            answer = client.get(f"{base}/api/v1/query", params={"query": promql})
        except httpx.HTTPError:
            return {}  # not listening yet
    if answer.status_code != 200:
        return {}
    doc = answer.json()
    assert doc["status"] == "success", doc
    return {
        tuple(sorted((k, v) for k, v in r["metric"].items() if k != "__name__")): float(r["value"][1])
        for r in doc["data"]["result"]
    }


def grafana_queries_answer(base: str) -> set[str]:
    """Every query of docs/grafana/gb10dash.json, with its $host variable as Grafana's All, is valid PromQL
    to this Prometheus; returns the series whose queries gave data for both lab hosts."""
    doc = json.loads(GRAFANA.read_text())
    answered = set()
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        for panel in doc["panels"]:
            for target in panel.get("targets", []):
                promql = target["expr"].replace("$host", ".+")
                answer = client.get(f"{base}/api/v1/query", params={"query": promql}).json()
                assert answer["status"] == "success", (panel["title"], promql, answer)
                hosts = {r["metric"].get("host") for r in answer["data"]["result"]}
                if hosts == {"pegasus", "stella"}:
                    answered |= set(re.findall(r"\b(gb10dash_\w+)", promql))
    return answered


def rules_loaded(base: str) -> dict[str, int]:
    """{group: rules} Prometheus loaded from its rule_files, each rule's evaluation healthy."""
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        doc = client.get(f"{base}/api/v1/rules").json()
    groups = doc["data"]["groups"]
    bad = [r["name"] for g in groups for r in g["rules"] if r.get("health") not in ("ok", "unknown")]
    assert not bad, bad
    return {g["name"]: len(g["rules"]) for g in groups}


def per_host(base: str, promql: str) -> dict[str, float]:
    return {dict(labels)["host"]: value for labels, value in query(base, promql).items()}


def our_prometheus_processes(tmp: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        argv = proc.info["cmdline"] or []
        if proc.info["name"] == "prometheus" and any(str(tmp) in a for a in argv):
            found.append(proc)
    return found


def debian_service_running() -> bool:
    """The package's own service: /usr/bin/prometheus without our --config.file (it reads /etc/prometheus)."""
    for proc in psutil.process_iter(["name", "cmdline"]):
        argv = proc.info["cmdline"] or []
        if proc.info["name"] == "prometheus" and not any(
            a.startswith("--config.file=/tmp") or "pytest" in a for a in argv
        ):
            return True
    return False


def test_prometheus_scrapes_the_exporter_and_sees_the_lab(lab: Lab, tmp_path: Path) -> None:
    assert not debian_service_running(), "the Debian prometheus service is running: systemctl disable --now prometheus"
    config = tmp_path / "hosts.toml"  # the lab's config, with a unit alert that fires after 1 s
    config.write_text(lab.config_path.read_text() + "\n[alerts.unit]\nfor_s = 1\nclear_s = 1\n")
    exporter_port, prom_port = free_port(), free_port()
    stopped = False
    t0 = time.monotonic()
    with (
        exporter(config, exporter_port, tmp_path / "exporter.log"),
        prometheus(tmp_path, exporter_port, prom_port) as base,
    ):
        try:
            up = labctl.wait_for(
                lambda: (
                    per_host(base, "gb10dash_health_ok") == {"pegasus": 1.0, "stella": 1.0}
                    and per_host(base, "gb10dash_unit_active")
                ),
                60,
                "both hosts scraped healthy",
                0.5,
            )
            first = time.monotonic() - t0
            assert up == {"pegasus": 1.0, "stella": 1.0}
            assert query(base, 'up{job="gb10dash"}') == {
                (("instance", f"127.0.0.1:{exporter_port}"), ("job", "gb10dash")): 1.0
            }
            models = {dict(labels)["host"]: dict(labels) for labels in query(base, "gb10dash_model_info")}
            for name in ("pegasus", "stella"):
                assert models[name]["model_id"] == lab.host(name).model_path.name
                assert models[name]["configured_model_id"] == lab.host(name).model_path.name
            assert per_host(base, 'gb10dash_unit_state{state="active"}') == {"pegasus": 1.0, "stella": 1.0}
            assert per_host(base, "gb10dash_host_up") == {"pegasus": 1.0, "stella": 1.0}
            assert per_host(base, "gb10dash_memory_total_bytes") == {
                "pegasus": psutil.virtual_memory().total // 1024 * 1024,
                "stella": psutil.virtual_memory().total // 1024 * 1024,
            }
            temps = per_host(base, "gb10dash_gpu_temperature_celsius")
            assert set(temps) == {"pegasus", "stella"} and all(0 < t < 120 for t in temps.values())
            if os.geteuid() == 0:
                assert per_host(base, "gb10dash_mount_ok") == {"pegasus": 1.0, "stella": 1.0}
            assert per_host(base, "gb10dash_alerts_active") == {"pegasus": 0.0, "stella": 0.0}
            answered = grafana_queries_answer(base)
            assert {"gb10dash_health_ok", "gb10dash_unit_uptime_seconds", "gb10dash_memory_total_bytes"} <= answered
            assert query(base, "gb10dash_alert_active") == {}

            assert labctl.shim(lab, "stella", "systemctl", "stop", "llama-server").returncode == 0
            stopped = True
            t1 = time.monotonic()
            labctl.wait_for(
                lambda: query(base, 'gb10dash_alert_active{host="stella"}'), 40, "the alert in Prometheus", 0.5
            )
            alert_seen = time.monotonic() - t1
            assert query(base, "gb10dash_alert_active") == {
                (
                    ("host", "stella"),
                    ("instance", f"127.0.0.1:{exporter_port}"),
                    ("job", "gb10dash"),
                    ("rule", "unit"),
                    ("severity", "critical"),
                ): 1.0
            }
            assert per_host(base, "gb10dash_unit_active") == {"pegasus": 1.0, "stella": 0.0}
            assert per_host(base, 'gb10dash_unit_state{state="inactive"}')["stella"] == 1.0

            # docs/prometheus/gb10dash-rules.yml, loaded as shipped: its unit rule fires after its 10 s
            groups = rules_loaded(base)
            assert groups == {"gb10dash": 15}, groups
            labctl.wait_for(
                lambda: per_host(base, 'ALERTS{alertname="GB10UnitNotActive", alertstate="firing"}'),
                40,
                "GB10UnitNotActive firing in Prometheus",
                0.5,
            )
            rule_seen = time.monotonic() - t1
            firing = per_host(base, 'ALERTS{alertstate="firing"}')
            assert set(firing) == {"stella"}, firing
        finally:
            if stopped:
                labctl.shim(lab, "stella", "systemctl", "start", "llama-server")
                lab.wait_ready(60)
    assert our_prometheus_processes(tmp_path) == []
    assert not debian_service_running()
    print(
        f"\nprometheus: both hosts healthy in Prometheus {first:.1f} s after start; the unit alert "
        f"{alert_seen:.1f} s after the stop (for_s 1, scrape every 1 s); the shipped GB10UnitNotActive rule "
        f"firing {rule_seen:.1f} s after it (for: 10s)"
    )
