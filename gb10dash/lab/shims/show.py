"""`systemctl show` properties of a lab unit, in systemd's order and formats."""

from __future__ import annotations

import signal
from pathlib import Path

from .common import format_timespan, format_timestamp, pid_alive, proc_cpu_seconds, proc_status_kib
from .unitstate import need_daemon_reload

CODES = {0: "(null)", 1: "exited", 2: "killed", 3: "dumped"}
RESULT_DEFAULTS = {"ReloadResult": "success", "CleanResult": "success"}


def _usec(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1_000_000)


def exec_start_value(cfg: dict, state: dict, style: str) -> str:
    """systemd's form: `{ path=… ; argv[]=… ; ignore_errors=no ; start_time=[…] ; stop_time=[…] ;
    pid=… ; code=… ; status=… }`."""
    if not cfg.get("exec_start"):
        return ""
    entry = cfg["exec_start"][0]
    from .unitfile import resolve_exec

    ran = state["exec_argv"] == entry["argv"]
    start = format_timestamp(state["exec_main_start"][0], style) if ran else ""
    stop = format_timestamp(state["exec_main_exit"][0], style) if ran else ""
    code = state["exec_main_code"] if ran else 0
    status = state["exec_main_status"] if ran else 0
    if code == 1:
        status_text = str(status)
    else:
        name = signal.Signals(status).name[3:] if status in signal.Signals._value2member_map_ else str(status)
        status_text = f"{status}/{name}"
    return (
        f"{{ path={resolve_exec(entry['argv'])} ; argv[]={' '.join(entry['argv'])} ; "
        f"ignore_errors={'yes' if entry['ignore_errors'] else 'no'} ; start_time=[{start or 'n/a'}] ; "
        f"stop_time=[{stop or 'n/a'}] ; pid={state['exec_main_pid'] if ran else 0} ; "
        f"code={CODES.get(code, '(null)')} ; status={status_text} }}"
    )


def properties(unit: str, state: dict, root: Path | None, style: str = "pretty") -> list[tuple[str, str]]:
    cfg = state["config"]
    main_pid = state["main_pid"] if pid_alive(state["main_pid"]) else 0
    ts = state["ts"]

    def stamp(name: str) -> list[tuple[str, str]]:
        realtime, mono = ts.get(name, [0, 0])
        return [(f"{name}Timestamp", format_timestamp(realtime, style)), (f"{name}TimestampMonotonic", str(mono))]

    rss = proc_status_kib(main_pid, "VmRSS") if main_pid else None
    cpu = proc_cpu_seconds(main_pid) if main_pid else None
    tasks = proc_status_kib(main_pid, "Threads") if main_pid else None
    start_rt, start_mono = state["exec_main_start"]
    exit_rt, exit_mono = state["exec_main_exit"]
    loaded = cfg["load_state"] == "loaded"
    props = [
        ("Type", cfg["type"]),
        ("ExitType", "main"),
        ("Restart", cfg["restart"]),
        ("RestartMode", "normal"),
        ("NotifyAccess", "none"),
        ("RestartUSec", format_timespan(_usec(cfg["restart_sec"]))),
        ("RestartSteps", "0"),
        ("RestartMaxDelayUSec", "infinity"),
        ("RestartUSecNext", format_timespan(_usec(cfg["restart_sec"]))),
        ("TimeoutStartUSec", "1min 30s"),
        ("TimeoutStopUSec", format_timespan(_usec(cfg["timeout_stop_sec"]))),
        ("TimeoutAbortUSec", format_timespan(_usec(cfg["timeout_stop_sec"]))),
        ("TimeoutStartFailureMode", "terminate"),
        ("TimeoutStopFailureMode", "terminate"),
        ("RuntimeMaxUSec", "infinity"),
        ("RuntimeRandomizedExtraUSec", "0"),
        ("WatchdogUSec", "0"),
        ("WatchdogTimestampMonotonic", "0"),
        ("RootDirectoryStartOnly", "no"),
        ("RemainAfterExit", "no"),
        ("GuessMainPID", "yes"),
        ("MainPID", str(main_pid)),
        ("ControlPID", "0"),
        ("FileDescriptorStoreMax", "0"),
        ("NFileDescriptorStore", "0"),
        ("FileDescriptorStorePreserve", "restart"),
        ("StatusErrno", "0"),
        ("Result", state["result"]),
        *RESULT_DEFAULTS.items(),
        ("UID", "[not set]"),
        ("GID", "[not set]"),
        ("NRestarts", str(state["n_restarts"])),
        ("OOMPolicy", "stop"),
        ("ReloadSignal", "1"),
        ("ExecMainStartTimestamp", format_timestamp(start_rt, style)),
        ("ExecMainStartTimestampMonotonic", str(start_mono)),
        ("ExecMainExitTimestamp", format_timestamp(exit_rt, style)),
        ("ExecMainExitTimestampMonotonic", str(exit_mono)),
        ("ExecMainPID", str(state["exec_main_pid"])),
        ("ExecMainCode", str(state["exec_main_code"])),
        ("ExecMainStatus", str(state["exec_main_status"])),
        ("ExecStart", exec_start_value(cfg, state, style)),
        ("Slice", "system.slice" if loaded else ""),
        ("ControlGroup", f"/system.slice/{unit}" if main_pid else ""),
        ("MemoryCurrent", str(rss * 1024) if rss is not None else "[not set]"),
        ("CPUUsageNSec", str(int(cpu * 1e9)) if cpu is not None else "[not set]"),
        ("TasksCurrent", str(tasks) if tasks is not None else "[not set]"),
        ("Environment", " ".join(f"{k}={v}" for k, v in cfg["environment"].items())),
        ("WorkingDirectory", cfg["working_directory"]),
        ("KillMode", "control-group"),
        ("KillSignal", "15"),
        ("SyslogIdentifier", cfg["syslog_identifier"]),
        ("Id", unit),
        ("Names", unit),
        *[(key, cfg["unit"].get(key, "")) for key in ("Requires", "Wants", "After", "RequiresMountsFor")],
        ("Description", cfg["description"]),
        ("LoadState", cfg["load_state"]),
        ("ActiveState", state["active_state"]),
        ("FreezerState", "running"),
        ("SubState", state["sub_state"]),
        ("FragmentPath", cfg["fragment_path"]),
        ("DropInPaths", " ".join(cfg["dropin_paths"])),
        ("UnitFileState", "enabled" if loaded else ""),
        ("UnitFilePreset", "enabled" if loaded else ""),
        *stamp("StateChange"),
        *stamp("InactiveExit"),
        *stamp("ActiveEnter"),
        *stamp("ActiveExit"),
        *stamp("InactiveEnter"),
        ("CanStart", "yes"),
        ("CanStop", "yes"),
        ("CanReload", "no"),
        ("CanIsolate", "no"),
        ("StopWhenUnneeded", "no"),
        ("RefuseManualStart", "no"),
        ("RefuseManualStop", "no"),
        ("StartLimitIntervalUSec", format_timespan(_usec(cfg["start_limit_interval_sec"]))),
        ("StartLimitBurst", str(cfg["start_limit_burst"])),
        ("StartLimitAction", "none"),
        ("NeedDaemonReload", "yes" if need_daemon_reload(state, unit, root) else "no"),
        ("InvocationID", state["invocation_id"] if state["active_state"] != "inactive" else ""),
    ]
    if cfg["load_error"]:
        props.append(("LoadError", cfg["load_error"]))
    return props


def render(props: list[tuple[str, str]], wanted: list[str], value_only: bool, show_all: bool) -> list[str]:
    """Real rules: -p selects (output keeps systemd's order, not -p's); empty values are suppressed
    unless --all or the property was asked for by name."""
    lines = []
    for key, value in props:
        if wanted and key not in wanted:
            continue
        if not value and not (show_all or wanted):
            continue
        lines.append(value if value_only else f"{key}={value}")
    return lines
