"""The sudoers rules gb10dash's plans need on a host (`gb10dash sudoers`), derived from the plans.

Every command a plan runs as `sudo -n …` — forward steps and their undo steps — is collected from
the planners themselves, built for the host's unit (its drop-in directory from FragmentPath): a
restart, a swap (with and without a drop-in before it: both rollbacks), a rebuild's switch and its
revert (drop-in written or removed), and drop caches. Each becomes one exact rule: the command's
absolute path as sudo resolves it (its secure_path) and its arguments, no wildcards.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence

from gb10dash.actions.build_switch import plan_revert
from gb10dash.actions.drop_caches import plan_drop_caches
from gb10dash.actions.models import ModelCandidate
from gb10dash.actions.plan import Plan, Step
from gb10dash.actions.restart import plan_restart
from gb10dash.actions.swap import dropin_dir, dropin_path, plan_swap
from gb10dash.collectors.systemd import UnitStatus
from gb10dash.config import HostConfig

SUDO = ("sudo", "-n")
SUDOERS_FILE = "/etc/sudoers.d/gb10dash"
# sudo's own search path for a command (Debian's and Ubuntu's default secure_path)
SECURE_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
# where Debian 12 / Ubuntu 24.04 keep them: used when the host cannot be asked
DEBIAN_PATHS = {
    "systemctl": "/usr/bin/systemctl",
    "tee": "/usr/bin/tee",
    "mkdir": "/usr/bin/mkdir",
    "rm": "/usr/bin/rm",
    "sysctl": "/usr/sbin/sysctl",
}
_ESCAPED = ",:=\\*?[]!"  # sudoers: special in a command's arguments (separators, wildcards)


def _walk(steps: Iterable[Step]) -> Iterable[Step]:
    for step in steps:
        yield step
        yield from _walk(step.undo)


def sudo_commands(plans: Iterable[Plan]) -> list[tuple[str, ...]]:
    """Every argv the plans (and their undo steps) run with `sudo -n`, without it; first seen first."""
    found: dict[tuple[str, ...], None] = {}
    for plan in plans:
        for step in _walk(plan.steps):
            if step.argv[:2] == SUDO and len(step.argv) > 2:
                found.setdefault(tuple(step.argv[2:]), None)
    return list(found)


def plans_needing_sudo(host: HostConfig, unit: UnitStatus | None) -> list[Plan]:
    """One of each plan that runs sudo, for this host's unit: what its sudoers file must allow (a watch-only
    host, unit None: only drop caches, the one such plan that needs no unit)."""
    if unit is None:
        return [plan_drop_caches(host)]
    directory, path = dropin_dir(unit), dropin_path(unit)
    fresh = UnitStatus(
        active_state="active",
        sub_state="running",
        main_pid=1,
        started_at=None,
        n_restarts=0,
        result="success",
        exec_main_status=None,
        exec_start=("llama-server", "-m", "/m.gguf"),
        fragment_path=unit.fragment_path,
        drop_in_paths=(),
    )
    model = ModelCandidate(path="/models/next.gguf", display_name="next", parts=("/models/next.gguf",), total_bytes=1)
    swaps = [plan_swap(host, fresh, model, ctx=None, previous_dropin=previous) for previous in (None, "[Service]\n")]
    reverts = [
        plan_revert(
            host,
            build_dir="/b/build",
            previous_target="build-1",
            current_target="build-2",
            restore=(path, directory, True, text, "[Service]\n"),
        )
        for text in (None, "[Service]\n")
    ]
    return [plan_restart(host), *swaps, *reverts, plan_drop_caches(host)]


def needed_commands(host: HostConfig, unit: UnitStatus | None) -> list[tuple[str, ...]]:
    return sudo_commands(plans_needing_sudo(host, unit))


def _argument(word: str) -> str:
    if not word or any(c.isspace() for c in word):
        raise ValueError(f"{word!r} cannot be granted exactly in sudoers (empty, or has whitespace)")
    return "".join("\\" + c if c in _ESCAPED else c for c in word)


def sudoers_rule(user: str, argv: Sequence[str]) -> str:
    """The one rule a `sudo -n …` argv needs, at Debian's paths (for a hint; `gb10dash sudoers` asks
    the host where its commands are)."""
    command = tuple(argv[2:]) if tuple(argv[:2]) == SUDO else tuple(argv)
    where = DEBIAN_PATHS.get(command[0], command[0]) if command else ""
    return f"{user} ALL=(root) NOPASSWD: " + " ".join([where, *(_argument(w) for w in command[1:])])


def sudoers_text(
    user: str, commands: Sequence[tuple[str, ...]], paths: Mapping[str, str], *, host: str | None = None
) -> str:
    """The file: one NOPASSWD rule per command, each its absolute path (from `paths`) and exact
    arguments; ValueError for a command whose path is not known or not absolute."""
    rules = []
    for argv in commands:
        where = paths.get(argv[0])
        if not where or not posixpath.isabs(where):
            raise ValueError(
                f"where {argv[0]} is on {host or 'the host'} is not known (looked in {':'.join(SECURE_PATH)})"
            )
        rules.append(" ".join([where, *(_argument(w) for w in argv[1:])]))
    head = (
        f"# {SUDOERS_FILE} for gb10dash"
        + (f" on {host}" if host else "")
        + " — generated by `gb10dash sudoers` from the plans' own commands\n"
    )
    return head + f"{user} ALL=(root) NOPASSWD: " + ", \\\n    ".join(rules) + "\n"


def resolve_argv(names: Sequence[str]) -> list[str]:
    """A command that prints, for each name, where sudo would find it (one line each; empty when not
    found): `command -v` over sudo's secure_path, the names passed as arguments."""
    script = 'for c; do p=$(PATH="$0" command -v "$c") || p=; echo "$p"; done'
    return ["sh", "-c", script, ":".join(SECURE_PATH), *names]


def parse_resolved(names: Sequence[str], text: str) -> dict[str, str]:
    lines = text.splitlines()
    if len(lines) != len(names):
        raise ValueError(f"expected {len(names)} path(s) from command -v, got {text.strip()[:200]!r}")
    return {name: line.strip() for name, line in zip(names, lines) if line.strip()}


# -- preflight: what `sudo -n -l` says the login may run without a password --------------------------
def _split_commands(text: str) -> list[str]:
    """A rule's commands: split at commas that are not escaped, then unescaped."""
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def parse_sudo_list(text: str) -> list[str]:
    """`sudo -n -l` → the commands the user may run as root without a password (`ALL` for any)."""
    lines = text.splitlines()
    start = next((i + 1 for i, line in enumerate(lines) if "may run the following commands" in line), None)
    if start is None:
        raise ValueError("no `may run the following commands` section (expected `sudo -n -l` output)")
    if lines[start - 1].startswith("User root may run"):
        return ["ALL"]  # sudo never asks root for a password, whatever its rules' tags say
    specs: list[str] = []
    for line in lines[start:]:
        if not line.strip():
            continue
        if line.lstrip().startswith("(") or not specs:
            specs.append(line.strip())
        else:
            specs[-1] += " " + line.strip()  # a long rule wrapped onto the next line
    allowed = []
    for spec in specs:
        runas, _, rest = spec.partition(")")
        if not ("root" in runas or "ALL" in runas.split(":")[0]):
            continue
        nopasswd = False
        for word_or_list in rest.replace("NOPASSWD:", "\0NOPASSWD\0").replace(" PASSWD:", "\0PASSWD\0").split("\0"):
            if word_or_list in ("NOPASSWD", "PASSWD"):
                nopasswd = word_or_list == "NOPASSWD"
            elif nopasswd:
                allowed += _split_commands(word_or_list)
    return allowed


def allows(allowed: Sequence[str], argv: Sequence[str]) -> bool:
    """Whether one of the listed commands permits argv (its name bare, as the plans run it): the same
    command with exactly these arguments, or with none listed (any arguments), or ALL."""
    import fnmatch

    for entry in allowed:
        if entry == "ALL":
            return True
        path, _, args = entry.partition(" ")
        if posixpath.basename(path) != argv[0] and path != argv[0]:
            continue
        wanted = " ".join(argv[1:])
        if not args or args == wanted or (args == '""' and not wanted):
            return True
        if any(c in args for c in "*?[") and fnmatch.fnmatchcase(wanted, args):
            return True
    return False
