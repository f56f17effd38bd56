"""The token ledger: accounting between counter readings (pure), the SQLite store (a real file), the
recorder a front end feeds, the report's grouping, [ledger] settings and `gb10dash usage`."""

from __future__ import annotations

import json
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest
from ui.states import pegasus  # states built from recorded outputs

from gb10dash.cli import main
from gb10dash.collectors.llama import parse_metrics
from gb10dash.config import ConfigError, parse_config
from gb10dash.core.state import HostState
from gb10dash.ledger.accounting import CounterReading, Usage, reading_of, served_between
from gb10dash.ledger.recorder import LedgerRecorder
from gb10dash.ledger.report import grouped, parse_by, parse_since, text_table
from gb10dash.ledger.store import HOUR_S, LedgerError, LedgerStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
T0 = 1_796_000_000.0 // HOUR_S * HOUR_S  # an hour's start


def reading(prompt: int, generated: int, at: float, *, server: str = "100@1", model: str = "a.gguf", host: str = "h"):
    return CounterReading(host, model, server, prompt, generated, at)


def test_one_server_served_the_difference() -> None:
    assert served_between(reading(100, 50, T0), reading(160, 90, T0 + 5)) == Usage(60, 40)


def test_a_first_reading_is_the_baseline() -> None:
    assert served_between(None, reading(100, 50, T0)) == Usage(0, 0)


def test_a_new_server_counts_from_zero_even_when_its_counters_are_higher() -> None:
    assert served_between(reading(100, 50, T0), reading(300, 80, T0 + 5, server="200@9")) == Usage(300, 80)


def test_a_counter_that_went_down_is_a_restart_not_negative_usage() -> None:
    assert served_between(reading(100, 50, T0, server=""), reading(30, 10, T0 + 5, server="")) == Usage(30, 10)


def test_an_older_reading_arriving_late_is_stale_not_a_restart() -> None:
    assert served_between(reading(100, 50, T0), reading(90, 45, T0 + 5)) is None  # same PID@start: lower = older
    assert served_between(reading(100, 50, T0, server=""), reading(90, 45, T0 - 1, server="")) is None


def test_reading_of_a_state_takes_the_servers_counters_and_identity() -> None:

    state = pegasus()
    r = reading_of(state)
    assert r is not None and r.host == "pegasus" and r.model == state.model_id
    assert r.prompt_total == int(state.metrics.prompt_tokens_total)  # type: ignore[union-attr]
    assert r.server == f"{state.unit.main_pid}@{state.unit.started_at:.0f}"  # type: ignore[union-attr]
    no_counters = HostState(
        config=state.config,
        at=T0,
        metrics=parse_metrics((FIXTURES / "llama-server" / "metrics_no_counters.body").read_text()),
    )
    assert reading_of(no_counters) is None


def test_the_store_adds_per_hour_and_keeps_the_last_reading(tmp_path: Path) -> None:
    store = LedgerStore(tmp_path / "state" / "ledger.sqlite3")
    assert store.record(reading(100, 50, T0 + 10)) == Usage(0, 0)
    assert store.record(reading(160, 90, T0 + 20)) == Usage(60, 40)
    assert store.record(reading(200, 100, T0 + HOUR_S + 1)) == Usage(40, 10)  # the next hour
    assert store.record(reading(5, 7, T0 + HOUR_S + 2, server="300@2")) == Usage(5, 7)  # a restart
    hours = store.hours(T0)
    assert [(h.hour - T0, h.prompt_tokens, h.generated_tokens) for h in hours] == [(0, 60, 40), (HOUR_S, 45, 17)]
    assert store.hours(T0 + HOUR_S) == hours[1:]  # an hour that ended before `since` is left out
    assert store.last_readings() == [reading(5, 7, T0 + HOUR_S + 2, server="300@2")]
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700


def test_two_writers_at_once_never_count_a_token_twice(tmp_path: Path) -> None:
    """The dashboard and the exporter record the same host: each transaction sees the other's reading."""
    path = tmp_path / "ledger.sqlite3"
    LedgerStore(path).record(reading(0, 0, T0))
    errors: list[BaseException] = []

    def writer() -> None:
        store = LedgerStore(path)
        try:
            for i in range(1, 101):
                store.record(reading(i * 10, i, T0 + i))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    (hour,) = LedgerStore(path).hours(T0)
    assert (hour.prompt_tokens, hour.generated_tokens) == (1000, 100)  # the counters' own totals, once


def test_a_file_that_is_not_a_ledger_is_refused_with_its_path(tmp_path: Path) -> None:
    bogus = tmp_path / "ledger.sqlite3"
    bogus.write_text("not sqlite at all, just text that goes on for a while " * 20)
    with pytest.raises(LedgerError, match=str(bogus)):
        LedgerStore(bogus).record(reading(1, 1, T0))
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        db.execute("INSERT INTO meta VALUES ('schema', '99')")
    with pytest.raises(LedgerError, match="ledger schema 99, expected 1"):
        LedgerStore(other).hours(0)
    with pytest.raises(FileNotFoundError):
        LedgerStore(tmp_path / "absent.sqlite3").hours(0)


def test_the_recorder_writes_when_counters_moved_and_at_once_on_a_new_server(tmp_path: Path) -> None:

    store = LedgerStore(tmp_path / "ledger.sqlite3")
    recorder = LedgerRecorder(store, every_s=10)
    base = pegasus()
    unit = base.unit
    assert unit is not None

    def state(prompt: int, generated: int, at: float, pid: int = unit.main_pid or 1) -> HostState:
        import dataclasses

        text = f"llamacpp:prompt_tokens_total {prompt}\nllamacpp:tokens_predicted_total {generated}\n"
        return dataclasses.replace(
            base, at=at, metrics=parse_metrics(text), unit=dataclasses.replace(unit, main_pid=pid)
        )

    recorder.observe(state(100, 10, T0))  # the baseline: written at once
    recorder.observe(state(150, 20, T0 + 3))  # moved, but under every_s: not yet
    assert [r.prompt_total for r in store.last_readings()] == [100]
    recorder.observe(state(170, 30, T0 + 6))  # the old server's last reading seen ...
    recorder.observe(state(5, 1, T0 + 8, pid=999))  # ... is written before the new server's
    (hour,) = store.hours(T0)
    assert (hour.prompt_tokens, hour.generated_tokens) == (70 + 5, 20 + 1)
    recorder.observe(state(5, 1, T0 + 30, pid=999))  # nothing moved: nothing written
    assert store.last_readings()[0].at == T0 + 8
    assert recorder.problem is None


def test_a_recorder_on_a_broken_file_says_why(tmp_path: Path) -> None:

    broken = tmp_path / "ledger.sqlite3"
    broken.write_text("garbage " * 100)
    recorder = LedgerRecorder(LedgerStore(broken))
    recorder.observe(pegasus())
    assert recorder.problem is not None and str(broken) in recorder.problem


def test_the_report_groups_by_any_keys_in_local_time() -> None:
    from gb10dash.ledger.store import HourUsage

    hours = [
        HourUsage("pegasus", "a.gguf", int(T0), 10, 1),
        HourUsage("stella", "b.gguf", int(T0), 20, 2),
        HourUsage("pegasus", "a.gguf", int(T0 + HOUR_S), 30, 3),
    ]
    by_host = grouped(hours, ("host",))
    assert [(r.key, r.prompt_tokens, r.generated_tokens) for r in by_host] == [
        (("pegasus",), 40, 4),
        (("stella",), 20, 2),
    ]
    by_hour = grouped(hours, ("hour",))
    assert [r.key[0] for r in by_hour] == [
        time.strftime("%Y-%m-%d %H:00", time.localtime(T0)),
        time.strftime("%Y-%m-%d %H:00", time.localtime(T0 + HOUR_S)),
    ]
    table = text_table(by_host, ("host",)).splitlines()
    assert table[0].split() == ["host", "prompt", "tokens", "generated", "tokens", "total"]
    assert table[2].split() == ["pegasus", "40", "4", "44"] and table[-1].split() == ["total", "60", "6", "66"]


def test_by_and_since_say_what_they_expect() -> None:
    assert parse_by("host, day") == ("host", "day")
    with pytest.raises(ValueError, match="expected one or more of host, model, day, hour"):
        parse_by("week")
    with pytest.raises(ValueError, match="named twice"):
        parse_by("host,host")
    assert parse_since("24h", 100_000.0) == 100_000.0 - 86400
    assert parse_since("2w", 2_000_000.0) == 2_000_000.0 - 14 * 86400
    assert parse_since("2026-12-01", 0) == time.mktime(time.strptime("2026-12-01", "%Y-%m-%d"))
    with pytest.raises(ValueError, match=r"--since 'yesterday': expected a span \(e.g. 90m"):
        parse_since("yesterday", 0)


def test_ledger_settings_in_hosts_toml(tmp_path: Path) -> None:
    host = (
        '[[host]]\nname = "h"\ntransport = "local"\napi_url = "http://127.0.0.1:1"\nmodel_path = "/m.gguf"\nctx = 1\n'
    )
    config = parse_config('[ledger]\npath = "data/ledger.sqlite3"\n' + host, tmp_path / "hosts.toml")
    assert config.ledger.enabled and config.ledger.path == tmp_path / "data" / "ledger.sqlite3"
    assert parse_config(host, tmp_path / "hosts.toml").ledger.path is None
    with pytest.raises(ConfigError, match=r"hosts.toml:2: \[ledger\] enabled: expected true or false"):
        parse_config('[ledger]\nenabled = "no"\n' + host, tmp_path / "hosts.toml")
    with pytest.raises(ConfigError, match=r"unknown key 'pth' in \[ledger\] \(did you mean 'path'\?\)"):
        parse_config('[ledger]\npth = "x"\n' + host, tmp_path / "hosts.toml")


def test_usage_prints_the_table_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    host = (
        '[[host]]\nname = "h"\ntransport = "local"\napi_url = "http://127.0.0.1:1"\nmodel_path = "/m.gguf"\nctx = 1\n'
    )
    config = tmp_path / "hosts.toml"
    config.write_text(f'[ledger]\npath = "{ledger}"\n' + host)
    assert main(["--config", str(config), "usage"]) == 0
    assert "no ledger yet" in capsys.readouterr().err
    store = LedgerStore(ledger)
    now = time.time()
    store.record(reading(0, 0, now - 60, host="h"))
    store.record(reading(1234, 56, now - 30, host="h"))
    assert main(["--config", str(config), "usage", "--by", "host,model"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[3].split() == ["h", "a.gguf", "1,234", "56", "1,290"]
    assert main(["--config", str(config), "usage", "--json", "--by", "day", "--since", "1h"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["schema"] == "gb10dash.usage/1" and document["by"] == ["day"]
    assert document["total"] == {"prompt_tokens": 1234, "generated_tokens": 56}
    assert main(["--config", str(config), "usage", "--by", "week"]) == 2
    assert "--by 'week'" in capsys.readouterr().err


def test_counters_read_before_the_units_state_are_no_reading() -> None:
    """After a restart the new MainPID can arrive before the new server's counters: the old server's
    counters under the new server's name would be counted twice (seen on the lab)."""
    import dataclasses

    from gb10dash.core.state import SourceStatus

    state = pegasus()
    later = dataclasses.replace(
        state, sources={**state.sources, "unit": SourceStatus(last_ok=state.sources["api"].last_ok + 0.5)}
    )
    assert reading_of(state) is not None and reading_of(later) is None
