"""Which build the service runs: atomic switches, the previous build kept for a one-key revert,
and the rewritten-flags drop-in offered when a new build renamed a flag. Pure planning, plus the
reads (readlink, the saved drop-in) that prepare a revert or a rewrite.

On the host, beside the build directory `B` (a symlink to the live build):
- `B.previous` links to the build that ran before the last switch (what a revert goes back to);
- `B.previous-dropin.conf` exists only when the last switch also rewrote the ExecStart drop-in: it
  holds the drop-in the previous build ran with (or NO_DROPIN when there was none), so that a
  revert restores the flags the old binary takes.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from gb10dash.actions.plan import Plan, Step, StepKind
from gb10dash.actions.swap import (
    dropin_dir,
    dropin_path,
    dropin_text,
    read_dropin,
    restore_dropin_step,
)
from gb10dash.actions.watch_only import require_unit
from gb10dash.collectors import systemd
from gb10dash.config import HostConfig
from gb10dash.transport.base import Transport, TransportError

LOAD_TIMEOUT_S = 300.0
RESTART_TITLE = "restart the service"
NO_DROPIN = "# gb10dash: the unit had no gb10dash drop-in\n"


def previous_link(build_dir: str) -> str:
    return build_dir.rstrip("/") + ".previous"


def saved_dropin(build_dir: str) -> str:
    return build_dir.rstrip("/") + ".previous-dropin.conf"


def sibling(build_dir: str, name: str) -> str:
    parent = posixpath.dirname(build_dir.rstrip("/"))
    return posixpath.join(parent, name) if parent else name


def link_target(new_build_dir: str, build_dir: str) -> str:
    """What the build_dir symlink holds: the bare name when NEW is beside build_dir."""
    if posixpath.dirname(new_build_dir.rstrip("/")) == posixpath.dirname(build_dir.rstrip("/")):
        return posixpath.basename(new_build_dir.rstrip("/"))
    if posixpath.isabs(new_build_dir):
        return new_build_dir
    raise ValueError(f"{new_build_dir}: a relative new build dir must be beside {build_dir}")


def point(link: str, target: str, title: str, undo: tuple[Step, ...] = ()) -> tuple[Step, Step]:
    """Two steps that make `link` a symlink to target atomically: a temp link, then rename over."""
    tmp = link.rstrip("/") + ".switch-link"
    return (
        Step(f"{title}: make a temporary link", argv=("ln", "-sfn", target, tmp), why=f"{tmp} → {target}"),
        Step(
            title,
            argv=("mv", "-T", tmp, link),
            why="rename(2) over the old link: the path changes in one atomic step",
            undo=undo,
        ),
    )


def restart_steps(host: HostConfig, load_timeout_s: float) -> tuple[Step, Step]:
    return (
        Step(
            RESTART_TITLE,
            argv=("sudo", "-n", "systemctl", "restart", host.unit),
            why="the service starts the new llama-server",
            timeout_s=120.0,
        ),
        Step(
            "wait for the model to load",
            kind=StepKind.WAIT_HEALTHY,
            timeout_s=load_timeout_s,
            why="/health answers 503 while loading, 200 when ready",
        ),
    )


def remember_previous(build_dir: str, previous_target: str) -> tuple[Step, ...]:
    """After a healthy switch without a flag rewrite: B.previous → the old build, which ran with
    the drop-in now in place (so no saved drop-in)."""
    return (
        *point(previous_link(build_dir), previous_target, "remember the previous build for a revert"),
        Step(
            "forget an older saved drop-in",
            argv=("rm", "-f", "--", saved_dropin(build_dir)),
            why="the previous build ran with the ExecStart now in place",
        ),
    )


def _dropin_steps(
    dropin: str, directory: str, need_mkdir: bool, text: str | None, previous: str | None, title: str, why: str
) -> list[Step]:
    """Write (text) or remove (None) the drop-in, undone to `previous` exactly; then reload."""
    reload = Step(
        "reload systemd",
        argv=("sudo", "-n", "systemctl", "daemon-reload"),
        timeout_s=60.0,
        why="systemd reads the changed drop-in",
    )
    undo = (restore_dropin_step(dropin, previous), reload)
    steps = (
        [
            Step(
                "make the drop-in directory",
                argv=("sudo", "-n", "mkdir", "-p", directory),
                why="it may not exist yet",
                timeout_s=30.0,
            )
        ]
        if need_mkdir and text is not None
        else []
    )
    write = (
        Step(title, argv=("sudo", "-n", "tee", dropin), stdin=text, undo=undo, timeout_s=30.0, why=why)
        if text is not None
        else Step(title, argv=("sudo", "-n", "rm", "-f", dropin), undo=undo, timeout_s=30.0, why=why)
    )
    return [*steps, write, reload]


def plan_flag_rewrite(
    rebuild: Plan,
    failed_step: int,
    rewritten: Sequence[str],
    *,
    dropin: str,
    directory: str,
    need_mkdir: bool,
    previous_dropin: str | None,
    build_dir: str,
) -> Plan:
    """The rest of a rebuild whose flag check failed only on renamed flags: the same switch and
    restart, with the rewritten ExecStart written as the drop-in just before the restart. Undo
    restores the drop-in exactly and points back at the old build; the drop-in the old build ran
    with is saved beside the build dir for a later revert."""
    rest = [s for s in rebuild.steps[failed_step:] if s.title != "forget an older saved drop-in"]
    at = next((i for i, s in enumerate(rest) if s.title == RESTART_TITLE), None)
    if at is None:
        raise ValueError("the rebuild was build-only: nothing to switch; the rewritten ExecStart is in its message")
    save = Step(
        "save the drop-in the previous build runs with",
        argv=("tee", saved_dropin(build_dir)),
        stdin=previous_dropin if previous_dropin is not None else NO_DROPIN,
        why="a revert to the previous build restores it",
    )
    write = _dropin_steps(
        dropin,
        directory,
        need_mkdir,
        dropin_text(rewritten),
        previous_dropin,
        "write the rewritten ExecStart",
        "the new build's names for the renamed flags",
    )
    steps = (*rest[:at], save, *write, *rest[at:])
    return Plan(
        action="rebuild-switch",
        host=rebuild.host,
        steps=steps,
        summary="switch to the new build with the rewritten ExecStart",
        notes=(
            f"new ExecStart: {' '.join(rewritten)}",
            f"the drop-in now in place is saved in {saved_dropin(build_dir)} for a revert",
        ),
    )


def plan_revert(
    host: HostConfig,
    *,
    build_dir: str,
    previous_target: str,
    current_target: str | None = None,
    restore: tuple[str, str, bool, str | None, str | None] | None = None,
    load_timeout_s: float = LOAD_TIMEOUT_S,
) -> Plan:
    """Point build_dir back at the previous build and restart (the one-key revert). current_target
    becomes the new `previous`, so a second revert goes forward again. restore: (drop-in path,
    its directory, mkdir needed, the saved text or None to remove it, the text now in place) —
    when the last switch rewrote flags."""
    steps: list[Step] = []
    notes: list[str] = []
    if restore is not None:
        dropin, directory, need_mkdir, text, now = restore
        steps.append(
            Step(
                "save the drop-in now in place",
                argv=("tee", saved_dropin(build_dir)),
                stdin=now if now is not None else NO_DROPIN,
                why="a second revert restores it",
            )
        )
        steps += _dropin_steps(
            dropin,
            directory,
            need_mkdir,
            text,
            now,
            "restore the previous build's drop-in",
            "the flags the previous build takes",
        )
        notes.append("the previous build ran with another ExecStart: its drop-in is restored")
    switch_back = point(build_dir, current_target, "point at the current build again") if current_target else ()
    steps += point(
        build_dir,
        previous_target,
        "point back at the previous build",
        undo=(*switch_back, *restart_steps(host, load_timeout_s)) if switch_back else (),
    )
    if current_target:
        steps += point(previous_link(build_dir), current_target, "remember the build reverted from")
    steps += restart_steps(host, load_timeout_s)
    return Plan(
        action="revert-build",
        host=host.name,
        summary=f"run {previous_target} again",
        steps=tuple(steps),
        notes=tuple(notes),
    )


async def _readlink(transport: Transport, path: str) -> str | None:
    try:
        done = await transport.run(["readlink", "--", path.rstrip("/")], timeout=15.0)
    except TransportError:
        return None
    return done.stdout.strip() or None if done.ok else None


async def _read_text(transport: Transport, path: str) -> str | None:
    try:
        return (await transport.read_file(path, timeout=10.0, max_bytes=1024 * 1024)).decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text: refusing to restore it") from None


async def unit_dropin(transport: Transport, unit_name: str) -> tuple[str, str, bool, str | None]:
    """(drop-in path, its directory, whether it must be created, its text now or None)."""
    unit = await systemd.collect_unit(transport, unit_name)
    directory = dropin_dir(unit)
    need_mkdir = not any(posixpath.dirname(p) == directory for p in unit.drop_in_paths)
    path = dropin_path(unit)
    return path, directory, need_mkdir, await read_dropin(transport, path)


async def prepare_flag_rewrite(
    transport: Transport, host: HostConfig, rebuild: Plan, failed_step: int, rewritten: Sequence[str], build_dir: str
) -> Plan:
    dropin, directory, need_mkdir, previous = await unit_dropin(transport, host.unit)
    return plan_flag_rewrite(
        rebuild,
        failed_step,
        rewritten,
        dropin=dropin,
        directory=directory,
        need_mkdir=need_mkdir,
        previous_dropin=previous,
        build_dir=build_dir,
    )


async def prepare_revert(transport: Transport, host: HostConfig, build_dir: str) -> Plan:
    """The revert plan from what the host has: B.previous, B's target, the saved drop-in."""
    require_unit(host, "reverting the build")
    previous = await _readlink(transport, previous_link(build_dir))
    if previous is None:
        raise ValueError(
            f"no previous build to go back to ({previous_link(build_dir)} does not exist: "
            "a revert is possible after a rebuild that switched builds)"
        )
    current = await _readlink(transport, build_dir)
    saved = await _read_text(transport, saved_dropin(build_dir))
    restore = None
    if saved is not None:
        dropin, directory, need_mkdir, now = await unit_dropin(transport, host.unit)
        restore = (dropin, directory, need_mkdir, None if saved == NO_DROPIN else saved, now)
    return plan_revert(host, build_dir=build_dir, previous_target=previous, current_target=current, restore=restore)
