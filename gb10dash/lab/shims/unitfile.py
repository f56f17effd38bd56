"""Unit file + drop-ins → the loaded configuration of a service, with systemd's merge rules."""

from __future__ import annotations

import hashlib
import os
import shlex
from pathlib import Path

from .common import parse_timespan, unit_dir

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
LAB_TIMEOUT_STOP_SEC = 10.0  # systemd's default is 90 s; the lab uses 10 s


def unit_name(name: str) -> str:
    """`llama-server` → `llama-server.service` (names with a known unit suffix are kept)."""
    suffixes = (".service", ".socket", ".target", ".mount", ".timer", ".path", ".slice", ".scope", ".device", ".swap")
    return name if name.endswith(suffixes) else name + ".service"


def unit_files(unit: str, root: Path | None = None) -> tuple[Path, list[Path]]:
    base = unit_dir(root)
    dropin_dir = base / f"{unit}.d"
    dropins = sorted(dropin_dir.glob("*.conf"), key=lambda p: p.name) if dropin_dir.is_dir() else []
    return base / unit, [p for p in dropins if p.is_file()]


def fingerprint(unit: str, root: Path | None = None) -> str:
    """Hash of the unit file and drop-ins as they are on disk now (changes → NeedDaemonReload=yes)."""
    fragment, dropins = unit_files(unit, root)
    digest = hashlib.sha256()
    for path in [fragment, *dropins]:
        digest.update(os.fsencode(path) + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(b"\1missing")
    return digest.hexdigest()


def parse_ini(text: str) -> list[tuple[str, str, str]]:
    """systemd unit syntax → [(section, key, value)]; comments `#`/`;`, backslash line continuation."""
    out: list[tuple[str, str, str]] = []
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
            section = line[1:-1]
        elif "=" in line:
            key, value = line.split("=", 1)
            out.append((section, key.strip(), value.strip()))
    return out


def _parse_exec(value: str) -> dict:
    prefixes = ""
    while value and value[0] in "-@:+!":
        prefixes += value[0]
        value = value[1:]
    # stored form, as systemd keeps it: quotes undone and specifiers resolved (`%%` → `%`),
    # environment references (`$VAR`, `$$`) left for start time (see expand_env)
    argv = [word.replace("%%", "%") for word in shlex.split(value)]
    return {"argv": argv, "ignore_errors": "-" in prefixes, "raw": value}


def expand_env(argv: list[str], env: dict[str, str]) -> list[str]:
    """What systemd does to stored words when it starts the command: `$$` → `$`, `${VAR}`/`$VAR`
    → their values (a whole-word `$VAR` that is unset disappears; here it becomes empty)."""

    def expand(word: str) -> str:
        out, i = [], 0
        while i < len(word):
            if word.startswith("$$", i):
                out.append("$")
                i += 2
            elif word.startswith("${", i) and "}" in word[i:]:
                end = word.index("}", i)
                out.append(env.get(word[i + 2 : end], ""))
                i = end + 1
            elif word[i] == "$" and i + 1 < len(word) and (word[i + 1].isalpha() or word[i + 1] == "_"):
                j = i + 1
                while j < len(word) and (word[j].isalnum() or word[j] == "_"):
                    j += 1
                out.append(env.get(word[i + 1 : j], ""))
                i = j
            else:
                out.append(word[i])
                i += 1
        return "".join(out)

    return [expand(word) for word in argv]


def load_unit(unit: str, root: Path | None = None) -> dict:
    """The loaded config of `unit` as a JSON-able dict (LoadState loaded / not-found / bad-setting)."""
    fragment, dropins = unit_files(unit, root)
    cfg: dict = {
        "id": unit,
        "fragment_path": str(fragment),
        "dropin_paths": [str(p) for p in dropins],
        "load_state": "loaded",
        "load_error": "",
        "description": unit,
        "exec_start": [],
        "type": "simple",
        "restart": "no",
        "restart_sec": 0.1,
        "timeout_stop_sec": LAB_TIMEOUT_STOP_SEC,
        "start_limit_burst": 5,
        "start_limit_interval_sec": 10.0,
        "environment": {},
        "working_directory": "",
        "syslog_identifier": "",
        "unit": {},
        "fingerprint": fingerprint(unit, root),
    }
    if not fragment.is_file():
        cfg.update(
            load_state="not-found",
            fragment_path="",
            dropin_paths=[],
            load_error=f'org.freedesktop.systemd1.NoSuchUnit "Unit {unit} not found."',
        )
        return cfg
    entries: list[tuple[str, str, str]] = []
    for path in [fragment, *dropins]:
        try:
            entries += parse_ini(path.read_text(errors="replace"))
        except OSError:
            continue
    for section, key, value in entries:
        try:
            _apply(cfg, section, key, value)
        except ValueError as exc:
            cfg["load_error"] = str(exc)
    if not cfg["exec_start"]:
        cfg.update(load_state="bad-setting", load_error="Service has no ExecStart=, ExecStop=, or SuccessAction=.")
    elif len(cfg["exec_start"]) > 1 and cfg["type"] != "oneshot":
        cfg.update(
            load_state="bad-setting",
            load_error="Service has more than one ExecStart= setting, "
            "which is only allowed for Type=oneshot services. Refusing.",
        )
    return cfg


def _apply(cfg: dict, section: str, key: str, value: str) -> None:
    if section == "Unit":
        if key == "Description":
            cfg["description"] = value
        elif key in ("StartLimitIntervalSec", "StartLimitInterval"):
            cfg["start_limit_interval_sec"] = parse_timespan(value) or 0.0
        elif key == "StartLimitBurst":
            cfg["start_limit_burst"] = int(value)
        elif value:
            cfg["unit"][key] = (cfg["unit"].get(key, "") + " " + value).strip()
        else:
            cfg["unit"].pop(key, None)
    if section != "Service":
        return
    if key == "ExecStart":
        cfg["exec_start"] = [] if not value else cfg["exec_start"] + [_parse_exec(value)]
    elif key == "Restart":
        cfg["restart"] = value or "no"
    elif key == "RestartSec":
        cfg["restart_sec"] = parse_timespan(value) or 0.0
    elif key in ("TimeoutStopSec", "TimeoutSec"):
        cfg["timeout_stop_sec"] = parse_timespan(value)
    elif key == "Type":
        cfg["type"] = value or "simple"
    elif key == "WorkingDirectory":
        cfg["working_directory"] = value
    elif key == "SyslogIdentifier":
        cfg["syslog_identifier"] = value
    elif key == "Environment":
        if not value:
            cfg["environment"] = {}
        for item in shlex.split(value):
            name, _, val = item.partition("=")
            cfg["environment"][name] = val
    elif key == "EnvironmentFile":
        _env_file(cfg, value)


def _env_file(cfg: dict, value: str) -> None:
    optional = value.startswith("-")
    path = Path(value.lstrip("-"))
    try:
        text = path.read_text()
    except OSError:
        if not optional:
            cfg["load_error"] = f"Failed to load environment files: {path}"
        return
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";")) and "=" in line:
            name, _, val = line.partition("=")
            cfg["environment"][name.strip()] = " ".join(shlex.split(val)) if val.strip() else ""


def resolve_exec(argv: list[str]) -> str:
    """Absolute path of argv[0] (systemd searches a fixed PATH for bare names)."""
    if not argv:
        return ""
    if os.path.isabs(argv[0]):
        return argv[0]
    for directory in DEFAULT_PATH.split(":"):
        candidate = os.path.join(directory, argv[0])
        if os.access(candidate, os.X_OK):
            return candidate
    return argv[0]
