"""llama-server HTTP bodies recorded from a real server (and a few older/odd forms we wrote)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gb10dash.collectors.llama import (
    Health,
    HealthState,
    LlamaErrorBody,
    health_down,
    model_file_name,
    parse_health,
    parse_metrics,
    parse_models,
    parse_props,
    parse_slots,
)

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "llama-server"


def read(name: str) -> str:
    return (FIX / name).read_text()


# ---- /health
def test_health_ready_and_loading_recorded() -> None:
    assert parse_health(200, read("health_ready.body")) == Health(HealthState.OK, 200, None)
    h = parse_health(503, read("health_loading.body"))
    assert (h.state, h.status_code, h.message) == (HealthState.LOADING, 503, "Loading model")


def test_health_transitions_recorded() -> None:
    transitions = json.loads(read("health_transitions.json"))["transitions"]
    states = [parse_health(t["status"], t["body"]).state for t in transitions]
    assert states == [HealthState.LOADING, HealthState.OK]


def test_health_older_server_bodies() -> None:
    assert parse_health(503, read("health_old_loading.body")).state == HealthState.LOADING
    busy = parse_health(503, read("health_old_no_slot.body"))
    assert (busy.state, busy.message) == (HealthState.OK, "no slot available")
    err = parse_health(500, read("health_old_error.body"))
    assert (err.state, err.message) == (HealthState.ERROR, "error")


def test_health_odd_answers_are_errors_not_exceptions() -> None:
    h = parse_health(502, read("proxy_502.body"))
    assert h.state == HealthState.ERROR and "502" in (h.message or "")
    assert parse_health(200, "").state == HealthState.ERROR
    assert parse_health(200, '{"status":"weird"}').state == HealthState.ERROR
    assert health_down("connection refused") == Health(HealthState.DOWN, None, "connection refused")


# ---- /v1/models
def test_models_recorded() -> None:
    (m,) = parse_models(read("v1_models.body"))
    assert m.id == "/srv/lab/models/tiny.gguf"
    assert (m.n_ctx_train, m.n_params, m.size_bytes, m.ftype, m.n_ctx) == (2048, 116032, 464128, "all F32", 1024)
    assert m.architecture is None  # an object of modalities here, not a name
    assert model_file_name(m.id) == "tiny.gguf"


def test_models_alias_recorded() -> None:
    (m,) = parse_models(read("alias_v1_models.body"))
    assert (m.id, m.aliases) == ("tiny", ("tiny", "tiny-alt"))
    assert model_file_name(m.id) == "tiny"


def test_models_router_recorded() -> None:
    loaded, unloaded = parse_models(read("router_models_after_load.body"))
    assert (loaded.id, loaded.status, loaded.n_params) == ("tiny", "loaded", 116032)
    assert (unloaded.id, unloaded.status, unloaded.n_params, unloaded.n_ctx_train) == (
        "tiny-big",
        "unloaded",
        None,
        None,
    )


@pytest.mark.parametrize(
    ("model_id", "name"),
    [
        (
            "/mnt/models/gpt-oss-120b-GGUF/gpt-oss-120b-mxfp4-00001-of-00003.gguf",
            "gpt-oss-120b-mxfp4-00001-of-00003.gguf",
        ),
        ("Qwen_Qwen3-8B-Q8_0.gguf", "Qwen_Qwen3-8B-Q8_0.gguf"),
        ("/mnt/models/dir/", "dir"),
        ("C:\\m\\x.gguf", "x.gguf"),
    ],
)
def test_model_file_name(model_id: str, name: str) -> None:
    assert model_file_name(model_id) == name


# ---- /props
def test_props_recorded() -> None:
    p = parse_props(read("props.body"))
    assert (p.n_ctx, p.total_slots, p.build_info) == (1024, 2, "b0-unknown")
    assert (p.model_path, p.model_alias, p.chat_template_present) == ("/srv/lab/models/tiny.gguf",) * 2 + (True,)
    assert (p.endpoint_slots, p.endpoint_metrics, p.is_router) == (True, True, False)
    h = parse_props(read("h100_props.json"))
    assert (h.n_ctx, h.total_slots, h.model_path) == (4096, 4, "/srv/lab/mid.gguf")


def test_props_router_recorded() -> None:
    p = parse_props(read("router_props_no_model.body"))
    assert p.is_router and p.n_ctx is None and p.model_path is None and not p.chat_template_present
    assert p.model_alias == "llama-server" and p.total_slots is None


# ---- /slots
def test_slots_idle_recorded() -> None:
    slots = parse_slots(read("slots_idle.body"))
    assert [(s.id, s.n_ctx, s.is_processing, s.id_task, s.n_decoded) for s in slots] == [
        (0, 1024, False, None, None),
        (1, 1024, False, None, None),
    ]


def test_slots_busy_recorded() -> None:
    idle, busy = parse_slots(read("slots_processing_big.body"))
    assert not idle.is_processing and busy.is_processing
    assert (busy.id_task, busy.n_prompt_tokens, busy.n_prompt_tokens_processed) == (1539, 114, 21)
    assert (busy.n_decoded, busy.n_remain) == (87, 813)
    tiny = parse_slots(read("slots_processing_tiny.body"))[1]
    assert (tiny.id_task, tiny.n_decoded, tiny.n_remain) == (1539, 877, 23)


def test_slots_h100_after_a_task_recorded() -> None:
    slots = parse_slots(read("h100_slots_busy.json"))
    assert len(slots) == 4 and not any(s.is_processing for s in slots)
    last = slots[3]
    assert (last.id, last.id_task, last.n_prompt_tokens, last.n_decoded) == (3, 771, 3020, 0)
    after = parse_slots(read("slots_after.body"))[1]
    assert (after.id_task, after.n_prompt_tokens, after.n_decoded) == (179, 16, 0)


def test_slots_older_format() -> None:
    busy, idle = parse_slots(read("slots_old_format.body"))
    assert (busy.is_processing, busy.id_task, busy.n_decoded) == (True, 12, 41)
    assert (idle.is_processing, idle.id_task) == (False, None)


# ---- /metrics
def test_metrics_recorded() -> None:
    m = parse_metrics(read("metrics_processing.body"))
    assert (m.prompt_tokens_total, m.prompt_seconds_total) == (73.0, 0.034617)
    assert (m.tokens_predicted_total, m.tokens_predicted_seconds_total) == (1536.0, 2.59149)
    assert m.requests_processing == 1.0 and m.requests_deferred == 0.0
    assert m.values["n_decode_total"] == 1633.0 and "llamacpp:n_decode_total" not in m.values
    assert len(m.values) == 15
    zero = parse_metrics(read("metrics_idle_zero.body"))
    assert zero.tokens_predicted_total == 0.0 and zero.requests_processing == 0.0


def test_metrics_without_counters() -> None:
    m = parse_metrics(read("metrics_no_counters.body"))
    assert dict(m.values) == {}
    assert m.tokens_predicted_total is None and m.requests_processing is None
    assert dict(parse_metrics("").values) == {}


def test_metrics_labels_nan_inf() -> None:
    m = parse_metrics(read("metrics_labels_nan_inf.body"))
    assert m.tokens_predicted_total == 2000.0  # 1.5e3 + 500 over two label sets
    assert m.tokens_predicted_seconds_total == 54.0
    assert math.isnan(m.values["prompt_tokens_seconds"]) and m.values["predicted_tokens_seconds"] == math.inf
    assert m.requests_processing == 2.0 and "go_goroutines" not in m.values
    assert "broken_line_without_value" not in m.values


# ---- error bodies: ValueError (LlamaErrorBody), never KeyError/TypeError/JSONDecodeError
@pytest.mark.parametrize(
    ("parser", "body"),
    [
        (parse_props, "props_loading.body"),
        (parse_slots, "slots_loading.body"),
        (parse_metrics, "metrics_loading.body"),
        (parse_models, "v1_models_loading.body"),
    ],
)
def test_503_loading_bodies(parser, body: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LlamaErrorBody, match="Loading model") as info:
        parser(read(body))
    assert info.value.code == 503 and info.value.is_loading


def test_other_error_bodies() -> None:
    with pytest.raises(LlamaErrorBody, match="--slots") as info:
        parse_slots(read("slots_disabled.body"))
    assert info.value.code == 501 and not info.value.is_loading
    with pytest.raises(LlamaErrorBody, match="model name is missing"):
        parse_metrics(read("router_metrics_no_model.body"))


@pytest.mark.parametrize(
    ("parser", "body", "match"),
    [
        (parse_props, "<html>", "/props: expected a JSON body"),
        (parse_props, "[]", "/props: expected a JSON object"),
        (parse_slots, "{}", "/slots: expected a JSON list"),
        (parse_slots, "[1]", "/slots: expected slot objects"),
        (parse_slots, '[{"n_ctx": 5}]', "integer 'id'"),
        (parse_models, '{"object":"list"}', "'data' list"),
        (parse_models, '{"data":[{"id": 5}]}', "string 'id'"),
        (parse_models, "", "expected a JSON body"),
        (parse_metrics, "<html><body>502</body></html>", "Prometheus"),
        (parse_metrics, '{"a": 1}', "Prometheus"),
    ],
)
def test_malformed_bodies_raise_value_error(parser, body: str, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=match) as info:
        parser(body)
    assert type(info.value) in (ValueError, LlamaErrorBody)
