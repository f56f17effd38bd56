"""HostStates + alerts → Prometheus exposition (pure; parsed back with prometheus-client's parser)."""

from __future__ import annotations

import dataclasses

import pytest
from alert_states import T0, healthy, unit, unreachable
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gb10dash.alerts import AlertEngine
from gb10dash.exporter.metrics import families
from gb10dash.exporter.server import Snapshot, SnapshotCollector, parse_listen


def scrape(states, alerts=()) -> dict[tuple[str, tuple], float]:
    collector = SnapshotCollector()
    collector.snapshot = Snapshot(tuple(states), tuple(alerts))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_healthy_host() -> None:
    got = scrape([healthy(T0)])
    h = (("host", "pegasus"),)
    assert got[("gb10dash_host_up", h)] == 1
    assert got[("gb10dash_unit_active", (("host", "pegasus"), ("unit", "llama-server.service")))] == 1
    assert (
        got[("gb10dash_unit_state", (("host", "pegasus"), ("state", "active"), ("unit", "llama-server.service")))] == 1
    )
    assert (
        got[("gb10dash_unit_state", (("host", "pegasus"), ("state", "failed"), ("unit", "llama-server.service")))] == 0
    )
    assert got[("gb10dash_health_ok", h)] == 1
    assert got[("gb10dash_gen_tokens_per_second", (("host", "pegasus"), ("source", "metrics")))] == 55.0
    assert got[("gb10dash_memory_available_bytes", h)] == 60 * 1024**3
    assert got[("gb10dash_gpu_utilization_ratio", h)] == pytest.approx(0.10)
    assert got[("gb10dash_gpu_temperature_celsius", h)] == 55.0
    assert got[("gb10dash_mount_ok", (("host", "pegasus"), ("path", "/mnt/models")))] == 1
    assert got[("gb10dash_alerts_active", h)] == 0
    assert not any(name == "gb10dash_alert_active" for name, _ in got)
    assert not any(name == "gb10dash_model_info" for name, _ in got)  # no /v1/models answer in this state


def test_missing_figures_have_no_series_and_alerts_are_labelled() -> None:
    e = AlertEngine()
    stopped = healthy(T0, unit=unit(active_state="failed", sub_state="failed", n_restarts=4))
    e.evaluate(stopped)
    e.evaluate(dataclasses.replace(stopped, at=T0 + 60))
    gone = dataclasses.replace(
        unreachable(T0, since=T0 - 10), config=dataclasses.replace(stopped.config, name="stella")
    )
    got = scrape([stopped, gone], e.active)
    assert got[("gb10dash_alert_active", (("host", "pegasus"), ("rule", "unit"), ("severity", "critical")))] == 1
    assert got[("gb10dash_alerts_active", (("host", "pegasus"),))] == 1
    assert got[("gb10dash_unit_restarts", (("host", "pegasus"), ("unit", "llama-server.service")))] == 4
    assert got[("gb10dash_host_up", (("host", "stella"),))] == 0
    assert got[("gb10dash_alerts_active", (("host", "stella"),))] == 0
    stella = {name for name, labels in got if ("host", "stella") in labels}
    # nothing measured: no series, never a 0 (the baseline comes from the config)
    assert stella == {"gb10dash_host_up", "gb10dash_alerts_active", "gb10dash_baseline_tokens_per_second"}


def test_parse_listen() -> None:
    assert parse_listen("127.0.0.1:9109") == ("127.0.0.1", 9109)
    assert parse_listen("[::1]:9109") == ("::1", 9109)
    for bad in ("9109", "127.0.0.1", "127.0.0.1:x", ":9109", "127.0.0.1:70000"):
        with pytest.raises(ValueError, match="--listen: expected ADDRESS:PORT"):
            parse_listen(bad)


def test_families_is_a_pure_function_of_its_inputs() -> None:
    first = [(f.name, f.samples) for f in families([healthy(T0)], [], T0)]
    assert first == [(f.name, f.samples) for f in families([healthy(T0)], [], T0)]


def test_speculative_decoding_and_the_canary_have_series_only_when_measured() -> None:
    from gb10dash.core.canary import CanaryResult
    from gb10dash.core.spec_decode import SpecDecode

    h = (("host", "pegasus"),)
    plain = scrape([healthy(T0)])
    assert not any(name.startswith(("gb10dash_spec_", "gb10dash_wedged", "gb10dash_canary_")) for name, _ in plain)
    spec = SpecDecode(
        acceptance=0.8, accepted_per_draft=2.4, drafted=30, at=T0, accepted_total=27, draft_tokens_total=429
    )
    wedge = CanaryResult(at=T0 - 5, ok=False, seconds=1.0, error="no answer to the canary within 1 s")
    got = scrape([dataclasses.replace(healthy(T0), spec_decode=spec, canary=wedge)])
    assert got[("gb10dash_spec_acceptance_ratio", h)] == pytest.approx(0.8)
    assert got[("gb10dash_spec_accepted_per_draft", h)] == pytest.approx(2.4)
    assert got[("gb10dash_wedged", h)] == 1  # /health ok, the canary unanswered
    assert got[("gb10dash_canary_seconds", h)] == 1.0


def test_the_servers_own_token_counters_are_exported_as_counters() -> None:
    """The token ledger's source, for Prometheus: the server's counters, labelled with the served model."""
    from pathlib import Path

    from gb10dash.collectors.llama import parse_metrics

    body = (Path(__file__).resolve().parents[1] / "fixtures" / "llama-server" / "metrics_after.body").read_text()
    metrics = parse_metrics(body)
    got = scrape([healthy(T0, metrics=metrics)])
    labels = (("host", "pegasus"), ("model", ""))
    assert got[("gb10dash_server_prompt_tokens_total", labels)] == metrics.prompt_tokens_total
    assert got[("gb10dash_server_generated_tokens_total", labels)] == metrics.tokens_predicted_total
    assert not any(name.startswith("gb10dash_server_prompt_tokens") for name, _ in scrape([healthy(T0)]))


def test_the_model_lifecycle_series() -> None:
    from gb10dash.core.load_watch import LoadCounts

    got = scrape([healthy(T0, load_counts=LoadCounts(3, 1, 42.5))])
    h = (("host", "pegasus"),)
    assert got[("gb10dash_model_loads_total", h)] == 3 and got[("gb10dash_model_load_failures_total", h)] == 1
    assert got[("gb10dash_model_last_load_seconds", h)] == 42.5
    assert ("gb10dash_unit_uptime_seconds", (("host", "pegasus"), ("unit", "llama-server.service"))) in got
    (uptime,) = [f for f in families([healthy(T0)], [], T0) if f.name == "gb10dash_unit_uptime_seconds"]
    assert uptime.samples[0].value == 3600.0  # started an hour before T0
    fresh = scrape([healthy(T0, load_counts=LoadCounts())])
    assert ("gb10dash_model_last_load_seconds", h) not in fresh and fresh[("gb10dash_model_loads_total", h)] == 0
