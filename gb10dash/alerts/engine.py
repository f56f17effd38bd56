"""AlertEngine: the rules' conditions → alerts, with the flapping guard and a history.

A condition must hold for its rule's `for_s` before the alert is raised, and be false for its
`clear_s` before the alert is cleared; UNKNOWN (data missing) changes nothing. The engine does
no I/O and reads no clock of its own: `evaluate(state)` uses `state.at` (or the `now` given), so
tests drive it with any times they like.

For a UI: call `evaluate(state)` whenever a host's state is fresh; it returns the events
(raised / cleared) of that call — ring the bell, post a message, hand each to a Notifier — and
`active`, `active_for(host)`, `pending_for(host)` and `history` give what to draw.
"""

from __future__ import annotations

import collections
import enum
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from gb10dash.alerts.rules import RULES, UNKNOWN, Condition, Recent, observe
from gb10dash.alerts.settings import AlertSettings
from gb10dash.core.state import HostState
from gb10dash.format import iso_utc

EVENT_SCHEMA = "gb10dash.alert/1"


@dataclass(frozen=True, slots=True)
class Alert:
    id: int  # unique within one engine; the same alert keeps it from raised to cleared
    host: str
    rule: str
    severity: str  # "critical" or "warning"
    message: str  # the latest wording of the condition
    since: float  # when the condition began (held since)
    raised_at: float
    cleared_at: float | None = None

    @property
    def active(self) -> bool:
        return self.cleared_at is None

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "since": iso_utc(self.since),
            "raised_at": iso_utc(self.raised_at),
            "cleared_at": iso_utc(self.cleared_at),
        }


class EventKind(enum.StrEnum):
    RAISED = "raised"
    CLEARED = "cleared"


@dataclass(frozen=True, slots=True)
class AlertEvent:
    kind: EventKind
    alert: Alert

    def to_json(self) -> dict[str, Any]:
        """The document a notify command reads on stdin."""
        return {"schema": EVENT_SCHEMA, "event": self.kind, **self.alert.to_json()}


@dataclass(frozen=True, slots=True)
class Pending:
    """A condition that holds but has not held for its rule's `for_s` yet."""

    host: str
    rule: str
    condition: Condition
    since: float
    fires_at: float


@dataclass(slots=True)
class _Track:
    since: float  # condition held since
    condition: Condition
    alert: Alert | None = None  # raised
    false_since: float | None = None  # raised, but its condition false since


class AlertEngine:
    def __init__(self, settings: AlertSettings | None = None, *, history_size: int = 500):
        self.settings = settings or AlertSettings()
        self._tracks: dict[tuple[str, str], _Track] = {}
        self._recent: dict[str, Recent] = {}
        self._history: collections.deque[Alert] = collections.deque(maxlen=history_size)
        self._ids = itertools.count(1)

    # -- what to draw -------------------------------------------------------------------------
    @property
    def active(self) -> list[Alert]:
        """Raised and not cleared, critical first, then oldest first."""
        found = [t.alert for t in self._tracks.values() if t.alert is not None]
        return sorted(found, key=lambda a: (a.severity != "critical", a.raised_at, a.id))

    def active_for(self, host: str) -> list[Alert]:
        return [a for a in self.active if a.host == host]

    def pending_for(self, host: str) -> list[Pending]:
        out = []
        for (name, rule), t in self._tracks.items():
            if name == host and t.alert is None:
                out.append(Pending(host, rule, t.condition, t.since, t.since + self.settings.rule(rule).for_s))
        return out

    @property
    def history(self) -> list[Alert]:
        """Every alert raised (the latest `history_size`), oldest first, with cleared_at once cleared."""
        return list(self._history)

    # -- feeding ------------------------------------------------------------------------------
    def evaluate_all(self, states: Iterable[HostState], now: float | None = None) -> list[AlertEvent]:
        return [event for state in states for event in self.evaluate(state, now)]

    def evaluate(self, state: HostState, now: float | None = None) -> list[AlertEvent]:
        """Run every enabled rule on one host's state; the alerts raised or cleared by it."""
        now = state.at if now is None else now
        recent = observe(self._recent.get(state.name, Recent()), state, now, self.settings)
        self._recent[state.name] = recent
        events: list[AlertEvent] = []
        for rule, check in RULES.items():
            settings = self.settings.rule(rule)
            key = (state.name, rule)
            if not settings.enabled:
                self._tracks.pop(key, None)
                continue
            result = check(state, settings, now, recent)
            if result is UNKNOWN:
                continue
            event = self._step(key, result if isinstance(result, Condition) else None, now)
            if event is not None:
                events.append(event)
        return events

    def forget(self, host: str, now: float) -> list[AlertEvent]:
        """A host left the config: its active alerts are cleared at `now`."""
        events = []
        for key in [k for k in self._tracks if k[0] == host]:
            track = self._tracks.pop(key)
            if track.alert is not None:
                events.append(self._clear(track.alert, now))
        self._recent.pop(host, None)
        return events

    def _step(self, key: tuple[str, str], condition: Condition | None, now: float) -> AlertEvent | None:
        track = self._tracks.get(key)
        rule = self.settings.rule(key[1])
        if condition is None:
            if track is None:
                return None
            if track.alert is None:
                del self._tracks[key]  # it did not hold long enough: forgotten
                return None
            track.false_since = now if track.false_since is None else track.false_since
            if now - track.false_since >= rule.clear_s:
                del self._tracks[key]
                return self._clear(track.alert, now)
            return None
        if track is None:
            since = min(condition.since, now) if condition.since is not None else now
            track = self._tracks[key] = _Track(since=since, condition=condition)
        track.condition, track.false_since = condition, None
        if track.alert is not None:
            if track.alert.message != condition.message:
                track.alert = replace(track.alert, message=condition.message)
                self._replace_in_history(track.alert)
            return None
        if now - track.since >= rule.for_s:
            track.alert = Alert(
                id=next(self._ids),
                host=key[0],
                rule=key[1],
                severity=condition.severity,
                message=condition.message,
                since=track.since,
                raised_at=now,
            )
            self._history.append(track.alert)
            return AlertEvent(EventKind.RAISED, track.alert)
        return None

    def _clear(self, alert: Alert, now: float) -> AlertEvent:
        cleared = replace(alert, cleared_at=now)
        self._replace_in_history(cleared)
        return AlertEvent(EventKind.CLEARED, cleared)

    def _replace_in_history(self, alert: Alert) -> None:
        for index in range(len(self._history) - 1, -1, -1):
            if self._history[index].id == alert.id:
                self._history[index] = alert
                return
