"""What a running front end (the dashboard, `watch`, the exporter) feeds the ledger: each host's counters
from its states, written when they have moved and `every_s` has passed since the last write, and at once
when the server or the model changed (so that the old server's last tokens are in before the new one's)."""

from __future__ import annotations

import sqlite3

from gb10dash.core.state import HostState
from gb10dash.ledger.accounting import CounterReading, reading_of, same_server
from gb10dash.ledger.settings import LedgerSettings
from gb10dash.ledger.store import LedgerError, LedgerStore

RECORD_EVERY_S = 10.0


class LedgerRecorder:
    def __init__(self, store: LedgerStore | None = None, *, every_s: float = RECORD_EVERY_S):
        self.store = store or LedgerStore()
        self.every_s = every_s
        self.problem: str | None = None  # why the last write failed (None once one works)
        self._written: dict[str, CounterReading] = {}  # host -> the last reading written
        self._seen: dict[str, CounterReading] = {}  # host -> the last reading seen

    def observe(self, state: HostState) -> None:
        reading = reading_of(state)
        if reading is None:
            return
        last, seen = self._written.get(reading.host), self._seen.get(reading.host)
        self._seen[reading.host] = reading
        if last is not None and not self._due(last, reading):
            return
        if seen is not None and seen != last and not (same_server(seen, reading) and seen.model == reading.model):
            self._write(seen)  # the old server's (or model's) last tokens, before the new one counts
        self._write(reading)

    def _write(self, reading: CounterReading) -> None:
        try:
            self.store.record(reading)
        except (LedgerError, OSError, sqlite3.Error) as exc:
            self.problem = f"the token ledger {self.store.path} cannot be written: {exc}"
            return
        self.problem = None
        self._written[reading.host] = reading

    def _due(self, last: CounterReading, now: CounterReading) -> bool:
        if not same_server(last, now) or last.model != now.model:
            return True
        moved = (now.prompt_total, now.generated_total) != (last.prompt_total, last.generated_total)
        return moved and now.at - last.at >= self.every_s


def recorder_for(settings: LedgerSettings) -> LedgerRecorder | None:
    """The recorder a running front end feeds ([ledger] of hosts.toml), None when the ledger is off.
    A writer waits at most 1 s for another's transaction: a front end's loop is never held long."""
    return LedgerRecorder(LedgerStore(settings.path, busy_timeout_s=1.0)) if settings.enabled else None
