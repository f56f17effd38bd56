"""The token ledger on disk: SQLite under the XDG state dir (0600 in a 0700 directory).

Two tables: `counters` — the last reading of each host's counters, so a dashboard that restarts goes on
from where the last one stopped — and `usage` — tokens served per host, model and hour. Each reading
is one `BEGIN IMMEDIATE` transaction that reads the last reading, adds what was served since and stores
the new one: the dashboard, `watch` and the exporter may all record at once without counting a token
twice (the second writer sees the first one's reading).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gb10dash import locations
from gb10dash.ledger.accounting import CounterReading, Usage, served_between

SCHEMA_VERSION = "1"
HOUR_S = 3600

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS counters (
    host TEXT PRIMARY KEY, model TEXT NOT NULL, server TEXT NOT NULL,
    prompt_total INTEGER NOT NULL, generated_total INTEGER NOT NULL, at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS usage (
    host TEXT NOT NULL, model TEXT NOT NULL, hour INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL, generated_tokens INTEGER NOT NULL,
    PRIMARY KEY (host, model, hour)
);
"""


class LedgerError(Exception):
    """The ledger file cannot be opened or is not a gb10dash ledger."""


@dataclass(frozen=True, slots=True)
class HourUsage:
    host: str
    model: str
    hour: int  # epoch seconds of the hour's start (UTC)
    prompt_tokens: int
    generated_tokens: int


def default_path() -> Path:
    return locations.state_dir() / "ledger.sqlite3"


class LedgerStore:
    def __init__(self, path: Path | None = None, *, busy_timeout_s: float = 10.0):
        self.path = path or default_path()
        self.busy_timeout_s = busy_timeout_s  # how long a writer waits for another one's transaction
        self._checked = False  # the file's tables and schema version have been made / checked

    @contextlib.contextmanager
    def _connection(self, *, create: bool) -> Iterator[sqlite3.Connection]:
        if create:
            locations.make_private_dir(self.path.parent)
            if not self.path.exists():  # created 0600 before SQLite writes a byte to it
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
                self._checked = False  # a new file (the old one removed meanwhile): its tables are made again
        elif not self.path.exists():
            raise FileNotFoundError(self.path)
        try:
            connection = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None)
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: {exc}") from None
        try:
            connection.execute("PRAGMA synchronous=NORMAL")  # per connection; WAL is kept by the file
            if not self._checked:  # once per store: the file's mode, tables and schema version
                connection.execute("PRAGMA journal_mode=WAL")
                if create:
                    connection.executescript(_TABLES)
                    connection.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                version = connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                if version is None or version[0] != SCHEMA_VERSION:
                    raise LedgerError(
                        f"{self.path}: ledger schema {version[0] if version else '?'}, expected {SCHEMA_VERSION}"
                    )
                self._checked = True
            yield connection
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path}: not a gb10dash ledger ({exc})") from None
        finally:
            connection.close()

    def record(self, reading: CounterReading) -> Usage | None:
        """Add what the host served since its last reading (by any writer) to the reading's hour; returns it,
        None for a stale reading (older than the last one stored: nothing is changed)."""
        with self._connection(create=True) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    "SELECT host, model, server, prompt_total, generated_total, at FROM counters WHERE host = ?",
                    (reading.host,),
                ).fetchone()
                served = served_between(CounterReading(*row) if row else None, reading)
                if served is None:
                    db.execute("ROLLBACK")
                    return None
                if served.any:
                    db.execute(
                        "INSERT INTO usage VALUES (?, ?, ?, ?, ?) ON CONFLICT (host, model, hour) DO UPDATE SET "
                        "prompt_tokens = prompt_tokens + excluded.prompt_tokens, "
                        "generated_tokens = generated_tokens + excluded.generated_tokens",
                        (
                            reading.host,
                            reading.model,
                            int(reading.at // HOUR_S * HOUR_S),
                            served.prompt_tokens,
                            served.generated_tokens,
                        ),
                    )
                db.execute(
                    "INSERT OR REPLACE INTO counters VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        reading.host,
                        reading.model,
                        reading.server,
                        reading.prompt_total,
                        reading.generated_total,
                        reading.at,
                    ),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return served

    def hours(self, since: float, until: float | None = None) -> list[HourUsage]:
        """Every (host, model, hour) row whose hour ends after `since` (and starts before `until`)."""
        with self._connection(create=False) as db:
            rows = db.execute(
                "SELECT host, model, hour, prompt_tokens, generated_tokens FROM usage "
                "WHERE hour + ? > ? AND hour < ? ORDER BY hour, host, model",
                (HOUR_S, since, until if until is not None else float("inf")),
            ).fetchall()
        return [HourUsage(*row) for row in rows]

    def last_readings(self) -> list[CounterReading]:
        with self._connection(create=False) as db:
            rows = db.execute(
                "SELECT host, model, server, prompt_total, generated_total, at FROM counters ORDER BY host"
            ).fetchall()
        return [CounterReading(*row) for row in rows]
