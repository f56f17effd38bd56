"""`gb10dash doctor [HOST…] [--json]`: one line per check (✓ / ! / ✗) with the exact fix; exit 1 on any ✗."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence

from gb10dash.config import Config
from gb10dash.doctor.checks import Check, failed
from gb10dash.doctor.probes import diagnose

EXIT_OK, EXIT_FAILED = 0, 1


async def doctor_command(config: Config, names: Sequence[str], *, as_json: bool) -> int:
    hosts = config.select(names)
    results: list[list[Check]] = await asyncio.gather(*(diagnose(config, host) for host in hosts))
    if as_json:
        print(
            json.dumps(
                {
                    "schema": "gb10dash.doctor/1",
                    "ok": not any(failed(r) for r in results),
                    "hosts": [
                        {"name": h.name, "ok": not failed(r), "checks": [c.as_json() for c in r]}
                        for h, r in zip(hosts, results)
                    ],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        for host, checks in zip(hosts, results):
            print(f"{host.name}:")
            for check in checks:
                print("  " + check.line().replace("\n", "\n  "))
        bad = [h.name for h, r in zip(hosts, results) if failed(r)]
        print(
            f"\n{'✗ ' + ', '.join(bad) + ': fix the ✗ lines above' if bad else '✓ every check passed'}", file=sys.stdout
        )
    return EXIT_FAILED if any(failed(r) for r in results) else EXIT_OK
