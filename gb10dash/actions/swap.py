"""Model swap through the unit: a new ExecStart (only -m, and -c if asked, changed) in a drop-in.

The plan writes `<FragmentPath>.d/gb10dash-model.conf` with `sudo -n tee`, reloads systemd,
restarts, waits for health and checks /v1/models serves the new file. Undo restores the
previous drop-in exactly (or removes ours when there was none), reloads, restarts and waits.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from gb10dash.actions.fit import FitResult
from gb10dash.actions.models import ModelCandidate
from gb10dash.actions.plan import Plan, Step, StepKind
from gb10dash.actions.systemd_quote import exec_line, literal, service_exec_start
from gb10dash.collectors.systemd import UnitStatus
from gb10dash.config import HostConfig
from gb10dash.transport.base import Transport

DROPIN_NAME = "gb10dash-model.conf"
DEFAULT_LOAD_TIMEOUT_S = 300.0  # loading from NFS takes 1–2 min on a GB10
MODEL_FLAGS, CTX_FLAGS = ("-m", "--model"), ("-c", "--ctx-size")
_OTHER_SOURCES = ("--models-dir", "-hf", "--hf-repo", "-hfr", "-mu", "--model-url", "-dr", "--docker-repo")
_VENDOR_DIRS = ("/usr/lib/systemd/system/", "/lib/systemd/system/")


def _replace_flag(argv: list[str], flags: Sequence[str], value: str) -> bool:
    """Set every `FLAG X` / `--long=X` of `flags` to value; True when there was one."""
    found, i = False, 1
    while i < len(argv):
        word = argv[i]
        if word in flags:
            if i + 1 >= len(argv):
                raise ValueError(f"{word} has no value in the ExecStart")
            argv[i + 1], found = value, True
            i += 2
            continue
        for flag in flags:
            if flag.startswith("--") and word.startswith(flag + "="):
                argv[i], found = f"{flag}={value}", True
        i += 1
    return found


def rewrite_exec_start(argv: Sequence[str], model_path: str, ctx: int | None) -> tuple[str, ...]:
    """The ExecStart argv with only the -m value (and the -c value when ctx is given) replaced.

    argv is in systemd's stored form (as `systemctl show` prints it); the model path is a
    literal file name, entered with its `$` doubled (see systemd_quote). A missing -c is added
    when ctx is given. No -m → ValueError: router mode (or -hf) swaps through /models/load.
    """
    if not model_path.startswith("/"):
        raise ValueError(f"the model path must be absolute, not {model_path!r}")
    if ctx is not None and (isinstance(ctx, bool) or ctx < 0):
        raise ValueError(f"ctx must be 0 (the model's own) or a positive number of tokens, not {ctx!r}")
    words = list(argv)
    if not _replace_flag(words, MODEL_FLAGS, literal(model_path)):
        other = next((w.split("=")[0] for w in words[1:] if w.split("=")[0] in _OTHER_SOURCES), None)
        detail = f" (the unit uses {other})" if other else ""
        raise ValueError(f"router mode or no -m: swap through /models/load{detail}")
    if ctx is not None and not _replace_flag(words, CTX_FLAGS, str(ctx)):
        words += ["-c", str(ctx)]
    return tuple(words)


def dropin_text(argv: Sequence[str]) -> str:
    """A drop-in that replaces the unit's ExecStart with argv (stored form, quoted for systemd)."""
    return f"[Service]\nExecStart=\nExecStart={exec_line(argv)}\n"


def dropin_dir(unit: UnitStatus) -> str:
    """`<FragmentPath>.d` (a vendor unit under /usr/lib gets its drop-in under /etc)."""
    fragment = unit.fragment_path
    if not fragment or not fragment.startswith("/"):
        raise ValueError(f"the unit has no FragmentPath ({fragment!r}): is it loaded?")
    for vendor in _VENDOR_DIRS:
        if fragment.startswith(vendor):
            fragment = "/etc/systemd/system/" + fragment[len(vendor) :]
    return fragment + ".d"


def dropin_path(unit: UnitStatus) -> str:
    return posixpath.join(dropin_dir(unit), DROPIN_NAME)


def restore_dropin_step(path: str, previous: str | None) -> Step:
    """Put the drop-in back as it was: its exact text, or no file when there was none."""
    if previous is not None:
        return Step(
            "restore the previous drop-in",
            argv=("sudo", "-n", "tee", path),
            stdin=previous,
            why="byte for byte as it was",
        )
    return Step("remove the new drop-in", argv=("sudo", "-n", "rm", "-f", path), why="there was none before")


async def read_dropin(transport: Transport, path: str, *, timeout: float = 10.0) -> str | None:
    """The drop-in's current text, None when there is none; ValueError when it is not UTF-8
    (it could not be restored byte for byte)."""
    try:
        data = await transport.read_file(path, timeout=timeout, max_bytes=1024 * 1024)
    except FileNotFoundError:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text: it could not be restored exactly, refusing") from None


async def current_exec_start(transport: Transport, unit: UnitStatus, *, timeout: float = 10.0) -> tuple[str, ...]:
    """The ExecStart argv read from the unit files themselves (exact even with spaces in paths,
    which `systemctl show` prints joined by spaces); `unit.exec_start` when they disagree with it
    or cannot be read or parsed."""
    texts = []
    try:
        for path in (unit.fragment_path, *unit.drop_in_paths):
            if path:
                texts.append((await transport.read_file(path, timeout=timeout)).decode("utf-8"))
        parsed = service_exec_start(texts)
    except (OSError, ValueError):
        return unit.exec_start
    if parsed is None or " ".join(parsed).split() != list(unit.exec_start):
        return unit.exec_start
    return parsed


def _notes(
    unit: UnitStatus,
    argv: Sequence[str],
    candidate: ModelCandidate,
    fit: FitResult | None,
    new_argv: Sequence[str],
    ctx: int | None,
) -> list[str]:
    notes = []
    if not candidate.enabled:
        notes.append(f"this model is not offered: {candidate.reason}; expect the load to fail and roll back")
    if fit is not None and fit.warning:
        notes.append(fit.warning)
    if tuple(argv) == tuple(new_argv):
        notes.append("the unit already serves this file with this ctx: the swap only restarts it")
    later = sorted(p for p in unit.drop_in_paths if posixpath.basename(p) > DROPIN_NAME)
    if later:
        notes.append(f"{', '.join(later)} sort(s) after {DROPIN_NAME}: an ExecStart= there would win")
    if any(w in ("-a", "--alias") or w.startswith("--alias=") for w in argv):
        notes.append("the unit sets --alias: /v1/models reports the alias, not the file name")
    if (
        ctx is not None
        and candidate.header
        and candidate.header.context_length
        and ctx > candidate.header.context_length
    ):
        notes.append(f"ctx {ctx} is above the model's trained context {candidate.header.context_length}")
    return notes


def plan_swap(
    host: HostConfig,
    unit: UnitStatus,
    candidate: ModelCandidate,
    *,
    ctx: int | None,
    previous_dropin: str | None,
    timeout_s: float = DEFAULT_LOAD_TIMEOUT_S,
    fit: FitResult | None = None,
    exec_start: Sequence[str] | None = None,
    allow_disabled: bool = False,
) -> Plan:
    """The swap plan. exec_start defaults to unit.exec_start (pass current_exec_start()'s);
    a disabled candidate is refused unless allow_disabled (then the plan carries a warning)."""
    if not candidate.enabled and not allow_disabled:
        raise ValueError(f"{candidate.display_name} cannot be swapped in: {candidate.reason}")
    argv = tuple(exec_start if exec_start is not None else unit.exec_start)
    if not argv:
        raise ValueError(f"{host.unit} has no ExecStart to derive the new one from")
    new_argv = rewrite_exec_start(argv, candidate.path, ctx)
    text = dropin_text(new_argv)
    directory, path = dropin_dir(unit), dropin_path(unit)
    reload = Step(
        "reload systemd",
        argv=("sudo", "-n", "systemctl", "daemon-reload"),
        why="systemd reads the changed drop-in",
        timeout_s=60.0,
    )
    restore = restore_dropin_step(path, previous_dropin)
    reset = Step(
        "clear the failed state",
        argv=("sudo", "-n", "systemctl", "reset-failed", host.unit),
        why="a model that fails at once hits systemd's start limit; a restart is refused until reset",
        timeout_s=30.0,
    )
    undo = (
        restore,
        reload,
        reset,
        Step(
            "restart with the previous model", argv=("sudo", "-n", "systemctl", "restart", host.unit), timeout_s=120.0
        ),
        Step("wait for the previous model", kind=StepKind.WAIT_HEALTHY, timeout_s=timeout_s),
    )
    steps = []
    if not any(posixpath.dirname(p) == directory for p in unit.drop_in_paths):
        steps.append(
            Step(
                "make the drop-in directory",
                argv=("sudo", "-n", "mkdir", "-p", directory),
                why="it may not exist yet",
                timeout_s=30.0,
            )
        )
    steps += [
        Step(
            "write the drop-in",
            argv=("sudo", "-n", "tee", path),
            stdin=text,
            undo=undo,
            timeout_s=30.0,
            why=f"ExecStart with -m {candidate.path}"
            + (f" -c {ctx}" if ctx is not None else "")
            + ("; the previous drop-in is kept for the rollback" if previous_dropin is not None else ""),
        ),
        reload,
        *([reset] if unit.is_failed or unit.is_restarting else []),
        Step(
            "restart the service",
            argv=("sudo", "-n", "systemctl", "restart", host.unit),
            timeout_s=120.0,
            why="stops the served model and starts llama-server with the new one",
        ),
        Step(
            "wait for the model to load",
            kind=StepKind.WAIT_HEALTHY,
            timeout_s=timeout_s,
            why="/health answers 503 while loading (1–2 min from NFS)",
        ),
        Step(
            "check the served model",
            kind=StepKind.EXPECT_MODEL,
            expect=candidate.file_name,
            why="/v1/models must report the new GGUF file name",
        ),
    ]
    described = candidate.describe()
    return Plan(
        action="swap",
        host=host.name,
        steps=tuple(steps),
        summary=f"serve {candidate.display_name} ({described})"
        + (f" with ctx {ctx}" if ctx else "")
        + (f"; {fit.message}" if fit is not None and not fit.warning else ""),
        notes=tuple(_notes(unit, argv, candidate, fit, new_argv, ctx)),
    )
