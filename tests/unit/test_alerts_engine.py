"""The alert engine with an injected clock: fire after `for_s`, clear after `clear_s`, history, UNKNOWN."""

from __future__ import annotations

import dataclasses

from alert_states import T0, healthy, unit, unreachable

from gb10dash.alerts import AlertEngine, AlertSettings
from gb10dash.alerts.settings import DEFAULT_RULES

STOPPED = unit(active_state="inactive", sub_state="dead", main_pid=None)


def engine(**rules: dict) -> AlertEngine:
    merged = dict(DEFAULT_RULES)
    for name, changes in rules.items():
        merged[name] = dataclasses.replace(DEFAULT_RULES[name], **changes)
    return AlertEngine(AlertSettings(rules=merged))


def test_fires_only_after_the_condition_held_for_its_duration_and_clears_after_the_clear_duration() -> None:
    e = engine(unit={"for_s": 10, "clear_s": 20})
    assert e.evaluate(healthy(T0)) == []
    assert e.evaluate(healthy(T0 + 1, unit=STOPPED)) == []
    assert [p.rule for p in e.pending_for("pegasus")] == ["unit"]
    assert e.pending_for("pegasus")[0].fires_at == T0 + 11
    assert e.evaluate(healthy(T0 + 10.9, unit=STOPPED)) == []
    [raised] = e.evaluate(healthy(T0 + 11, unit=STOPPED))
    assert raised.kind == "raised" and raised.alert.raised_at == T0 + 11 and raised.alert.since == T0 + 1
    assert raised.alert.message == "unit inactive/dead" and e.active == [raised.alert]
    assert e.pending_for("pegasus") == []
    # running again: still active until it has been fine for clear_s
    assert e.evaluate(healthy(T0 + 12)) == []
    assert e.evaluate(healthy(T0 + 31.9)) == [] and e.active_for("pegasus")
    [cleared] = e.evaluate(healthy(T0 + 32))
    assert cleared.kind == "cleared" and cleared.alert.cleared_at == T0 + 32 and cleared.alert.id == raised.alert.id
    assert e.active == [] and e.history == [cleared.alert]


def test_a_blip_shorter_than_the_duration_never_fires_and_a_dip_shorter_than_clear_never_clears() -> None:
    e = engine(unit={"for_s": 10, "clear_s": 10})
    for t in range(0, 60, 4):  # stopped 2 s out of every 4: never 10 s in a row
        e.evaluate(healthy(T0 + t, unit=STOPPED))
        e.evaluate(healthy(T0 + t + 2))
    assert e.active == [] and e.history == []
    e.evaluate(healthy(T0 + 100, unit=STOPPED))
    [raised] = e.evaluate(healthy(T0 + 110, unit=STOPPED))
    for t in range(112, 170, 4):  # fine for 2 s, then stopped again: never clears
        assert e.evaluate(healthy(T0 + t)) == []
        assert e.evaluate(healthy(T0 + t + 2, unit=STOPPED)) == []
    assert e.active == [raised.alert]
    assert len(e.history) == 1


def test_a_condition_that_carries_its_start_fires_once_that_is_long_enough_ago() -> None:
    e = engine(unreachable={"for_s": 30})
    assert e.evaluate(unreachable(T0, since=T0 - 5)) == []
    [raised] = e.evaluate(unreachable(T0 + 25, since=T0 - 5))
    assert raised.alert.rule == "unreachable" and raised.alert.since == T0 - 5


def test_unknown_data_neither_raises_nor_clears() -> None:
    e = engine(unit={"for_s": 0, "clear_s": 0})
    assert [ev.kind for ev in e.evaluate(healthy(T0, unit=STOPPED))] == ["raised"]
    # the host becomes unreachable: the unit rule cannot tell, the alert stays as it is
    e.evaluate(unreachable(T0 + 100, since=T0 + 90))  # not yet its for_s (30 s)
    assert [a.rule for a in e.active] == ["unit"]
    [cleared] = e.evaluate(healthy(T0 + 200))
    assert cleared.alert.rule == "unit"


def test_message_updates_in_place_and_alerts_are_per_host_and_rule() -> None:
    e = engine(unit={"for_s": 0}, memory={"for_s": 0})
    e.evaluate(healthy(T0, unit=unit(active_state="activating", sub_state="auto-restart")))
    other = dataclasses.replace(healthy(T0), config=dataclasses.replace(healthy().config, name="stella"))
    e.evaluate(dataclasses.replace(other, unit=STOPPED))
    assert e.evaluate(healthy(T0 + 1, unit=unit(active_state="failed", sub_state="failed", result="signal"))) == []
    assert [(a.host, a.message) for a in e.active] == [
        ("pegasus", "unit failed (result signal, failed)"),
        ("stella", "unit inactive/dead"),
    ]
    assert e.history[0].message == "unit failed (result signal, failed)"
    assert [a.host for a in e.active_for("stella")] == ["stella"]


def test_critical_before_warning_disabled_rules_and_forget() -> None:
    e = engine(gpu_temp={"for_s": 0}, unit={"for_s": 0}, memory={"enabled": False, "for_s": 0})
    hot = healthy(T0, unit=STOPPED, gpu=dataclasses.replace(healthy().gpu, temperature_c=99.0))
    hot = dataclasses.replace(hot, meminfo=dataclasses.replace(hot.meminfo, available_kib=1))
    e.evaluate(hot)
    assert [(a.rule, a.severity) for a in e.active] == [("unit", "critical"), ("gpu_temp", "warning")]
    events = e.forget("pegasus", T0 + 5)
    assert {ev.kind for ev in events} == {"cleared"} and e.active == []
    assert all(a.cleared_at == T0 + 5 for a in e.history)


def test_event_document_for_notify() -> None:
    e = engine(unit={"for_s": 0})
    [raised] = e.evaluate(healthy(T0, unit=STOPPED))
    doc = raised.to_json()
    assert doc == {
        "schema": "gb10dash.alert/1",
        "event": "raised",
        "host": "pegasus",
        "rule": "unit",
        "severity": "critical",
        "message": "unit inactive/dead",
        "since": "2027-01-15T08:00:00Z",
        "raised_at": "2027-01-15T08:00:00Z",
        "cleared_at": None,
    }


def test_history_is_bounded() -> None:
    e = AlertEngine(
        AlertSettings(rules={**DEFAULT_RULES, "unit": dataclasses.replace(DEFAULT_RULES["unit"], for_s=0, clear_s=0)}),
        history_size=3,
    )
    for i in range(5):
        e.evaluate(healthy(T0 + 2 * i, unit=STOPPED))
        e.evaluate(healthy(T0 + 2 * i + 1))
    assert [a.raised_at for a in e.history] == [T0 + 4, T0 + 6, T0 + 8]
