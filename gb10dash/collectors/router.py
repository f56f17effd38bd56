"""Router-mode llama-server bodies (GET /models, GET /models/sse, POST /models/load) → dataclasses (pure).

A router (`--models-dir DIR`, no `-m`) lists every model it can load; each loaded one runs as a
child llama-server. An id is a file name without `.gguf`, or a subdirectory's name (its first
GGUF). A failed load shows as `unloaded` with a non-zero `exit_code` and `failed: true`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from gb10dash.collectors.llama import _json
from gb10dash.transport.sse import Frame, SseEvent

LOADED, UNLOADED, LOADING, FAILED, SLEEPING = "loaded", "unloaded", "loading", "failed", "sleeping"
_MODEL_FLAGS = ("-m", "--model")


@dataclass(frozen=True, slots=True)
class RouterModel:
    id: str
    status: str  # loaded / unloaded / loading / failed / sleeping / downloading …
    model_path: str | None  # the child's --model (None for a preset without one, e.g. -hf)
    exit_code: int | None = None  # of the child that failed
    source: str | None = None  # models_dir / preset / cache
    aliases: tuple[str, ...] = ()

    @property
    def is_loaded(self) -> bool:
        """Serving: loaded, or asleep (woken by the next request)."""
        return self.status in (LOADED, SLEEPING)


@dataclass(frozen=True, slots=True)
class RouterEvent:
    model: str
    event: str  # model_status / status_change / download_progress …
    status: str | None  # loaded / unloaded / loading …; failed for an unload with exit_code ≠ 0
    progress: float | None = None  # 0.0–1.0 of the current stage while loading
    stage: str | None = None
    exit_code: int | None = None

    def describe(self) -> str:
        """`loading 42 % (text_model)`, `loaded`, `failed (exit status 1)`."""
        if self.status == FAILED:
            return f"failed (exit status {self.exit_code})"
        if self.status == LOADING and self.progress is not None:
            return f"loading {self.progress * 100:.0f} %" + (f" ({self.stage})" if self.stage else "")
        return self.status or self.event


def _exit_code(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _object(value: Any) -> dict[str, Any]:
    """A JSON object, or an empty one for anything else."""
    return value if isinstance(value, dict) else {}


def _status(value: str | None, exit_code: int | None, failed: bool = False) -> str | None:
    if value == UNLOADED and (failed or exit_code not in (None, 0)):
        return FAILED
    return value


def flag_value(args: Any, flags: tuple[str, ...]) -> str | None:
    """The value of the first `FLAG X` / `--flag=X` of flags in an argv (None when absent)."""
    if not isinstance(args, (list, tuple)):
        return None
    for i, word in enumerate(args):
        if word in flags and i + 1 < len(args) and isinstance(args[i + 1], str):
            return args[i + 1]
        for flag in flags:
            if isinstance(word, str) and flag.startswith("--") and word.startswith(flag + "="):
                return word[len(flag) + 1 :]
    return None


def parse_router_models(body: str) -> tuple[RouterModel, ...]:
    """GET /models of a router → RouterModel per entry. ValueError when it is no router listing
    (a single-model server's /models has no status)."""
    data = _json("/models", body)
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError("/models: expected a JSON object with a 'data' list")
    out = []
    for item in items:
        status = item.get("status") if isinstance(item, dict) else None
        if not isinstance(item.get("id") if isinstance(item, dict) else None, str) or not isinstance(status, dict):
            raise ValueError(
                f"/models: expected router entries with 'id' and a 'status' object, got {str(item)[:80]!r}"
            )
        code = _exit_code(status.get("exit_code"))
        value = status.get("value") if isinstance(status.get("value"), str) else "unknown"
        out.append(
            RouterModel(
                id=item["id"],
                status=_status(value, code, status.get("failed") is True) or "unknown",
                model_path=flag_value(status.get("args"), _MODEL_FLAGS),
                exit_code=code,
                source=item.get("source") if isinstance(item.get("source"), str) else None,
                aliases=tuple(a for a in item.get("aliases") or () if isinstance(a, str)),
            )
        )
    return tuple(out)


def parse_router_event(data: Any) -> RouterEvent | None:
    """One decoded event of GET /models/sse → RouterEvent; None for data that is not a model event
    (never raises: a stream may carry anything)."""
    if not isinstance(data, dict) or not isinstance(data.get("model"), str):
        return None
    inner = _object(data.get("data"))
    code = _exit_code(inner.get("exit_code"))
    progress = _object(inner.get("progress"))
    value = progress.get("value")
    fraction = (
        float(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        else None
    )
    event, status, stage = data.get("event"), inner.get("status"), progress.get("current")
    return RouterEvent(
        model=data["model"],
        event=event if isinstance(event, str) else "",
        status=_status(status if isinstance(status, str) else None, code),
        progress=None if fraction is None else min(1.0, max(0.0, fraction)),
        stage=stage if isinstance(stage, str) else None,
        exit_code=code,
    )


def router_events(events: Iterable[SseEvent]) -> Iterator[RouterEvent]:
    """The model events of a router's event stream; what is not one (a malformed line, data of
    another shape) is skipped: the load's verdict comes from GET /models, the stream only adds progress."""
    for event in events:
        if isinstance(event, Frame) and (parsed := parse_router_event(event.data)) is not None:
            yield parsed


def parse_error_body(status_code: int, body: str) -> str:
    """The message of a refused POST /models/load|unload (`{"error": {"message": …}}`), else the
    start of the body."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict) and isinstance(err.get("message"), str) and err["message"]:
        return f"HTTP {status_code}: {err['message']}"
    return f"HTTP {status_code}: {body.strip()[:200]!r}"
