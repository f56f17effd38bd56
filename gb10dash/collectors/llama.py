"""llama-server HTTP bodies (/health, /v1/models, /props, /slots, /metrics) → dataclasses (pure)."""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

METRICS_PREFIX = "llamacpp:"


class HealthState(enum.StrEnum):
    OK = "ok"
    LOADING = "loading"
    DOWN = "down"
    ERROR = "error"


class LlamaErrorBody(ValueError):
    """The server answered with its `{"error": {code, message, type}}` body instead of the data."""

    def __init__(self, what: str, code: int | None, message: str, type_: str | None) -> None:
        super().__init__(f"{what}: server error {code} ({type_}): {message}")
        self.code, self.message, self.type = code, message, type_

    @property
    def is_loading(self) -> bool:
        return self.code == 503 or self.type == "unavailable_error"


@dataclass(frozen=True)
class Health:
    state: HealthState
    status_code: int | None
    message: str | None


@dataclass(frozen=True)
class ModelInfo:
    id: str
    n_ctx_train: int | None
    n_params: int | None
    size_bytes: int | None
    ftype: str | None
    architecture: str | None
    aliases: tuple[str, ...] = ()
    n_ctx: int | None = None
    status: str | None = None  # router mode: "loaded" / "unloaded" / "loading"


@dataclass(frozen=True)
class Props:
    n_ctx: int | None
    total_slots: int | None
    build_info: str | None
    model_path: str | None
    model_alias: str | None
    chat_template_present: bool
    role: str | None = None  # "router" in router mode
    endpoint_slots: bool | None = None
    endpoint_metrics: bool | None = None

    @property
    def is_router(self) -> bool:
        return self.role == "router"


@dataclass(frozen=True)
class SlotInfo:
    id: int
    n_ctx: int | None
    is_processing: bool
    n_prompt_tokens: int | None
    n_prompt_tokens_processed: int | None
    n_decoded: int | None
    id_task: int | None
    n_remain: int | None = None
    n_prompt_tokens_cache: int | None = None  # prompt tokens reused from the slot's cache


@dataclass(frozen=True)
class Metrics:
    values: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def get(self, name: str) -> float | None:
        """A value by name without the `llamacpp:` prefix; None when absent."""
        return self.values.get(name)

    @property
    def prompt_tokens_total(self) -> float | None:
        return self.values.get("prompt_tokens_total")

    @property
    def prompt_seconds_total(self) -> float | None:
        return self.values.get("prompt_seconds_total")

    @property
    def tokens_predicted_total(self) -> float | None:
        return self.values.get("tokens_predicted_total")

    @property
    def tokens_predicted_seconds_total(self) -> float | None:
        return self.values.get("tokens_predicted_seconds_total")

    @property
    def requests_processing(self) -> float | None:
        return self.values.get("requests_processing")

    @property
    def requests_deferred(self) -> float | None:
        return self.values.get("requests_deferred")


def _json(what: str, body: str | bytes) -> Any:
    try:
        data = json.loads(body)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{what}: expected a JSON body, got {str(body)[:80]!r} ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        err = data["error"]
        raise LlamaErrorBody(what, _int(err.get("code")), str(err.get("message", "")), err.get("type"))
    return data


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_health(status_code: int, body: str) -> Health:
    """/health answer → Health. Never raises: an odd body is itself an ERROR state."""
    try:
        data = json.loads(body) if body.strip() else {}
    except ValueError:
        data = None
    status = data.get("status") if isinstance(data, dict) else None
    err = data.get("error") if isinstance(data, dict) and isinstance(data.get("error"), dict) else None
    message = _str(err.get("message")) if err else _str(status)
    if status_code == 200 and status == "ok":
        return Health(HealthState.OK, status_code, None)
    if status_code == 503:
        text = (message or "").lower()
        if "loading" in text or (err is not None and err.get("type") == "unavailable_error"):
            return Health(HealthState.LOADING, status_code, message)
        if "no slot" in text:  # older servers with ?fail_on_no_slot: up, but busy
            return Health(HealthState.OK, status_code, message)
    if message is None:
        message = f"unexpected /health answer: HTTP {status_code} {body.strip()[:80]!r}"
    return Health(HealthState.ERROR, status_code, message)


def health_down(message: str) -> Health:
    """Health for a server that could not be reached at all."""
    return Health(HealthState.DOWN, None, message)


def model_file_name(model_id: str) -> str:
    """Basename of a path-like model id (`/mnt/models/x/y.gguf` → `y.gguf`; `tiny` → `tiny`)."""
    name = model_id.strip().rstrip("/\\")
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def parse_models(body: str) -> tuple[ModelInfo, ...]:
    """/v1/models (or router /models) → ModelInfo per entry of `data` (falls back to `models`)."""
    data = _json("/v1/models", body)
    if not isinstance(data, dict):
        raise ValueError("/v1/models: expected a JSON object with a 'data' list")
    items = data.get("data")
    if items is None and isinstance(data.get("models"), list):
        items = [{"id": m.get("model") or m.get("name")} for m in data["models"] if isinstance(m, dict)]
    if not isinstance(items, list):
        raise ValueError("/v1/models: expected a 'data' list")
    out = []
    for item in items:
        if not isinstance(item, dict) or not _str(item.get("id")):
            raise ValueError(f"/v1/models: expected entries with a string 'id', got {str(item)[:80]!r}")
        meta = item.get("meta")
        if not isinstance(meta, dict):
            meta = {}
        status = item.get("status")
        out.append(
            ModelInfo(
                id=item["id"],
                n_ctx_train=_int(meta.get("n_ctx_train")),
                n_params=_int(meta.get("n_params")),
                size_bytes=_int(meta.get("size")),
                ftype=_str(meta.get("ftype")),
                architecture=_str(item.get("architecture")),
                aliases=tuple(a for a in item.get("aliases") or () if isinstance(a, str)),
                n_ctx=_int(meta.get("n_ctx")),
                status=_str(status.get("value")) if isinstance(status, dict) else _str(status),
            )
        )
    return tuple(out)


def parse_props(body: str) -> Props:
    """/props → Props (n_ctx from default_generation_settings; 0 in router mode → None)."""
    data = _json("/props", body)
    if not isinstance(data, dict):
        raise ValueError("/props: expected a JSON object")
    dgs = data.get("default_generation_settings")
    n_ctx = _int(dgs.get("n_ctx")) if isinstance(dgs, dict) else None
    model_path = _str(data.get("model_path"))
    return Props(
        n_ctx=n_ctx if n_ctx and n_ctx > 0 else None,
        total_slots=_int(data.get("total_slots")),
        build_info=_str(data.get("build_info")),
        model_path=None if model_path == "none" else model_path,
        model_alias=_str(data.get("model_alias")),
        chat_template_present=bool(_str(data.get("chat_template"))),
        role=_str(data.get("role")),
        endpoint_slots=data.get("endpoint_slots") if isinstance(data.get("endpoint_slots"), bool) else None,
        endpoint_metrics=data.get("endpoint_metrics") if isinstance(data.get("endpoint_metrics"), bool) else None,
    )


def parse_slots(body: str) -> tuple[SlotInfo, ...]:
    """/slots → SlotInfo per slot (next_token as list or, in older servers, an object)."""
    data = _json("/slots", body)
    if not isinstance(data, list):
        raise ValueError("/slots: expected a JSON list of slots")
    out = []
    for slot in data:
        if not isinstance(slot, dict) or _int(slot.get("id")) is None:
            raise ValueError(f"/slots: expected slot objects with an integer 'id', got {str(slot)[:80]!r}")
        nt = slot.get("next_token")
        if isinstance(nt, list):
            nt = nt[0] if nt else None
        nt = nt if isinstance(nt, dict) else {}
        processing = slot.get("is_processing")
        if not isinstance(processing, bool):  # older servers: "state": 0 idle, 1 processing
            processing = bool(_int(slot.get("state")))
        id_task = _int(slot.get("id_task"))
        out.append(
            SlotInfo(
                id=_int(slot["id"]),  # type: ignore[arg-type]
                n_ctx=_int(slot.get("n_ctx")),
                is_processing=processing,
                n_prompt_tokens=_int(slot.get("n_prompt_tokens")),
                n_prompt_tokens_processed=_int(slot.get("n_prompt_tokens_processed")),
                n_decoded=_int(nt.get("n_decoded")),
                id_task=id_task if id_task is not None and id_task >= 0 else None,
                n_remain=_int(nt.get("n_remain")),
                n_prompt_tokens_cache=_int(slot.get("n_prompt_tokens_cache")),
            )
        )
    return tuple(out)


def parse_metrics(text: str) -> Metrics:
    """Prometheus text from /metrics → llamacpp:* values (prefix dropped; label sets summed)."""
    if text.lstrip().startswith("{"):
        _json("/metrics", text)  # raises LlamaErrorBody for the server's error object
        raise ValueError("/metrics: expected Prometheus text, got JSON")
    values: dict[str, float] = {}
    samples = bad = 0
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        brace, space = line.find("{"), line.find(" ")
        if brace != -1 and (space == -1 or brace < space):  # name{labels} value [timestamp]
            name_part, fields = line[:brace], line[line.rfind("}") + 1 :].split()
        else:
            name_part, *fields = line.split()
        try:
            value = float(fields[0])
        except (IndexError, ValueError):
            bad += 1
            continue
        samples += 1
        name = name_part.strip()
        if name.startswith(METRICS_PREFIX):
            key = name[len(METRICS_PREFIX) :]
            values[key] = values.get(key, 0.0) + value
    if bad and not samples:
        raise ValueError(f"/metrics: expected Prometheus exposition text, got {text.strip()[:80]!r}")
    return Metrics(MappingProxyType(values))
