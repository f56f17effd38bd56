"""/proc/meminfo and /proc/PID/status parsing (GB10-sized, this machine's, and odd cases)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gb10dash.collectors.memory import parse_meminfo, parse_proc_status

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "proc"


def read(name: str) -> str:
    return (FIX / name).read_text()


def test_gb10_meminfo() -> None:
    m = parse_meminfo(read("meminfo-gb10.txt"))
    assert (m.total_kib, m.available_kib, m.free_kib) == (127600748, 52417916, 3891204)
    assert (m.cached_kib, m.buffers_kib, m.swap_total_kib, m.swap_free_kib) == (47902388, 41532, 16777212, 16777212)
    assert m.used_kib == 127600748 - 52417916
    assert m.used_fraction == pytest.approx(0.5892, abs=1e-4)


def test_lab_machine_meminfo_recorded() -> None:
    m = parse_meminfo(read("meminfo-lab-x86_64.txt"))
    assert m.total_kib == 24684096 and m.available_kib == 24225440
    assert m.used_kib == 458656 and m.swap_total_kib == 0


def test_meminfo_without_memavailable_falls_back() -> None:
    m = parse_meminfo(read("meminfo-no-available.txt"))
    assert m.available_kib is None
    assert m.used_kib == 8048100 - 1000000 - 100000 - 2000000


def test_meminfo_without_memtotal_raises() -> None:
    with pytest.raises(ValueError, match="MemTotal"):
        parse_meminfo("MemFree: 1 kB\n")
    with pytest.raises(ValueError, match="MemTotal"):
        parse_meminfo("")


def test_llama_server_status() -> None:
    p = parse_proc_status(read("status-llama-server-gb10.txt"))
    assert (p.pid, p.name, p.vm_rss_kib, p.vm_hwm_kib) == (48213, "llama-server", 2163520, 2641028)
    assert p.state == "S (sleeping)" and not p.is_uninterruptible


def test_lab_machine_status_recorded() -> None:
    p = parse_proc_status(read("status-lab-cat.txt"))
    assert (p.name, p.pid, p.vm_rss_kib, p.vm_hwm_kib) == ("cat", 11630, 1772, 1772)


def test_d_state_process_is_flagged() -> None:
    p = parse_proc_status(read("status-stat-d-state.txt"))
    assert p.is_uninterruptible and p.vm_rss_kib == 1820


def test_kernel_thread_has_no_rss() -> None:
    p = parse_proc_status(read("status-kthread.txt"))
    assert (p.pid, p.vm_rss_kib, p.vm_hwm_kib) == (245, None, None)


def test_empty_status_raises() -> None:
    with pytest.raises(ValueError, match="Pid"):
        parse_proc_status("")
