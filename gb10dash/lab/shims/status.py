"""`systemctl status UNIT` text for a lab unit (for humans; the dashboard should use `show`)."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

from .common import format_timestamp, pid_alive, proc_cmdline, proc_comm, proc_cpu_seconds, proc_status_kib
from .journal import Journal
from .journalctl import format_entry
from .supervisor import status_text

BULLETS = {"active": "●", "failed": "×", "inactive": "○", "activating": "●", "deactivating": "●"}


def ago(usec: int) -> str:
    left = max(0, int(time.time() - usec / 1e6))
    parts = []
    for name, size in (("h", 3600), ("min", 60), ("s", 1)):
        if left >= size or (name == "s" and not parts):
            parts.append(f"{left // size}{name}")
            left %= size
    return " ".join(parts[:2]) + " ago"


def _size(kib: int) -> str:
    for unit, scale in (("G", 1 << 20), ("M", 1 << 10)):
        if kib >= scale:
            return f"{kib / scale:.1f}{unit}"
    return f"{kib}K"


def render_status(unit: str, state: dict, root: Path, lines: int = 10) -> str:
    cfg, active, sub = state["config"], state["active_state"], state["sub_state"]
    out = [f"{BULLETS.get(active, '●')} {unit} - {cfg['description']}"]
    out.append(f"     Loaded: {cfg['load_state']} ({cfg['fragment_path']}; enabled; preset: enabled)")
    groups: dict[str, list[str]] = defaultdict(list)
    for path in cfg["dropin_paths"]:
        groups[str(Path(path).parent)].append(Path(path).name)
    for index, (folder, names) in enumerate(groups.items()):
        out.append(f"    {'Drop-In:' if index == 0 else '        '} {folder}")
        out.append(f"             └─{', '.join(names)}")
    changed = state["ts"].get("StateChange", [0, 0])[0]
    result = f" (Result: {state['result']})" if state["result"] != "success" and active != "active" else ""
    since = f" since {format_timestamp(changed)}; {ago(changed)}" if changed else ""
    sub_text = "" if active == "failed" else f" ({sub})"
    out.append(f"     Active: {active}{sub_text}{result}{since}")
    pid = state["main_pid"] if pid_alive(state["main_pid"]) else 0
    if pid:
        out.append(f"   Main PID: {pid} ({proc_comm(pid)})")
        threads, rss, cpu = proc_status_kib(pid, "Threads"), proc_status_kib(pid, "VmRSS"), proc_cpu_seconds(pid)
        if threads:
            out.append(f"      Tasks: {threads}")
        if rss:
            out.append(f"     Memory: {_size(rss)}")
        if cpu is not None:
            out.append(f"        CPU: {cpu:.3f}s")
        out.append(f"     CGroup: /system.slice/{unit}")
        out.append(f"             └─{pid} {' '.join(proc_cmdline(pid))}")
    elif state["exec_main_pid"] and state["exec_main_code"]:
        detail = status_text(state["exec_main_code"], state["exec_main_status"])
        out.append(f"    Process: {state['exec_main_pid']} ExecStart={' '.join(state['exec_argv'])} ({detail})")
        out.append(f"   Main PID: {state['exec_main_pid']} ({detail})")
    if lines > 0:
        entries, _ = Journal(root).read_from(0)
        mine = [e for e in entries if unit in (e[1].get("_SYSTEMD_UNIT"), e[1].get("UNIT"))][-lines:]
        if mine:
            out.append("")
            out += [format_entry(raw, entry, "short").decode().rstrip("\n") for raw, entry in mine]
    return "\n".join(out)
