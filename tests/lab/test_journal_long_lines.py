"""Lines llama-server writes that journalctl does not print as they are: a line of 1 MB (journald splits
it at LineMax, 48K by default, and without --all journalctl prints each piece's MESSAGE as null) and a
line that is not UTF-8 (a byte array in the JSON). Both arrive readable in the log, the long pieces
capped with the cut shown (real journald, real journalctl, over SSH)."""

from __future__ import annotations

import uuid

from gb10dash.collectors.journal import MESSAGE_CAP
from gb10dash.lab import Lab

from . import labctl
from .faultctl import monitor_for, running
from .labctl import until

HOST = "pegasus"


async def test_a_1mb_line_and_a_non_utf8_line_arrive_readable(lab: Lab) -> None:
    tag = uuid.uuid4().hex[:8]
    monitor = monitor_for(lab, HOST)
    seen = []
    add = monitor._add_log
    monitor._add_log = lambda entry: (seen.append(entry), add(entry))[1]  # every entry, kept or not
    async with running(monitor):
        await until(lambda: monitor.state.sources.get("journal") and monitor._journal_live, 30, "the journal stream")
        long_line = f"LONG-{tag} ".encode() + b"x" * (1024 * 1024)
        with labctl.JournalWriter(lab, HOST) as writer:
            writer.write_bytes(long_line + b"\n" + f"BIN-{tag} caf".encode() + b"\xe9 \xff\xfe end", f"END-{tag}")
        await until(lambda: any(e.message == f"END-{tag}" for e in seen), 30, "the last line")
    first = next(i for i, e in enumerate(seen) if e.message.startswith(f"LONG-{tag}"))
    pieces = [seen[first]] + [e for e in seen[first + 1 :] if e.message.startswith("x" * 10)]
    held = len(labctl.journal_messages(lab, HOST, "xxxxxxxxxx"))
    print(
        f"\n1 MB line: journald holds it as {held} entries; the log got {len(pieces)} pieces, each capped at "
        f"{MESSAGE_CAP} characters: {pieces[0].message[MESSAGE_CAP - 10 :]!r}"
    )
    assert len(pieces) >= 20 and all(p.message.strip() for p in pieces)  # not 22 empty lines
    assert pieces[0].message.startswith(f"LONG-{tag} xxxx")
    assert all(len(p.message) < MESSAGE_CAP + 60 and "more characters cut]" in p.message for p in pieces[:-1])
    (binary,) = [e for e in seen if e.message.startswith(f"BIN-{tag}")]
    assert binary.message == f"BIN-{tag} caf\ufffd \ufffd\ufffd end"  # the bytes that are not UTF-8 shown as such
