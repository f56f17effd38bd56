"""Model swap on a router-mode llama-server (`--models-dir`, no `-m`): through its API, not the unit.

The plan unloads the loaded model(s) (`POST /models/unload`), loads the new one
(`POST /models/load`, progress from `GET /models/sse`, bounded by the load timeout) and checks
`GET /models` shows it loaded. Rollback: a failed or timed-out load is stopped and the previous
model is loaded again. Ids travel in JSON bodies only: no shell, no unit file is touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from gb10dash.actions.models import ModelCandidate, list_models
from gb10dash.actions.outcome import Progress, StepFailed, StepStatus
from gb10dash.actions.plan import Plan, Step, StepKind
from gb10dash.collectors.llama_client import LlamaClient
from gb10dash.collectors.router import (
    FAILED,
    LOADED,
    LOADING,
    SLEEPING,
    UNLOADED,
    RouterEvent,
    RouterModel,
    flag_value,
)
from gb10dash.collectors.router_client import RouterClient, RouterError
from gb10dash.config import HostConfig, read_api_key
from gb10dash.transport.base import Transport, TransportError

if TYPE_CHECKING:
    from gb10dash.actions.executor import Executor

ClientFactory = Callable[[], Awaitable[LlamaClient]]
UNLOAD_TIMEOUT_S = 60.0
SSE_CONNECT_GRACE_S = 1.0  # let the event stream subscribe before the load starts (polling covers a miss)
_MODEL_FLAGS = ("-m", "--model")
_ROUTER_FLAGS = ("--models-dir", "--models-preset")


@dataclass(frozen=True, slots=True)
class RouterCandidate(ModelCandidate):
    """A model the router can load: `model_id` is what /models/load takes (the file name without
    .gguf, or its directory's name); size and header come from the share when it has the file."""

    model_id: str = ""
    status: str = UNLOADED

    @property
    def file_name(self) -> str:  # what the router reports once it serves this model
        return self.model_id

    def describe(self) -> str:
        known = ModelCandidate.describe(self) if self.total_bytes else "size ?"
        return f"{self.status} · {known}" if self.status != UNLOADED else known


@dataclass(frozen=True, slots=True)
class RouterSite:
    """A host whose llama-server is a router: what it lists now and where it loads from."""

    models: tuple[RouterModel, ...]
    models_dir: str | None  # from the unit's ExecStart, when it could be read


def is_router_exec_start(argv: Sequence[str]) -> bool:
    """`--models-dir` (or `--models-preset`) and no `-m`: llama-server runs as a router."""
    words = [w.split("=", 1)[0] for w in argv[1:]]
    return any(w in _ROUTER_FLAGS for w in words) and not any(w in _MODEL_FLAGS for w in words)


async def api_client_for(transport: Transport, host: HostConfig) -> LlamaClient:
    """A client of the host's API (through the transport's port-forward when api_via_ssh)."""
    base = host.api_url
    if host.api_via_ssh:
        parts = urlsplit(base)
        port = await transport.forward_port(parts.hostname or "127.0.0.1", parts.port or 80)
        base = f"http://127.0.0.1:{port}"
    return LlamaClient(base, api_key=read_api_key(host))


@contextlib.asynccontextmanager
async def _router(client: ClientFactory | None, transport: Transport, host: HostConfig):
    own = None if client is not None else await api_client_for(transport, host)
    llama = own if own is not None else await client()  # type: ignore[misc]
    try:
        async with RouterClient(llama.base_url, headers=llama.headers) as router:
            yield llama, router
    finally:
        if own is not None:
            await own.aclose()


async def detect_router(
    transport: Transport, host: HostConfig, exec_start: Sequence[str] | None, client: ClientFactory | None = None
) -> RouterSite | None:
    """The router's listing when the host runs one, else None (swap through the unit).

    The unit's ExecStart decides when it is known (`-m` → not a router); when it is not (no
    unit, unreadable) the API's /props decides (`role: router`). A router unit whose API does
    not answer is a ValueError: it can only swap through that API.
    """
    if exec_start and not is_router_exec_start(exec_start):
        return None
    async with _router(client, transport, host) as (llama, router):
        if not exec_start:
            try:
                if not (await llama.props()).is_router:
                    return None
            except (ValueError, OSError):
                return None
        try:
            models = await router.models()
        except RouterError as exc:
            raise ValueError(f"{host.name} runs llama-server as a router, but its API does not answer: {exc}") from None
    return RouterSite(models, flag_value(tuple(exec_start or ()), ("--models-dir",)))


async def router_candidates(transport: Transport, host: HostConfig, site: RouterSite) -> list[RouterCandidate]:
    """The router's own listing (what it can load), each with size and GGUF header from the share
    listing of its models dir when that has the same file."""
    on_share: dict[str, ModelCandidate] = {}
    try:
        for candidate in await list_models(transport, site.models_dir or host.model_share):
            on_share[candidate.path] = candidate
    except (TransportError, ValueError, OSError):
        pass  # sizes and headers unknown; the router's listing alone still works
    out = []
    for model in site.models:
        known = on_share.get(model.model_path or "")
        path = model.model_path or f"router:{model.id}"
        base = known or ModelCandidate(path, model.id, (path,), 0)
        reason = base.reason
        if model.status == FAILED:
            reason = f"its last load failed (exit status {model.exit_code})" + (f"; {reason}" if reason else "")
        out.append(
            RouterCandidate(
                path=base.path,
                display_name=model.id,
                parts=base.parts,
                total_bytes=base.total_bytes,
                enabled=base.enabled and model.status != FAILED,
                reason=reason if not base.enabled or model.status == FAILED else None,
                header=base.header,
                parameter_count=base.parameter_count,
                model_id=model.id,
                status=model.status,
            )
        )
    return sorted(out, key=lambda c: c.display_name.lower())


def _router_id(site: RouterSite, candidate: ModelCandidate) -> str:
    if isinstance(candidate, RouterCandidate) and candidate.model_id:
        return candidate.model_id
    by_path = [m.id for m in site.models if m.model_path in (candidate.path, *candidate.parts)]
    if by_path:
        return by_path[0]
    stem = posixpath.basename(candidate.path).removesuffix(".gguf")
    if any(m.id == stem for m in site.models):
        return stem
    known = ", ".join(m.id for m in site.models) or "none"
    raise ValueError(f"the router cannot load {candidate.path} (it offers: {known})")


def load_step(
    model_id: str, timeout_s: float, *, title: str | None = None, why: str = "", undo: tuple[Step, ...] = ()
) -> Step:
    return Step(
        title or f"load {model_id}", kind=StepKind.ROUTER_LOAD, expect=model_id, timeout_s=timeout_s, why=why, undo=undo
    )


def unload_step(model_id: str, *, title: str | None = None, why: str = "", undo: tuple[Step, ...] = ()) -> Step:
    return Step(
        title or f"unload {model_id}",
        kind=StepKind.ROUTER_UNLOAD,
        expect=model_id,
        timeout_s=UNLOAD_TIMEOUT_S,
        why=why,
        undo=undo,
    )


def plan_router_swap(
    host: HostConfig, site: RouterSite, candidate: ModelCandidate, *, timeout_s: float, allow_disabled: bool = False
) -> Plan:
    """Unload what is loaded (undo: load it again), load the new model, check it is loaded."""
    if not candidate.enabled and not allow_disabled:
        raise ValueError(f"{candidate.display_name} cannot be swapped in: {candidate.reason}")
    new = _router_id(site, candidate)
    running = [m.id for m in site.models if m.id != new and m.status in (LOADED, LOADING, SLEEPING)]
    notes = []
    if not candidate.enabled:
        notes.append(f"this model is not offered: {candidate.reason}; expect the load to fail and roll back")
    if not running:
        notes.append("no model is loaded now: a failed load leaves none loaded")
    steps = [
        unload_step(
            old,
            why="frees its memory before the new model loads",
            undo=(load_step(old, timeout_s, title=f"load {old} again"),),
        )
        for old in running
    ]
    if any(m.id == new and m.is_loaded for m in site.models):
        notes.append(f"{new} is loaded already")
    else:
        steps.append(
            load_step(
                new,
                timeout_s,
                why="the router starts a llama-server child for it",
                undo=(unload_step(new, title=f"unload {new} again"),),
            )
        )
    steps.append(
        Step(
            f"check the router serves {new}",
            kind=StepKind.ROUTER_EXPECT,
            expect=new,
            timeout_s=30.0,
            why="GET /models must list it loaded",
        )
    )
    return Plan(
        action="swap",
        host=host.name,
        steps=tuple(steps),
        notes=tuple(notes),
        summary=f"router: serve {new} ({candidate.describe()})"
        + (f" instead of {', '.join(running)}" if running else ""),
    )


# -- running the steps (called by the executor for StepKind.ROUTER_*) --------------------------------


async def run_router_step(executor: Executor, index: int, total: int, step: Step, began: float) -> tuple[None, str]:

    llama = await executor.client()
    model_id = step.expect or ""
    try:
        async with RouterClient(llama.base_url, headers=llama.headers) as router:
            if step.kind is StepKind.ROUTER_UNLOAD:
                return None, await _unload(executor, router, index, total, step, began)
            if step.kind is StepKind.ROUTER_LOAD:
                return None, await _load(executor, router, index, total, step, began)
            model = _find(await router.models(), model_id)
            if not model.is_loaded:
                raise StepFailed(f"GET /models shows {model_id} {model.status}, expected loaded")
            return None, f"{model_id} is {model.status}"
    except RouterError as exc:
        raise StepFailed(str(exc)) from None


def _find(models: Sequence[RouterModel], model_id: str) -> RouterModel:

    for model in models:
        if model.id == model_id:
            return model
    raise StepFailed(f"the router no longer lists {model_id}")


def _report(executor: Executor, index: int, total: int, step: Step, began: float, detail: str) -> None:

    elapsed = time.monotonic() - began
    executor.on_progress(Progress(index, total, step.title, StepStatus.PROGRESS, f"{detail}, {elapsed:.0f} s", elapsed))


async def _unload(executor: Executor, router: RouterClient, index: int, total: int, step: Step, began: float) -> str:

    model_id = step.expect or ""
    try:
        await router.unload(model_id)
    except RouterError as exc:
        if "not running" not in str(exc):
            raise
    deadline = began + step.timeout_s
    while True:
        model = _find(await router.models(), model_id)
        if model.status in (UNLOADED, FAILED):
            return f"{model_id} unloaded"
        if time.monotonic() >= deadline:
            raise StepFailed(f"{model_id} still {model.status} {step.timeout_s:g} s after the unload")
        _report(executor, index, total, step, began, f"unloading ({model.status})")
        await asyncio.sleep(executor.poll_s)


async def _load(executor: Executor, router: RouterClient, index: int, total: int, step: Step, began: float) -> str:
    """POST /models/load, then follow /models/sse (progress) and poll /models (the verdict, in case
    an event is missed) until loaded, failed or the step's timeout; a timed-out load is stopped."""

    model_id, deadline = step.expect or "", began + step.timeout_s
    events: asyncio.Queue[RouterEvent] = asyncio.Queue(maxsize=1000)
    follower = asyncio.create_task(_follow(router, model_id, events))
    try:
        await asyncio.sleep(SSE_CONNECT_GRACE_S)
        try:
            await router.load(model_id)
        except RouterError as exc:
            if "already running" not in str(exc):
                raise
        shown, next_poll = "loading", 0.0
        while (now := time.monotonic()) < deadline:
            if now >= next_poll:
                model = _find(await router.models(), model_id)
                next_poll = time.monotonic() + max(executor.poll_s, 0.5)
                verdict = _verdict(model_id, model.status, model.exit_code)
                if verdict is not None:
                    return verdict
            try:
                async with asyncio.timeout(min(1.0, max(0.05, deadline - time.monotonic()))):
                    event = await events.get()
            except TimeoutError:
                event = None
            if event is not None:
                verdict = _verdict(model_id, event.status, event.exit_code)
                if verdict is not None:
                    return verdict
                shown = event.describe()
            _report(executor, index, total, step, began, shown)
        with contextlib.suppress(RouterError):
            await router.unload(model_id)  # a load still running is killed, not left behind
        raise StepFailed(f"{model_id} did not load within {step.timeout_s:g} s; stopped it")
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError, RouterError):
            await follower


def _verdict(model_id: str, status: str | None, exit_code: int | None) -> str | None:
    """'…loaded' when done; StepFailed when the load ended without it; None while it goes on."""

    if status in (LOADED, SLEEPING):
        return f"{model_id} loaded"
    if status == FAILED:
        raise StepFailed(
            f"{model_id} failed to load: its llama-server exited with status {exit_code} "
            "(the service's journal has the child's log lines)"
        )
    if status == UNLOADED:
        raise StepFailed(f"{model_id} was unloaded before it finished loading")
    return None


async def _follow(router: RouterClient, model_id: str, events: asyncio.Queue[RouterEvent]) -> None:
    """Events of this model into the queue (the oldest dropped when it is full); the stream's end
    or an error just ends the follower — the polling carries on without progress figures."""
    with contextlib.suppress(RouterError):
        async for event in router.events():
            if event.model != model_id:
                continue
            if events.full():
                events.get_nowait()
            events.put_nowait(event)
