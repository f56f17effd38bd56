"""`gb10dash usage`: the token ledger as a table or JSON (what the dashboard, `watch` and the exporter
recorded from each server's /metrics counters while they ran)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from gb10dash.cli import options
from gb10dash.config import Config
from gb10dash.format import iso_utc
from gb10dash.ledger.report import DEFAULT_BY, KEYS, grouped, parse_by, parse_since, text_table, totals
from gb10dash.ledger.store import LedgerError, LedgerStore

SCHEMA = "gb10dash.usage/1"
EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def add(commands: options.Commands) -> None:
    usage = commands.add_parser(
        "usage",
        help="tokens each host and model served, per hour or day, from the token ledger the dashboard, "
        "watch and the exporter keep (across dashboard and server restarts)",
        description="The token ledger: prompt and generated tokens per host, model, day or hour, from "
        "llama-server's /metrics counters as the dashboard, `watch` and the exporter saw them "
        "(SQLite in the XDG state dir, or [ledger] path of hosts.toml). Tokens a server served after the last reading before it stopped "
        "are not known to anyone, and are not counted.",
    )
    usage.add_argument(
        "--since",
        default="7d",
        metavar="WHEN",
        help="a span back from now (90m, 24h, 7d, 2w) or a local date YYYY-MM-DD (default 7d)",
    )
    usage.add_argument(
        "--by",
        default=",".join(DEFAULT_BY),
        metavar="KEYS",
        help=f"group by one or more of {', '.join(KEYS)}, comma-separated (default {','.join(DEFAULT_BY)}); "
        "days and hours in local time",
    )
    options.as_json(usage, f"schema {SCHEMA}")
    usage.set_defaults(run=run_usage)


def run_usage(args: argparse.Namespace, config: Config) -> int:
    now = time.time()
    try:
        since, by = parse_since(args.since, now), parse_by(args.by)
    except ValueError as exc:
        print(f"gb10dash usage: {exc}", file=sys.stderr)
        return EXIT_USAGE
    store = LedgerStore(config.ledger.path)
    try:
        hours = store.hours(since)
    except FileNotFoundError:
        hours = []
        print(
            f"gb10dash usage: no ledger yet ({store.path}): the dashboard, `gb10dash watch` and the exporter "
            "record it while they run, from servers started with --metrics",
            file=sys.stderr,
        )
    except LedgerError as exc:
        print(f"gb10dash usage: {exc}", file=sys.stderr)
        return EXIT_ERROR
    rows = grouped(hours, by)
    if args.json:
        total = totals(rows)
        document = {
            "schema": SCHEMA,
            "ledger": str(store.path),
            "since": iso_utc(since),
            "until": iso_utc(now),
            "by": list(by),
            "rows": [
                {**dict(zip(by, r.key)), "prompt_tokens": r.prompt_tokens, "generated_tokens": r.generated_tokens}
                for r in rows
            ],
            "total": {"prompt_tokens": total.prompt_tokens, "generated_tokens": total.generated_tokens},
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        print(f"tokens served since {time.strftime('%Y-%m-%d %H:%M', time.localtime(since))} (ledger {store.path})")
        print(text_table(rows, by))
    return EXIT_OK
