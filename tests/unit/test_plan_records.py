"""The write-ahead audit records and the host-side plan marker: what a recovery reads back."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from gb10dash.actions.audit import AuditLog, PlanRecord, StepRecord
from gb10dash.actions.pending import PendingPlan, undo_steps
from gb10dash.actions.plan import Plan, Step, StepKind
from gb10dash.actions.recover import Interrupted, close_unfinished, plan_recovery

DROPIN = "[Service]\nExecStart=\nExecStart=/opt/llama-server -m '/models/a b.gguf' --api-key s3cret\n"
RESTORE = Step(
    "restore the previous drop-in",
    argv=("sudo", "-n", "tee", "/etc/x.d/gb10dash-model.conf"),
    stdin=DROPIN,
    timeout_s=30.0,
)
WAIT = Step("wait for the previous model", kind=StepKind.WAIT_HEALTHY, timeout_s=300.0)
PLAN = Plan(
    "swap",
    "stella",
    (
        Step(
            "write the drop-in",
            argv=("sudo", "-n", "tee", "/etc/x.d/gb10dash-model.conf"),
            stdin="new\n",
            undo=(RESTORE, WAIT),
        ),
        Step("restart the service", argv=("sudo", "-n", "systemctl", "restart", "llama-server")),
        Step("check", kind=StepKind.EXPECT_MODEL, expect="b.gguf", undo=(Step("last undo", argv=("true",)),)),
    ),
    summary="serve b",
)


def test_a_step_round_trips_through_its_dict_with_stdin_and_undo() -> None:
    for step in PLAN.steps:
        assert Step.from_dict(json.loads(json.dumps(step.to_dict()))) == step


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"argv": ["x"]}, "no title"),
        ({"title": "t", "argv": "rm -rf /"}, "argv must be a list of strings"),
        ({"title": "t", "kind": "shell", "argv": ["x"]}, "unknown kind 'shell'"),
        ({"title": "t", "argv": []}, "needs an argv"),
        ({"title": "t", "argv": ["x"], "timeout_s": -1}, "timeout_s"),
        ({"title": "t", "argv": ["x"], "stdin": 5}, "stdin must be text"),
        ({"title": "t", "argv": ["x"], "undo": [{"title": "u"}]}, "'u': a command step needs an argv"),
    ],
)
def test_a_bad_step_is_refused_naming_what_is_wrong(bad: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Step.from_dict(bad)


def test_undo_steps_run_newest_step_first() -> None:
    assert [s.title for s in undo_steps(PLAN)] == [
        "last undo",
        "restore the previous drop-in",
        "wait for the previous model",
    ]


def test_the_marker_round_trips_and_a_damaged_one_names_itself() -> None:
    pending = PendingPlan.of(PLAN, "id-1", "llama-server", 1_800_000_000.0)
    back = PendingPlan.from_json(pending.to_json(), "/home/llm-agent/m.json")
    assert back == pending and back.undo[1].stdin == DROPIN
    with pytest.raises(ValueError, match=r"^/m.json: line 1: not JSON"):
        PendingPlan.from_json("{", "/m.json")
    with pytest.raises(ValueError, match="not a gb10dash plan marker"):
        PendingPlan.from_json('{"version": 99}', "/m.json")
    data = json.loads(pending.to_json())
    data["undo"][0]["argv"] = "true"
    with pytest.raises(ValueError, match="^/m.json: step 'last undo': argv must be a list"):
        PendingPlan.from_json(json.dumps(data), "/m.json")


def test_the_recovery_is_the_undo_steps_as_a_plan() -> None:
    pending = PendingPlan.of(PLAN, "id-1", "llama-server", 1_800_000_000.0)
    plan = plan_recovery(pending, "stella-here")
    assert plan.action == "recover" and plan.host == "stella-here" and plan.recovers == "id-1"
    assert plan.steps == undo_steps(PLAN) and not any(step.undo for step in plan.steps)
    with pytest.raises(ValueError, match="no undo steps"):
        plan_recovery(PendingPlan.of(Plan("restart", "stella", (PLAN.steps[1],)), "id-2", "u", 0.0), "stella")


def test_the_write_ahead_record_is_on_disk_before_the_end_and_holds_no_stdin_text(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "state" / "audit.jsonl")
    record = PlanRecord("stella", "swap", "serve b")
    log.started(record, PLAN)
    assert stat.S_IMODE(os.stat(log.path).st_mode) == 0o600
    assert [r["plan_id"] for r in log.unfinished("stella")] == [record.plan_id]
    assert log.unfinished("pegasus") == [] and log.read() == []
    text = log.path.read_text()
    assert "s3cret" not in text and "new\\n" not in text  # stdin only by size and hash
    started = json.loads(text)
    assert started["steps"][0]["undo"][0]["stdin_bytes"] == len(DROPIN.encode())
    assert started["steps"][0]["undo"][0]["command"] == "sudo -n tee /etc/x.d/gb10dash-model.conf"
    log.step_ended(record, StepRecord("write the drop-in", "sudo -n tee …", "ok"))
    record.result = "ok"
    log.append(record)
    assert log.unfinished() == [] and [r["result"] for r in log.read()] == ["ok"]
    assert log.history(record.plan_id) == ["started", "step", "ended"]


def test_older_lines_without_an_event_are_ended_records(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.path.write_text('{"host": "stella", "action": "restart", "result": "ok"}\n')
    assert [r["action"] for r in log.read()] == ["restart"] and log.unfinished() == []


def test_closing_unfinished_records_keeps_the_markers_plan_for_its_recovery(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    died_early, with_marker = PlanRecord("stella", "restart", "r"), PlanRecord("stella", "swap", "s")
    log.started(died_early, PLAN)
    log.started(with_marker, PLAN)
    pending = PendingPlan.of(PLAN, with_marker.plan_id, "llama-server", with_marker.started_at)
    found = Interrupted("stella", pending, tuple(log.unfinished("stella")))
    assert "gb10dash recover stella" in (found.problem() or "")
    said = close_unfinished(found, log)
    assert len(said) == 1 and "restart started" in said[0] and "nothing was left to undo" in said[0]
    assert log.history(died_early.plan_id) == ["started", "interrupted", "closed"]
    assert log.history(with_marker.plan_id) == ["started", "interrupted"]
    assert [r["plan_id"] for r in log.unfinished()] == [with_marker.plan_id]
    close_unfinished(Interrupted("stella", pending, tuple(log.unfinished("stella"))), log)
    assert log.history(with_marker.plan_id) == ["started", "interrupted"]  # noted once
    assert Interrupted("stella").problem() is None and not Interrupted("stella").any
