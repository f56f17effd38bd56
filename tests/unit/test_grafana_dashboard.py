"""docs/grafana/gb10dash.json: an importable Grafana dashboard (datasource as an import input, a host
variable) whose every query reads series the exporter writes. tests/lab/test_exporter_prometheus.py runs
each query against a real Prometheus scraping the exporter on the lab."""

from __future__ import annotations

import json
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def dashboard() -> dict:
    return json.loads((DOCS / "grafana" / "gb10dash.json").read_text())


def queries(doc: dict) -> list[str]:
    return [t["expr"] for p in doc["panels"] if p["type"] != "row" for t in p["targets"]]


def test_it_imports_with_a_prometheus_datasource_and_a_host_variable() -> None:
    doc = dashboard()
    assert doc["uid"] == "gb10dash-fleet" and doc["schemaVersion"] >= 36
    (ds,) = doc["__inputs"]
    assert ds["pluginId"] == "prometheus" and ds["name"] == "DS_PROMETHEUS"
    (host,) = doc["templating"]["list"]
    assert (
        host["name"] == "host" and host["includeAll"] and host["definition"] == "label_values(gb10dash_host_up, host)"
    )
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids))
    for p in doc["panels"]:
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${DS_PROMETHEUS}" and p["targets"], p["title"]
            assert all('host=~"$host"' in t["expr"] for t in p["targets"]), p["title"]


def test_it_covers_what_the_issue_names() -> None:
    rows = [p["title"] for p in dashboard()["panels"] if p["type"] == "row"]
    assert rows == ["State", "Throughput", "Memory", "GPU", "Model share", "Alerts", "Token ledger", "Model lifecycle"]


def test_every_query_reads_exported_series() -> None:
    exported = set(re.findall(r"^\| `(gb10dash_\w+)`", (DOCS / "exporter.md").read_text(), re.MULTILINE))
    read = {name for q in queries(dashboard()) for name in re.findall(r"\b(gb10dash_\w+)", q)}
    assert read and read <= exported, read - exported
