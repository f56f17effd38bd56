"""Runs the workload against one llama-server: a warm-up, then k streamed /completion requests.

Every request is `cache_prompt: false` (the whole prompt is processed each time),
`temperature: 0` with a fixed seed, `n_predict: M` and `ignore_eos: true` (so exactly M
tokens are generated; checked against `timings.predicted_n`). Prompt and generation tok/s come
from the server's own `timings`; TTFT is measured here, from sending the request to the first
streamed token. Each request has a deadline; cancelling the task closes the stream, which makes
the server drop the request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from gb10dash.bench.errors import BenchError
from gb10dash.bench.stats import Comparison, Summary, compare, summarize
from gb10dash.bench.workload import Prompt, Workload, WorkloadError, build_prompt
from gb10dash.collectors.llama import HealthState, ModelInfo, model_file_name
from gb10dash.collectors.llama_client import LlamaClient
from gb10dash.config import HostConfig
from gb10dash.transport.http import http_client, read_capped

WARMUP_TOKENS = 8
MAX_LINE_CHARS = 1024 * 1024
ERROR_BODY_CHARS = 4096


@dataclass(frozen=True, slots=True)
class Sample:
    """One request: the server's timings and the client's time to first token."""

    prompt_n: int
    prompt_ms: float
    prompt_per_second: float
    predicted_n: int
    predicted_ms: float
    predicted_per_second: float
    cache_n: int
    ttft_s: float | None
    total_s: float
    stop_type: str | None = None
    ignore_eos: bool | None = None  # as echoed by the server in generation_settings

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class Progress:
    host: str
    phase: str  # "prepare", "warmup", "rep"
    index: int = 0  # 1-based repetition
    total: int = 0
    sample: Sample | None = None
    message: str = ""


@dataclass
class BenchResult:
    host: str
    base_url: str
    model: str  # file name of the model id (what the dashboard shows)
    model_id: str  # the id from /v1/models
    build: str | None  # /props build_info
    workload: Workload
    prompt_tokens: int  # the prompt's length as the server's /tokenize counts it
    baseline_gen_tps: float | None
    baseline_prompt_tps: float | None
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    warmup: Sample | None = None
    samples: list[Sample] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return len(self.samples) < self.workload.repeat

    @property
    def gen(self) -> Comparison:
        return compare((s.predicted_per_second for s in self.samples), self.baseline_gen_tps)

    @property
    def prompt(self) -> Comparison:
        return compare((s.prompt_per_second for s in self.samples), self.baseline_prompt_tps)

    @property
    def ttft(self) -> Summary | None:
        return summarize(s.ttft_s for s in self.samples if s.ttft_s is not None)

    @property
    def regression(self) -> bool:
        return self.gen.regression or self.prompt.regression

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


ProgressCallback = Callable[[Progress], Any]


class BenchRun:
    """One host's benchmark; `result` holds what was measured so far, also after a cancel."""

    def __init__(
        self,
        host: HostConfig,
        api: LlamaClient,
        workload: Workload,
        *,
        request_timeout_s: float = 300.0,
        warmup: bool = True,
        on_progress: ProgressCallback | None = None,
    ):
        self.host, self.api, self.workload = host, api, workload
        self.request_timeout_s = request_timeout_s
        self.do_warmup = warmup
        self.on_progress = on_progress or (lambda progress: None)
        self.result: BenchResult | None = None

    async def run(self) -> BenchResult:
        model, build, n_ctx = await self._identify()
        needed = self.workload.prompt_tokens + self.workload.gen_tokens
        if n_ctx is not None and needed > n_ctx:
            raise BenchError(
                f"prompt + generated tokens ({needed}) exceed the "
                f"server's context per slot ({n_ctx}); use --prompt-tokens/--gen-tokens"
            )
        timeout = httpx.Timeout(self.request_timeout_s, connect=5.0)
        async with http_client(self.api.base_url, timeout=timeout, headers=self.api.headers) as http:
            self.on_progress(Progress(self.host.name, "prepare", message="sizing the prompt with /tokenize"))
            try:
                prompt = await build_prompt(http, self.workload.prompt_tokens, model=model.id)
            except WorkloadError as exc:
                raise BenchError(str(exc)) from None
            result = self.result = BenchResult(
                host=self.host.name,
                base_url=self.api.base_url,
                model=model_file_name(model.id),
                model_id=model.id,
                build=build,
                workload=self.workload,
                prompt_tokens=prompt.n_tokens,
                baseline_gen_tps=self.host.baseline_gen_tps,
                baseline_prompt_tps=self.host.baseline_prompt_tps,
            )
            if self.do_warmup:
                self.on_progress(Progress(self.host.name, "warmup", message="warm-up request"))
                warmup_tokens = min(WARMUP_TOKENS, self.workload.gen_tokens)
                result.warmup = await self._request(http, prompt, model.id, warmup_tokens)
            total = self.workload.repeat
            for index in range(1, total + 1):
                await self._check_idle()
                sample = await self._request(http, prompt, model.id, self.workload.gen_tokens)
                result.samples.append(sample)
                self._check_sample(sample, prompt)
                self.on_progress(Progress(self.host.name, "rep", index, total, sample))
            result.finished_at = time.time()
            return result

    async def _identify(self) -> tuple[ModelInfo, str | None, int | None]:
        health = await self.api.health()
        if health.state is HealthState.DOWN:
            raise BenchError(f"llama-server is down: {health.message}")
        if health.state is HealthState.LOADING:
            raise BenchError(f"llama-server at {self.api.base_url} is still loading the model")
        if health.state is not HealthState.OK:
            raise BenchError(
                f"llama-server at {self.api.base_url} is not healthy: {health.message or health.state.value}"
            )
        try:
            models = await self.api.models()
            props = await self.api.props()
        except ValueError as exc:
            raise BenchError(str(exc)) from None
        loaded = [m for m in models if m.status in (None, "loaded")]
        if not loaded:
            raise BenchError("/v1/models lists no loaded model (router mode: load one first)")
        return loaded[0], props.build_info, props.n_ctx

    async def _check_idle(self) -> None:
        """Warn when another request is running: the figures would be shared with it."""
        try:
            slots = await self.api.slots()
        except ValueError:
            return
        busy = [s.id for s in slots or () if s.is_processing]
        if busy and self.result is not None:
            self.result.warn(
                f"slot(s) {', '.join(map(str, busy))} busy with other requests during the run: figures may be low"
            )

    def _check_sample(self, sample: Sample, prompt: Prompt) -> None:
        assert self.result is not None
        wanted = self.workload.gen_tokens
        if sample.predicted_n != wanted:
            why = "the server ignores ignore_eos?" if sample.ignore_eos is not True else "stopped early"
            self.result.warn(f"generated {sample.predicted_n} tokens instead of {wanted} ({why})")
        if sample.prompt_n + sample.cache_n != prompt.n_tokens or sample.cache_n:
            self.result.warn(
                f"server processed {sample.prompt_n} prompt tokens ({sample.cache_n} from "
                f"cache) for a prompt of {prompt.n_tokens}"
            )

    async def _request(self, http: httpx.AsyncClient, prompt: Prompt, model_id: str, n_predict: int) -> Sample:
        body = {
            "prompt": prompt.text,
            "n_predict": n_predict,
            "stream": True,
            "cache_prompt": False,
            "temperature": 0.0,
            "seed": self.workload.seed,
            "ignore_eos": True,
            "model": model_id,
        }
        try:
            async with asyncio.timeout(self.request_timeout_s):
                return await stream_completion(http, body, max_chunks=2 * n_predict + 1000)
        except TimeoutError:
            raise BenchError(f"request timed out after {self.request_timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise BenchError(_http_reason(exc)) from None


async def stream_completion(http: httpx.AsyncClient, body: dict[str, Any], *, max_chunks: int) -> Sample:
    """POST /completion with stream: true; TTFT at the first token chunk, timings from the last."""
    started = time.perf_counter()
    ttft: float | None = None
    async with http.stream("POST", "/completion", json=body) as response:
        if response.status_code != 200:
            raise BenchError(await _error_text(response))
        chunks = 0
        async for line in response.aiter_lines():
            chunks += 1
            if chunks > max_chunks or len(line) > MAX_LINE_CHARS:
                raise BenchError("/completion: the stream is longer than expected")
            payload = _sse_payload(line)
            if payload is None:
                continue
            if not payload.get("stop"):
                if ttft is None:
                    ttft = time.perf_counter() - started
                continue
            return sample_from_final(payload, ttft, time.perf_counter() - started)
    raise BenchError("/completion: the stream ended without a final chunk (stop: true)")


def _sse_payload(line: str) -> dict[str, Any] | None:
    if line.startswith("error:"):
        raise BenchError(f"/completion stream error: {line[6:].strip()[:300]}")
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if data == "[DONE]":
        return None
    try:
        payload = json.loads(data)
    except ValueError:
        raise BenchError(f"/completion: malformed stream line {data[:120]!r}") from None
    if not isinstance(payload, dict):
        raise BenchError(f"/completion: unexpected stream chunk {data[:120]!r}")
    if "error" in payload:
        raise BenchError(f"/completion stream error: {_error_message(payload) or data[:300]}")
    return payload


def sample_from_final(payload: dict[str, Any], ttft_s: float | None, total_s: float) -> Sample:
    """The final chunk (or a non-streamed answer) with `timings` → Sample."""
    timings = payload.get("timings")
    if not isinstance(timings, dict):
        raise BenchError("/completion: the final chunk has no 'timings'")
    try:
        settings = payload.get("generation_settings")
        ignore_eos = settings.get("ignore_eos") if isinstance(settings, dict) else None
        return Sample(
            prompt_n=int(timings["prompt_n"]),
            prompt_ms=float(timings["prompt_ms"]),
            prompt_per_second=float(timings["prompt_per_second"]),
            predicted_n=int(timings["predicted_n"]),
            predicted_ms=float(timings["predicted_ms"]),
            predicted_per_second=float(timings["predicted_per_second"]),
            cache_n=int(timings.get("cache_n") or 0),
            ttft_s=ttft_s,
            total_s=total_s,
            stop_type=payload.get("stop_type") if isinstance(payload.get("stop_type"), str) else None,
            ignore_eos=ignore_eos if isinstance(ignore_eos, bool) else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BenchError(f"/completion: incomplete timings ({exc!r})") from None


async def _error_text(response: httpx.Response) -> str:
    text = await read_capped(response, ERROR_BODY_CHARS)
    try:
        message = _error_message(json.loads(text))
    except ValueError:
        message = None
    if response.status_code == 503:
        return f"llama-server is not ready (HTTP 503: {message or 'unavailable'})"
    return f"/completion answered HTTP {response.status_code}: {message or text[:200].strip()}"


def _error_message(payload: Any) -> str | None:
    error = payload.get("error") if isinstance(payload, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    return error if isinstance(error, str) else None


def _http_reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "cannot connect to llama-server (connection refused or host unreachable)"
    if isinstance(exc, httpx.TimeoutException):
        return "llama-server did not answer in time"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"llama-server closed the connection ({exc})"
    return f"{type(exc).__name__}: {exc}"
