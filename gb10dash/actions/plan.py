"""Plans and steps: what runs, where, and why — pure data, shown before anything runs.

A step either runs a remote argv (quoted with shlex.join by the transport, never a shell
string), or is one of the executor's built-in checks (wait for health, compare the served
model). A step may carry `undo` steps: when a later step fails, the executor runs the undo
steps of every completed step, newest first.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from enum import StrEnum


class StepKind(StrEnum):
    RUN = "run"  # run argv on the host; fails on a non-zero exit
    WAIT_HEALTHY = "wait_healthy"  # poll /health until ok (loading shows progress) or timeout
    EXPECT_MODEL = "expect_model"  # /v1/models must report `expect` as the served GGUF file name
    CHECK_FLAGS = "check_flags"  # run argv (a llama-server --help); every flag of `expect` (an ExecStart) must be in it
    CHECK_ARCH = (
        "check_arch"  # run argv (grep of the new CMakeCache.txt); it must record the arch `expect` ("cpu": no CUDA)
    )
    ROUTER_LOAD = "router_load"  # router mode: POST /models/load `expect` (a model id), follow /models/sse
    ROUTER_UNLOAD = "router_unload"  # router mode: POST /models/unload `expect`, wait until it is unloaded
    ROUTER_EXPECT = "router_expect"  # router mode: GET /models must show `expect` loaded


ROUTER_STEP_KINDS = frozenset({StepKind.ROUTER_LOAD, StepKind.ROUTER_UNLOAD, StepKind.ROUTER_EXPECT})


@dataclass(frozen=True, slots=True)
class Step:
    title: str
    kind: StepKind = StepKind.RUN
    argv: tuple[str, ...] = ()
    why: str = ""
    timeout_s: float = 60.0
    stdin: str | None = None  # e.g. the contents `sudo -n tee FILE` writes
    expect: str | None = None  # EXPECT_MODEL: the GGUF file name
    undo: tuple[Step, ...] = ()
    tail_lines: int = 3  # output lines a failure shows (a failed build: its last 40)
    streamed: bool = False  # RUN: stream the output as it comes (stderr merged): `[ NN%]` → progress

    def command_line(self) -> str:
        """The command as the operator would type it (for display and the audit log)."""
        if self.kind is StepKind.RUN:
            return shlex.join(self.argv)
        if self.kind is StepKind.WAIT_HEALTHY:
            return f"wait for /health ok (up to {self.timeout_s:g} s)"
        if self.kind is StepKind.CHECK_ARCH:
            return f"{shlex.join(self.argv)}: the build records arch {self.expect}"
        if self.kind is StepKind.CHECK_FLAGS:
            return f"{shlex.join(self.argv)}: accepts every flag of the unit's ExecStart"
        if self.kind in ROUTER_STEP_KINDS:
            body = json.dumps({"model": self.expect}, ensure_ascii=False)
            return {
                StepKind.ROUTER_LOAD: f"POST /models/load {body}, progress from /models/sse (up to "
                f"{self.timeout_s:g} s)",
                StepKind.ROUTER_UNLOAD: f"POST /models/unload {body}",
            }.get(self.kind, f"GET /models shows {body} loaded")
        return f"check /v1/models serves {self.expect}"

    def to_dict(self) -> dict[str, object]:
        """Everything needed to run the step again elsewhere (a recovery), stdin included."""
        data: dict[str, object] = {
            "title": self.title,
            "kind": self.kind.value,
            "argv": list(self.argv),
            "timeout_s": self.timeout_s,
        }
        for name in ("why", "stdin", "expect"):
            if getattr(self, name):
                data[name] = getattr(self, name)
        if self.undo:
            data["undo"] = [undo.to_dict() for undo in self.undo]
        return data

    @classmethod
    def from_dict(cls, data: object) -> Step:
        """The step to_dict described; ValueError naming what is wrong with it."""
        if not isinstance(data, dict):
            raise ValueError(f"a step must be an object, not {type(data).__name__}")
        title, argv = data.get("title"), data.get("argv", [])
        if not isinstance(title, str) or not title:
            raise ValueError("a step has no title")
        if not isinstance(argv, list) or not all(isinstance(word, str) for word in argv):
            raise ValueError(f"step {title!r}: argv must be a list of strings")
        try:
            kind = StepKind(data.get("kind", "run"))
        except ValueError:
            raise ValueError(f"step {title!r}: unknown kind {data.get('kind')!r}") from None
        if kind is StepKind.RUN and not argv:
            raise ValueError(f"step {title!r}: a command step needs an argv")
        timeout = data.get("timeout_s", 60.0)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 86400:
            raise ValueError(f"step {title!r}: timeout_s must be a number of seconds, not {timeout!r}")
        texts = {name: data.get(name) for name in ("why", "stdin", "expect")}
        for name, value in texts.items():
            if value is not None and not isinstance(value, str):
                raise ValueError(f"step {title!r}: {name} must be text")
        undo = data.get("undo", [])
        if not isinstance(undo, list):
            raise ValueError(f"step {title!r}: undo must be a list")
        return cls(
            title,
            kind,
            tuple(argv),
            why=texts["why"] or "",
            timeout_s=float(timeout),
            stdin=texts["stdin"],
            expect=texts["expect"],
            undo=tuple(cls.from_dict(u) for u in undo),
        )


@dataclass(frozen=True, slots=True)
class Plan:
    action: str
    host: str
    steps: tuple[Step, ...]
    summary: str = ""
    notes: tuple[str, ...] = field(default=())  # warnings worth reading before confirming
    recovers: str | None = None  # a recovery: the id of the interrupted plan it undoes

    def describe(self) -> list[str]:
        lines = [f"{self.action} on {self.host}: {self.summary}".rstrip(": ")]
        lines += [f"  ! {note}" for note in self.notes]
        for number, step in enumerate(self.steps, 1):
            lines.append(f"  {number}. {step.title}: {step.command_line()}")
            if step.why:
                lines.append(f"     ({step.why})")
        return lines
