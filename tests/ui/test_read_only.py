"""Read-only (gb10dash serve --read-only): the command registry walked against a live app on the lab.

Every command the registry marks mutating — by its key, by the palette's path (run_action) and by the
one door to the executor — is refused with the reason, shows no plan, runs nothing and writes no audit
record. A control app that is not read-only shows the drop-caches plan for the same key, so the walk
would see a command that slipped through."""

from __future__ import annotations

import pytest
from lab import labctl
from lab.labctl import until

from gb10dash.actions.drop_caches import plan_drop_caches
from gb10dash.commands import COMMANDS, MUTATING
from gb10dash.lab import Lab
from gb10dash.ui.app import Gb10DashApp
from gb10dash.ui.screens.confirm import ConfirmScreen


def messages(app: Gb10DashApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


@pytest.fixture
def private_state(tmp_path, monkeypatch):
    """The audit log of this test only: anything an action wrote would land here."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state" / "gb10dash" / "audit.jsonl"


def test_the_registry_marks_every_command_that_changes_a_host() -> None:
    assert {
        "restart",
        "swap",
        "rebuild",
        "rebuild_only",
        "revert_build",
        "cancel_action",
        "drop_caches",
        "recover",
        "chat",
        "bench",
    } <= MUTATING
    assert not {"next_host", "help", "quit", "toggle_summary", "copy_log"} & MUTATING
    assert all(callable(getattr(Gb10DashApp, f"action_{c.id}", None)) for c in COMMANDS)


async def test_every_mutating_command_is_refused_in_a_read_only_app(lab: Lab, private_state) -> None:
    app = Gb10DashApp(labctl.config(lab), refresh_s=0.5, read_only=True)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(lambda: "pegasus" in app.shown and app.shown["pegasus"].healthy, 30, "pegasus healthy")
        for command in COMMANDS:
            if not command.mutating:
                continue
            refusal = f"{command.id.replace('_', ' ')} is disabled"
            paths = ["palette"] + (["key"] if command.bound else [])
            for path in paths:
                app._notifications.clear()
                if path == "key":
                    await pilot.press(command.key.split(",")[0])
                else:
                    await app.run_action(command.id)
                await pilot.press("y")  # would confirm a plan, had one been shown
                await pilot.pause(0.1)
                assert len(app.screen_stack) == 1, f"{command.id} by {path} opened {app.screen!r}"
                assert any(refusal in m for m in messages(app)), f"{command.id} by {path}: {messages(app)}"
                assert app.check_action(command.id, ()) is None  # shown disabled in the footer
        # the executor's door itself: a plan handed to it directly is refused too
        app._notifications.clear()
        plan = plan_drop_caches(app.monitors["pegasus"].host, None)
        app.workflows.start("pegasus", lambda flows: flows.confirm_and_run(plan), unasked=True)
        await until(lambda: any("is disabled" in m for m in messages(app)), 10, "the refusal")
        await until(lambda: not app.workflows.running, 10, "the workflow to end")
        assert len(app.screen_stack) == 1 and not app.workflows.tasks
    assert not private_state.exists(), private_state.read_text()


async def test_control_the_same_key_shows_the_plan_when_not_read_only(lab: Lab, private_state) -> None:
    app = Gb10DashApp(labctl.config(lab), refresh_s=0.5)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(lambda: "pegasus" in app.shown and app.shown["pegasus"].meminfo, 30, "pegasus's memory")
        await pilot.press("D")
        await until(lambda: isinstance(app.screen, ConfirmScreen), 5, "the drop-caches plan")
        assert app.check_action("drop_caches", ()) is True
        await pilot.press("n")  # not run
        await pilot.pause(0.1)
        assert len(app.screen_stack) == 1
    assert not private_state.exists()
