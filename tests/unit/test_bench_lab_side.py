"""Pure parts of bench/ (the performance harness): the lab-side counters and the /proc helpers,
on recordings from the lab (sshd -E log at LogLevel VERBOSE, acct v3 file, proc connector datagrams)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # bench/ is a folder of scripts next to the package

from bench.acct import comp_t, parse_acct
from bench.cnproc import EXEC, EXIT, FORK, Attribution, parse_event
from bench.measure import ProcStat, descendants, parse_proc_stat, percentile
from bench.remote_cost import window_cpu
from bench.sshd_log import SshdCounts, count_log

FIXTURES = REPO / "tests" / "fixtures" / "bench"


def datagrams() -> list[bytes]:
    """The recording: each datagram preceded by its length (2 bytes, little-endian)."""
    data, out = (FIXTURES / "cnproc-sh-fork-exec-exit.bin").read_bytes(), []
    while data:
        size = int.from_bytes(data[:2], "little")
        out.append(data[2 : 2 + size])
        data = data[2 + size :]
    return out


def test_sshd_log_counts_connections_logins_and_sessions() -> None:
    # two `ssh alias cmd` runs, then one asyncssh connection (gb10dash status: commands + 2 sftp);
    # the first connection is the lab's readiness probe, which never logs in
    counts = count_log((FIXTURES / "sshd-verbose.log").read_text())
    assert counts == SshdCounts(connections=4, logins=3, commands=7, subsystems=2)


def test_sshd_log_ignores_the_key_lines_and_empty_windows() -> None:
    assert count_log("") == SshdCounts()
    assert (
        count_log("Accepted key ED25519 SHA256:x found at /k:1\nClose session: user root from 1 port 2 id 0\n")
        == SshdCounts()
    )


def test_acct_records_of_a_recording() -> None:
    records = parse_acct((FIXTURES / "acct-v3.bin").read_bytes())
    assert len(records) == 4544 // 64
    ssh = [r for r in records if r.comm == "ssh"]
    assert len(ssh) == 2 and all(r.cpu_s == pytest.approx(0.07) for r in ssh)
    # the sshd that served `ssh stella-llm systemctl show …` was forked by the lab's sshd (pid 14113)
    assert any(r.comm == "sshd" and r.ppid == 14113 for r in records)
    assert all(r.cpu_s >= 0 and r.elapsed_s >= 0 for r in records)


def test_acct_rejects_another_version() -> None:
    data = bytearray((FIXTURES / "acct-v3.bin").read_bytes()[:64])
    data[1] = 2
    with pytest.raises(ValueError, match="version 2"):
        parse_acct(bytes(data))


def test_comp_t_decodes_mantissa_and_base_8_exponent() -> None:
    assert comp_t(7) == 7
    assert comp_t((1 << 13) | 5) == 40
    assert comp_t((2 << 13) | 3) == 192


def test_proc_connector_events_of_a_recording() -> None:
    # `sh -c 'sleep 0.2 & true; wait'`: sh forked and exec'd, it forks sleep, both exit
    events = [parse_event(d) for d in datagrams()]
    assert [e.what for e in events] == [FORK, EXEC, FORK, EXEC, EXIT, EXIT]
    sh, sleep = events[0].tgid, events[2].tgid
    assert events[2].parent_tgid == sh and events[4].tgid == sleep and events[5].tgid == sh
    assert parse_event(b"short") is None


def test_attribution_follows_forks_from_a_root_even_after_the_parent_exits() -> None:
    events = [parse_event(d) for d in datagrams()]
    python = events[0].parent_tgid
    attribution = Attribution({python: "stella", 1: "other"})
    for event in events:
        attribution.feed(event, "sh" if event.what == EXEC else None)
    tally = attribution.tallies["stella"]
    assert (tally.forks, tally.execs) == (2, 2)
    assert tally.pids == {events[0].tgid, events[2].tgid}
    assert attribution.tallies["other"].forks == 0
    assert events[0].tgid not in attribution.owner  # exited processes are forgotten


def test_proc_stat_line_of_a_recording_and_a_name_with_parentheses() -> None:
    stat = parse_proc_stat((FIXTURES / "proc-stat-cat.txt").read_text())
    assert (stat.pid, stat.ppid, stat.start_ticks) == (30372, 30365, 1083953)
    odd = parse_proc_stat("7 (a) b (c) S 1 7 7 0 -1 0 0 0 0 0 100 50 30 20 20 0 1 0 99 0 0")
    assert (odd.pid, odd.ppid, odd.start_ticks) == (7, 1, 99)
    assert odd.cpu_s > 0 and odd.children_cpu_s > 0


def stat(pid: int, ppid: int, cpu: float, start: int = 1) -> ProcStat:
    return ProcStat(pid, ppid, start, cpu, 0.0)


def test_descendants_of_a_root() -> None:
    procs = {p.pid: p for p in (stat(10, 1, 0), stat(11, 10, 0), stat(12, 11, 0), stat(20, 1, 0))}
    assert set(descendants(procs, 10)) == {10, 11, 12}
    assert descendants(procs, 99) == {}


def test_window_cpu_counts_only_the_window() -> None:
    before = {1: stat(1, 0, 5.0), 2: stat(2, 1, 1.0), 3: stat(3, 1, 2.0, start=7)}
    after = {1: stat(1, 0, 5.5), 3: stat(3, 1, 0.25, start=8), 4: stat(4, 1, 0.5)}  # 3: pid reused
    ended = {2: 1.75, 5: 0.1}  # 2 alive at the start, 5 born and ended inside
    assert window_cpu(before, after, ended) == pytest.approx(0.5 + 0.25 + 0.5 + 0.75 + 0.1)


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 95) == 19.0
    assert percentile(values, 50) == 10.0
    assert percentile([3.0], 95) == 3.0
    assert percentile([], 95) != percentile([], 95)  # nan
