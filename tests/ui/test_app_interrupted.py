"""The dashboard and plans that must not be left half-done, on the real hosts: a signal mid-swap undoes
it before the app exits; a swap whose dashboard was SIGKILLed shows a banner, and R recovers it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from lab import labctl
from lab.labctl import until
from lab.test_actions_swap import served
from lab.test_interrupted_plans import (  # noqa: F401  (slow_start, private_state: fixtures)
    FIRST,
    HOST,
    SECOND,
    events,
    marker,
    private_state,
    slow_start,
    start_swap,
    unit_files,
)

from gb10dash.actions.audit import AuditLog
from gb10dash.lab import Lab
from gb10dash.ui.app import Gb10DashApp
from gb10dash.ui.screens.confirm import ConfirmScreen
from gb10dash.ui.screens.model_picker import ModelPicker
from gb10dash.ui.widgets.recovery_banner import RecoveryBanner


async def swap_from_the_picker(app: Gb10DashApp, pilot, model: str) -> None:
    await until(lambda: HOST in app.shown and app.shown[HOST].healthy, 30, f"{HOST} healthy")
    await pilot.press("n")
    assert app.focused_host == HOST
    await pilot.press("m")
    picker = await until(lambda: isinstance(app.screen, ModelPicker) and app.screen, 20, "the picker")
    options = picker.query_one("OptionList")
    options.highlighted = next(
        i
        for i in range(options.option_count)
        if (options.get_option_at_index(i).id or "").endswith(os.path.basename(model))
    )
    await pilot.press("enter")
    await until(lambda: isinstance(app.screen, ConfirmScreen), 20, "the swap plan")
    await pilot.press("y")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
async def test_a_signal_mid_swap_undoes_it_before_the_dashboard_exits(
    lab: Lab,
    slow_start: Path,  # noqa: F811
    signum: signal.Signals,
) -> None:
    before = unit_files(lab, slow_start)
    app = Gb10DashApp(labctl.config(lab), refresh_s=0.5)
    async with app.run_test(size=(160, 48)) as pilot:
        await swap_from_the_picker(app, pilot, SECOND)
        await until(
            lambda: (view := app.workflows.views.get(HOST)) is not None and view.title == "wait for the model to load",
            30,
            "the swap's wait step",
        )
        os.kill(os.getpid(), signum)  # the real signal, to this process: the app's own handler takes it
        await until(lambda: app.return_code is not None, 120, "the app to exit after the undo")
    assert app.return_code == 3
    assert unit_files(lab, slow_start) == before and not marker(lab).exists()
    assert served(lab) == os.path.basename(FIRST)
    record = AuditLog().read()[-1]
    assert record["action"] == "swap" and record["result"] == "cancelled, rolled back"
    assert record["error"] == f"interrupted by {signum.name}"
    assert AuditLog().unfinished() == []


async def test_a_killed_swap_shows_a_banner_and_r_recovers_it(lab: Lab, slow_start: Path) -> None:  # noqa: F811
    before = unit_files(lab, slow_start)
    killed = start_swap(lab)
    killed.kill()
    killed.wait(10)
    (unended,) = AuditLog().unfinished(HOST)
    app = Gb10DashApp(labctl.config(lab), refresh_s=0.5)
    async with app.run_test(size=(160, 48)) as pilot:
        banner = app.query_one(RecoveryBanner)
        await until(lambda: banner.display and "never ended" in str(banner.render()), 30, "the recovery banner")
        assert f"{HOST}: the swap: serve {SECOND}" in str(banner.render())
        assert any("gb10dash recover" in w for w in app.shown[HOST].warnings())
        await pilot.press("n")
        await pilot.press("R")
        confirm = await until(lambda: isinstance(app.screen, ConfirmScreen) and app.screen, 20, "the recovery plan")
        assert "restore the previous drop-in" in str(confirm.query_one("#confirm-plan").render())
        await pilot.press("y")
        await until(
            lambda: any("recover done" in str(n.message) for n in app._notifications), 90, "the recovery to finish"
        )
        await until(lambda: not banner.display, 20, "the banner to go")
        await pilot.press("q")
    assert unit_files(lab, slow_start) == before and not marker(lab).exists()
    lab.wait_ready(60)
    assert served(lab) == os.path.basename(FIRST)
    assert events(unended["plan_id"]) == ["started", "interrupted", "recovered"]
