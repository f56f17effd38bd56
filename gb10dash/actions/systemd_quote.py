"""systemd command lines (systemd.service(5) "Command lines"): quoting for drop-ins, and parsing.

Words are in systemd's *stored* form — what `systemctl show -p ExecStart` prints: specifiers
(`%h`) already resolved, environment references (`$VAR`, `${VAR}`, `$$`) not yet expanded (that
happens when the service starts). Quoting doubles `%` (a specifier would otherwise be expanded)
and leaves `$` alone, so a `$VAR` of the unit keeps working; a literal file name enters the
stored form through `literal()`, which doubles its `$`. Control characters but tab (newlines
above all) are refused: a unit file cannot carry them safely.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_BARE = re.compile(r"[A-Za-z0-9_@+=:,./-]+")
_PREFIXES = "-@:+!|"
_SIMPLE_ESCAPES = {
    "\\": "\\",
    '"': '"',
    "'": "'",
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "s": " ",
    ";": ";",
}


def literal(text: str) -> str:
    """A literal argument in stored form: `$` → `$$`, so no environment expansion touches it."""
    return text.replace("$", "$$")


def expand_env_escapes(word: str) -> str:
    """What the process receives for a stored word without environment references: `$$` → `$`."""
    return word.replace("$$", "$")


def quote_word(word: str, *, first: bool = False) -> str:
    """One stored word as unit-file text: bare when harmless, else in double quotes."""
    bad = next((c for c in word if (ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F), None)
    if bad is not None:
        raise ValueError(
            f"{word!r} holds a control character ({bad!r}): systemd unit files cannot express it safely, refusing"
        )
    if _BARE.fullmatch(word) and not (first and word[0] in _PREFIXES):
        return word
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def exec_line(argv: Sequence[str]) -> str:
    """argv (stored form) → the value of an `ExecStart=` line."""
    if not argv:
        raise ValueError("empty command line")
    return " ".join(quote_word(word, first=index == 0) for index, word in enumerate(argv))


def _escape(text: str, i: int) -> tuple[str, int]:
    """The C escape starting after the backslash at text[i-1]; (char, next index)."""
    if i >= len(text):
        raise ValueError("command line ends with a backslash")
    c = text[i]
    if c in _SIMPLE_ESCAPES or c in " \t":  # `\ `: a separator taken literally
        return _SIMPLE_ESCAPES.get(c, c), i + 1
    for lead, width, base in (("x", 2, 16), ("u", 4, 16), ("U", 8, 16)):
        if c == lead:
            digits = text[i + 1 : i + 1 + width]
            if len(digits) == width and all(d in "0123456789abcdefABCDEF" for d in digits):
                return chr(int(digits, base)), i + 1 + width
    if c in "01234567" and re.fullmatch(r"[0-7]{3}", text[i : i + 3]):
        return chr(int(text[i : i + 3], 8)), i + 3
    raise ValueError(f"unknown escape \\{c} in command line")


def _specifiers(word: str) -> str:
    out, i = [], 0
    while i < len(word):
        if word[i] == "%":
            if word[i + 1 : i + 2] != "%":
                raise ValueError(f"specifier %{word[i + 1 : i + 2]} in {word!r} is not supported here")
            i += 1
        out.append(word[i])
        i += 1
    return "".join(out)


def split_exec_line(value: str) -> tuple[str, ...]:
    """An `ExecStart=` value → argv in stored form (prefixes dropped, quotes and escapes undone)."""
    value = value.strip().lstrip(_PREFIXES)
    words: list[str] = []
    i, n = 0, len(value)
    while True:
        while i < n and value[i] in " \t":
            i += 1
        if i >= n:
            break
        if value[i] == ";" and (i + 1 == n or value[i + 1] in " \t"):
            raise ValueError("several commands in one ExecStart= (a lone ;) are not supported")
        word, quote, started = [], "", i
        while i < n and (quote or value[i] not in " \t"):
            c = value[i]
            if c == "\\":
                char, i = _escape(value, i + 1)
                word.append(char)
                continue
            if quote and c == quote:
                quote = ""
            elif not quote and c in "\"'":
                quote = c
            else:
                word.append(c)
            i += 1
        if quote:
            raise ValueError(f"unbalanced {quote} in command line at {value[started : started + 40]!r}")
        words.append(_specifiers("".join(word)))
    return tuple(words)


def service_exec_start(texts: Sequence[str]) -> tuple[str, ...] | None:
    """The ExecStart that unit-file texts (the fragment, then its drop-ins in order) leave in force."""
    entries: list[tuple[str, ...]] = []
    for text in texts:
        section, pending = "", ""
        for raw in text.splitlines():
            line = raw.strip()
            if not pending and (not line or line[0] in "#;"):
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            line, pending = pending + line, ""
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1].strip()
                continue
            key, sep, value = line.partition("=")
            if sep and section == "Service" and key.strip() == "ExecStart":
                entries = [] if not value.strip() else [*entries, split_exec_line(value)]
    if len(entries) > 1:
        raise ValueError(f"{len(entries)} ExecStart= lines in force (only Type=oneshot allows that)")
    return entries[0] if entries else None
