"""Router-mode llama-server: parsers on bodies and event streams recorded from a real router, the
router detection from an ExecStart and the swap plan (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gb10dash.actions.models import ModelCandidate
from gb10dash.actions.plan import StepKind
from gb10dash.actions.router_swap import (
    RouterCandidate,
    RouterSite,
    is_router_exec_start,
    plan_router_swap,
)
from gb10dash.collectors.router import (
    FAILED,
    LOADED,
    LOADING,
    UNLOADED,
    RouterEvent,
    RouterModel,
    flag_value,
    parse_error_body,
    parse_router_event,
    parse_router_models,
    router_events,
)
from gb10dash.collectors.router_client import MAX_EVENT_BYTES
from gb10dash.config import HostConfig
from gb10dash.transport.sse import SseParser, parse_body

FIX = Path(__file__).resolve().parents[1] / "fixtures"
ROUTER = FIX / "router"
HOST = HostConfig(name="pegasus", api_url="http://127.0.0.1:8000", model_path="/mnt/models/x.gguf", ctx=4096)


def models(name: str) -> tuple[RouterModel, ...]:
    return parse_router_models((ROUTER / name).read_text())


def recorded_events(name: str) -> list[RouterEvent]:
    return list(router_events(parse_body((ROUTER / name).read_bytes())))


def events(name: str) -> list[tuple[str, str | None, float | None]]:
    return [(e.model, e.status, e.progress) for e in recorded_events(name)]


def http(name: str) -> tuple[int, str]:
    head, body = (ROUTER / name).read_bytes().decode().split("\r\n\r\n", 1)
    return int(head.split()[1]), body


def test_listing_statuses_and_model_paths() -> None:
    unloaded = models("models-unloaded.json")
    assert [(m.id, m.status) for m in unloaded] == [
        ("Qwen3-14B-Q4_K_M", UNLOADED),
        ("Qwen_Qwen3-32B-Q4_K_M", UNLOADED),
        ("corrupt", UNLOADED),
    ]
    assert unloaded[2].model_path == "/tmp/router-me/models/corrupt.gguf"
    assert {m.source for m in unloaded} == {"models_dir"}
    loaded = {m.id: m for m in models("models-loaded.json")}
    assert loaded["Qwen3-14B-Q4_K_M"].status == LOADED and loaded["Qwen3-14B-Q4_K_M"].is_loaded
    assert not loaded["corrupt"].is_loaded


def test_a_failed_load_is_failed_with_its_exit_code() -> None:
    corrupt = {m.id: m for m in models("models-failed.json")}["corrupt"]
    assert (corrupt.status, corrupt.exit_code, corrupt.is_loaded) == (FAILED, 1, False)


def test_subdirectories_are_models_named_after_the_directory() -> None:
    by_id = {m.id: m for m in models("models-subdirs.json")}
    assert by_id["gpt-oss-120b-GGUF"].model_path.endswith("/gpt-oss-120b-mxfp4-00001-of-00003.gguf")
    assert by_id["odd dir"].model_path == "/tmp/router-me/tree/odd dir/it's $(x); y.gguf"
    assert "Qwen3-8B-safetensors" not in by_id


def test_the_router_listing_from_another_recording_with_flags_around_model() -> None:
    tiny, big = parse_router_models((FIX / "llama-server" / "router_models_after_load.body").read_text())
    assert (tiny.id, tiny.status, tiny.model_path) == ("tiny", LOADED, "/srv/lab/router_models/tiny.gguf")
    assert (big.id, big.status) == ("tiny-big", UNLOADED)


def test_a_single_model_servers_listing_is_not_a_router_listing() -> None:
    with pytest.raises(ValueError, match="router entries"):
        parse_router_models((FIX / "llama-server" / "v1_models.body").read_text())


def test_sse_load_progress_then_loaded() -> None:
    assert events("sse-load.txt") == [
        ("Qwen3-14B-Q4_K_M", LOADING, None),
        ("Qwen3-14B-Q4_K_M", LOADING, 0.0),
        ("Qwen3-14B-Q4_K_M", LOADING, 1.0),
        ("Qwen3-14B-Q4_K_M", LOADED, None),
    ]
    assert recorded_events("sse-load.txt")[1].describe() == "loading 0 % (text_model)"


def test_sse_unload_then_a_failed_load() -> None:
    assert events("sse-unload-then-failed-load.txt") == [
        ("Qwen3-14B-Q4_K_M", UNLOADED, None),
        ("corrupt", LOADING, None),
        ("corrupt", LOADING, 0.0),
        ("corrupt", FAILED, None),
    ]
    last = recorded_events("sse-unload-then-failed-load.txt")[-1]
    assert last.exit_code == 1 and last.describe() == "failed (exit status 1)"


def test_sse_eviction_under_models_max() -> None:
    assert [e[:2] for e in events("sse-evict-and-load.txt")] == [
        ("Qwen3-14B-Q4_K_M", UNLOADED),
        ("Qwen_Qwen3-32B-Q4_K_M", LOADING),
        ("Qwen_Qwen3-32B-Q4_K_M", LOADING),
        ("Qwen_Qwen3-32B-Q4_K_M", LOADING),
        ("Qwen_Qwen3-32B-Q4_K_M", LOADED),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "",
        ": comment",
        "event: x",
        "data: not json",
        "data: []",
        'data: {"x": 1}',
        'data: {"model": "m", "data": {"progress": {"value": "NaN"}}}',
    ],
)
def test_odd_sse_lines_never_raise(line: str) -> None:
    events = list(router_events(parse_body(f"{line}\n\n".encode())))
    assert all(event.model == "m" and event.progress is None for event in events)


@pytest.mark.parametrize("data", [None, [], "x", {"model": 1}, {"model": "m", "data": [], "event": 3}])
def test_data_of_another_shape_is_no_model_event_or_an_empty_one(data: object) -> None:
    event = parse_router_event(data)
    assert event is None or (event.model, event.event, event.status, event.progress) == ("m", "", None, None)


def test_refusals_say_why() -> None:
    assert http("post-load-14b.http") == (200, '{"success":true}')
    assert parse_error_body(*http("post-load-unknown.http")) == "HTTP 404: File Not Found"
    assert parse_error_body(*http("post-load-already.http")) == "HTTP 400: model is already running"
    assert parse_error_body(*http("post-unload-not-loaded.http")) == "HTTP 400: model is not running"
    assert parse_error_body(502, "<html>bad gateway</html>") == "HTTP 502: '<html>bad gateway</html>'"


@pytest.mark.parametrize(
    ("argv", "router"),
    [
        (("/opt/llama-server", "--models-dir", "/mnt/models", "--port", "8000"), True),
        (("/opt/llama-server", "--models-dir=/mnt/models"), True),
        (("/opt/llama-server", "--models-preset", "/etc/llama/presets.ini"), True),
        (("/opt/llama-server", "-m", "/mnt/models/a.gguf", "--models-dir", "/mnt/models"), False),
        (("/opt/llama-server", "--model=/mnt/models/a.gguf"), False),
        (("/opt/llama-server", "-hf", "ggml-org/gpt-oss-20b-GGUF"), False),
        (("/opt/llama-server",), False),
    ],
)
def test_router_mode_from_the_execstart(argv: tuple[str, ...], router: bool) -> None:
    assert is_router_exec_start(argv) is router


def test_models_dir_from_the_execstart() -> None:
    assert (
        flag_value(("/opt/llama-server", "--port", "8000", "--models-dir", "/mnt/models"), ("--models-dir",))
        == "/mnt/models"
    )
    assert flag_value(("/opt/llama-server", "--models-dir=/mnt/my models"), ("--models-dir",)) == "/mnt/my models"
    assert flag_value(("/opt/llama-server", "--models-dir"), ("--models-dir",)) is None


def test_long_event_lines_are_dropped_not_buffered() -> None:
    one, two = (f'data: {{"model": "{name}", "data": {{"status": "loading"}}}}\r\n\r\n'.encode() for name in "ab")
    parser = SseParser(max_line=MAX_EVENT_BYTES)
    events = [*parser.feed(one + b"x" * (MAX_EVENT_BYTES + 10)), *parser.feed(b"still the long line\n\n" + two)]
    assert [e.model for e in router_events([*events, *parser.finish()])] == ["a", "b"]
    assert len(parser._buffer) == 0


def site(name: str) -> RouterSite:
    return RouterSite(models(name), "/tmp/router-me/models")


def test_plan_unloads_the_loaded_model_with_a_reload_as_undo_then_loads_and_checks() -> None:
    new = ModelCandidate(
        "/tmp/router-me/models/Qwen_Qwen3-32B-Q4_K_M.gguf",
        "Qwen_Qwen3-32B-Q4_K_M.gguf",
        ("/tmp/router-me/models/Qwen_Qwen3-32B-Q4_K_M.gguf",),
        1568800,
    )
    plan = plan_router_swap(HOST, site("models-loaded.json"), new, timeout_s=90)
    assert [(s.kind, s.expect) for s in plan.steps] == [
        (StepKind.ROUTER_UNLOAD, "Qwen3-14B-Q4_K_M"),
        (StepKind.ROUTER_LOAD, "Qwen_Qwen3-32B-Q4_K_M"),
        (StepKind.ROUTER_EXPECT, "Qwen_Qwen3-32B-Q4_K_M"),
    ]
    (reload,) = plan.steps[0].undo
    assert (reload.kind, reload.expect, reload.timeout_s) == (StepKind.ROUTER_LOAD, "Qwen3-14B-Q4_K_M", 90)
    assert plan.steps[1].command_line() == (
        'POST /models/load {"model": "Qwen_Qwen3-32B-Q4_K_M"}, progress from /models/sse (up to 90 s)'
    )
    assert "instead of Qwen3-14B-Q4_K_M" in plan.summary and not plan.notes


def test_plan_with_nothing_loaded_says_a_failure_leaves_none() -> None:
    corrupt = RouterCandidate(
        "/tmp/router-me/models/corrupt.gguf",
        "corrupt",
        ("x",),
        33,
        enabled=False,
        reason="not a GGUF",
        model_id="corrupt",
    )
    with pytest.raises(ValueError, match="not a GGUF"):
        plan_router_swap(HOST, site("models-unloaded.json"), corrupt, timeout_s=60)
    plan = plan_router_swap(HOST, site("models-unloaded.json"), corrupt, timeout_s=60, allow_disabled=True)
    assert [s.kind for s in plan.steps] == [StepKind.ROUTER_LOAD, StepKind.ROUTER_EXPECT]
    assert any("none loaded" in n for n in plan.notes) and any("not offered" in n for n in plan.notes)


def test_plan_maps_a_share_file_in_a_subdirectory_to_the_routers_id_and_quotes_odd_ids() -> None:
    odd = ModelCandidate(
        "/tmp/router-me/tree/odd dir/it's $(x); y.gguf",
        "odd dir/it's $(x); y.gguf",
        ("/tmp/router-me/tree/odd dir/it's $(x); y.gguf",),
        325728,
    )
    plan = plan_router_swap(HOST, RouterSite(models("models-subdirs.json"), None), odd, timeout_s=60)
    assert plan.steps[0].expect == "odd dir"
    stranger = ModelCandidate("/elsewhere/a.gguf", "a.gguf", ("/elsewhere/a.gguf",), 1)
    with pytest.raises(ValueError, match="cannot load /elsewhere/a.gguf"):
        plan_router_swap(HOST, RouterSite(models("models-subdirs.json"), None), stranger, timeout_s=60)


def test_a_loaded_model_is_only_checked() -> None:
    same = RouterCandidate("/p", "Qwen3-14B-Q4_K_M", ("/p",), 1, model_id="Qwen3-14B-Q4_K_M", status=LOADED)
    plan = plan_router_swap(HOST, site("models-loaded.json"), same, timeout_s=60)
    assert [s.kind for s in plan.steps] == [StepKind.ROUTER_EXPECT]
    assert same.file_name == "Qwen3-14B-Q4_K_M" and same.describe().startswith("loaded · ")
