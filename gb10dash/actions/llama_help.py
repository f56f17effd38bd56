"""llama-server's --help → the flags it accepts; check and rewrite a unit's ExecStart for a new build.

Pure functions. llama.cpp renames flags between builds (newer builds reject `--no-mmap` and take
`--load-mode none`; `-fa` went from a switch to taking on|off|auto), so before a rebuilt binary
replaces the running one, every flag of the unit's current ExecStart must be in the new --help.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

# An option line starts in column 0 with a dash: `-c,    --ctx-size N      size of ...`.
# The flag part ends at the first run of 2+ spaces that does not follow a comma.
_HEAD_END = re.compile(r"(?<![,\s])\s{2,}")
_FLAG = re.compile(r"^--?[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_NUMBER = re.compile(r"^-\d+(\.\d+)?$")


@dataclass(frozen=True, slots=True)
class FlagProblem:
    flag: str
    position: int  # index in the ExecStart argv
    message: str
    replacement: tuple[str, ...] | None = None  # what the new binary takes instead, if known


def parse_help_options(help_text: str) -> dict[str, str]:
    """Every flag --help lists → its value placeholder ('' for a switch), e.g. '-fa' → '[on|off|auto]'."""
    options: dict[str, str] = {}
    for line in help_text.splitlines():
        if not line.startswith("-"):
            continue
        head = _HEAD_END.split(line.rstrip(), maxsplit=1)[0]
        words = [w for w in re.split(r"[,\s]+", head) if w]
        flags = [w for w in words if _FLAG.match(w)]
        value = " ".join(w for w in words if not _FLAG.match(w))
        for flag in flags:
            options.setdefault(flag, value)
    return options


def parse_help_flags(help_text: str) -> set[str]:
    """Every `-x` / `--long` flag llama-server's --help lists."""
    return set(parse_help_options(help_text))


def _flag_words(argv: list[str] | tuple[str, ...]) -> list[tuple[int, str]]:
    """(index, flag) for each word of argv[1:] that is a flag (`--x=v` counts as `--x`)."""
    found = []
    for index, word in enumerate(argv[1:], 1):
        if not word.startswith("-") or word in ("-", "--") or _NUMBER.match(word):
            continue
        found.append((index, word.split("=", 1)[0]))
    return found


def _rename(flag: str, flags: set[str]) -> tuple[str, ...] | None:
    if flag == "--no-mmap" and "--load-mode" in flags:
        return ("--load-mode", "none")  # "none: no mmap, read the file into memory" in the new help
    return None


def check_exec_start(argv: list[str] | tuple[str, ...], flags: set[str] | dict[str, str]) -> list[FlagProblem]:
    """Each flag of the unit's ExecStart that the new binary does not accept (or needs a value for)."""
    options = flags if isinstance(flags, dict) else {f: "" for f in flags}
    names = set(options)
    problems = []
    for index, flag in _flag_words(argv):
        if flag not in names:
            replacement = _rename(flag, names)
            hint = f"; the new build takes `{' '.join(replacement)}`" if replacement else ""
            problems.append(
                FlagProblem(flag, index, f"{flag} is not accepted by the new llama-server{hint}", replacement)
            )
        elif _needs_on_value(flag, options, argv, index):
            problems.append(
                FlagProblem(
                    flag,
                    index,
                    f"{flag} takes on|off|auto in the new llama-server; `{flag}` alone would eat the next word",
                    (flag, "on"),
                )
            )
    return problems


def _needs_on_value(flag: str, options: dict[str, str], argv: list[str] | tuple[str, ...], index: int) -> bool:
    """An old switch (`-fa`) that the new help lists with an on|off|auto value, given without one."""
    placeholder = options.get(flag, "")
    if "on|off" not in placeholder or "=" in argv[index]:
        return False
    following = argv[index + 1] if index + 1 < len(argv) else None
    return following not in ("on", "off", "auto", "1", "0", "true", "false", "enabled", "disabled")


def rewrite_for_new_binary(
    argv: list[str] | tuple[str, ...], flags: set[str] | dict[str, str]
) -> tuple[list[str], list[str]]:
    """The ExecStart argv with the known renames applied, and a line per change.

    Flags with no known replacement stay as they are (check_exec_start still reports them).
    """
    by_index = {p.position: p for p in check_exec_start(argv, flags) if p.replacement}
    out: list[str] = [argv[0]] if argv else []
    changes: list[str] = []
    for index, word in enumerate(argv[1:], 1):
        problem = by_index.get(index)
        if problem is None:
            out.append(word)
            continue
        assert problem.replacement is not None
        out.extend(problem.replacement)
        changes.append(f"{word} → {' '.join(problem.replacement)}")
    return out, changes


def check_flags_step(help_text: str, exec_start: str) -> tuple[str, tuple[str, ...] | None]:
    """The executor's CHECK_FLAGS: ('', None) when the new binary accepts the ExecStart (a shlex.join'ed
    argv), else (what to tell the operator, the rewritten ExecStart argv when known renames fix it all)."""
    options = parse_help_options(help_text)
    if not options:
        return "the new llama-server --help listed no flags", None
    argv = shlex.split(exec_start)
    problems = check_exec_start(argv, options)
    if not problems:
        return "", None
    lines = ["the new llama-server does not accept the unit's ExecStart:"]
    lines += [f"  {p.message}" for p in problems]
    if not all(p.replacement for p in problems):
        return "\n".join(lines), None
    rewritten, _changes = rewrite_for_new_binary(argv, options)
    lines.append("rewritten ExecStart for a drop-in: " + shlex.join(rewritten))
    return "\n".join(lines), tuple(rewritten)
