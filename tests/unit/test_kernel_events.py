"""Kernel log events: the lines the NVIDIA driver and the kernel print (tests/fixtures/kernel/messages.txt:
the formats of NVIDIA/open-gpu-kernel-modules#1358, dgx-spark-playbooks#97 and kernel OOM reports, with
this lab's pids and names), the kernel alert rule, the panel's kernel line and the exporter's series."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ui.states import NOW, pegasus

from gb10dash.alerts.rules import CRITICAL, WARNING, kernel
from gb10dash.alerts.settings import DEFAULT_RULES
from gb10dash.collectors.kernel_events import KernelEvent, KernelEventKind, kernel_journal_argv, parse_kernel_event
from gb10dash.exporter.metrics import families
from gb10dash.ui.widgets.kernel_line import kernel_content

MESSAGES = (Path(__file__).resolve().parents[1] / "fixtures" / "kernel" / "messages.txt").read_text().splitlines()


def events() -> list[KernelEvent | None]:
    return [parse_kernel_event(line, NOW - 60) for line in MESSAGES]


def test_each_line_is_what_it_says() -> None:
    found = events()
    kinds = [e.kind.value if e else None for e in found]
    assert kinds == [
        "xid", "xid", "xid", "xid", "gpu_no_memory",
        None, None,  # 'invoked oom-killer' and 'oom-kill:constraint=' precede the one line that names the kill
        "oom_kill", "oom_kill", "oom_kill",
        None, None, None,  # the reaper's note, the driver's banner, any other kernel line
    ]  # fmt: skip
    xid79, xid13, short, xid109 = found[:4]
    assert (xid79.xid, xid79.pid, xid79.process) == (79, 48213, "llama-server") and xid79.hits_server
    assert (xid13.xid, xid13.pid, xid13.process) == (13, None, None) and not xid13.hits_server
    assert (short.xid, short.pid, short.process) == (79, None, None)
    assert xid109.describe() == "GPU Xid 109 (llama-server, pid 52001)"
    assert found[4].where == "_memdescAllocInternal"
    assert found[4].describe() == "GPU driver out of memory (NV_ERR_NO_MEMORY in _memdescAllocInternal)"
    oom, old, cgroup = found[7:10]
    assert (oom.pid, oom.process, oom.hits_server) == (48213, "llama-server", True)
    assert (old.pid, old.process, old.hits_server) == (27438, "python3", False)
    assert cgroup.describe() == "OOM killer killed llama-server (pid 6262)"


def test_the_stream_follows_the_kernel_log_from_a_cursor() -> None:
    assert kernel_journal_argv(after_cursor=None, since=1796579397.5) == [
        "journalctl", "-k", "-o", "json", "--all", "--no-pager", "-f", "--since=@1796579397"
    ]  # fmt: skip
    assert kernel_journal_argv(after_cursor="s=1;i=2", since=1.0)[-1] == "--after-cursor=s=1;i=2"
    assert kernel_journal_argv(after_cursor=None, lines=200, follow=False)[-2:] == ["-n", "200"]


def test_the_rule_fires_for_a_recent_event_critical_unless_another_process_was_killed() -> None:
    s = DEFAULT_RULES["kernel"]
    found = [e for e in events() if e]
    state = dataclasses.replace(pegasus(), kernel_events=(found[0],))
    fired = kernel(state, s, NOW, None)  # type: ignore[arg-type]
    assert fired is not None and fired.severity is CRITICAL
    assert fired.message.startswith("kernel: GPU Xid 79 (llama-server, pid 48213) at ")
    other_oom = dataclasses.replace(state, kernel_events=(found[6],))
    fired = kernel(other_oom, s, NOW, None)  # type: ignore[arg-type]
    assert fired is not None and fired.severity is WARNING and "python3" in fired.message
    several = dataclasses.replace(state, kernel_events=tuple(found[:3]))
    assert "(and 2 more in 15m00s)" in kernel(several, s, NOW, None).message  # type: ignore[arg-type,union-attr]
    assert kernel(state, s, NOW + s.window_s + 61, None) is None  # type: ignore[arg-type]
    assert kernel(pegasus(), s, NOW, None) is None  # type: ignore[arg-type]


def test_the_panel_line_and_the_exporter() -> None:
    found = [e for e in events() if e]
    line = kernel_content(found[:5], NOW)
    assert line is not None
    assert line.plain.startswith("kernel ✗ GPU driver out of memory (NV_ERR_NO_MEMORY in _memdescAllocInternal)")
    assert line.plain.endswith("5 since start")
    assert kernel_content((), NOW) is None
    old = kernel_content(found[:1], NOW + 3600)
    assert old is not None and "✗" not in old.plain  # an hour old: muted, no cross
    state = dataclasses.replace(pegasus(), kernel_events=tuple(found))
    (counts,) = [f for f in families([state], [], NOW) if f.name == "gb10dash_kernel_events"]
    assert {s.labels["kind"]: s.value for s in counts.samples} == {"xid": 4, "gpu_no_memory": 1, "oom_kill": 3}
    (last,) = [f for f in families([state], [], NOW) if f.name == "gb10dash_kernel_last_event_timestamp_seconds"]
    assert {s.labels["kind"] for s in last.samples} == {"xid", "gpu_no_memory", "oom_kill"}
    assert KernelEventKind.XID.value == "xid"


def test_a_recorded_kernel_journal_entry() -> None:
    """`journalctl -k -o json` of the lab's journald (systemd 252) reading a kernel record: _TRANSPORT=kernel."""
    from gb10dash.collectors.journal import parse_journal_line
    from gb10dash.collectors.kernel_events import event_of

    line = (Path(__file__).resolve().parents[1] / "fixtures" / "journal" / "kernel-xid-lab.jsonl").read_text()
    entry = parse_journal_line(line)
    assert entry is not None and entry.cursor and entry.at is not None
    event = event_of(entry)
    assert (
        event is not None and event.kind is KernelEventKind.XID and (event.xid, event.process) == (79, "llama-server")
    )
    assert event.at == entry.at
