"""The dashboard against the live lab (real sshd, llama-server, shims), driven with Textual's pilot."""

from __future__ import annotations

import asyncio
import time

from lab import labctl
from lab.labctl import until

from gb10dash.collectors.llama import HealthState
from gb10dash.lab import Lab
from gb10dash.ui.app import Gb10DashApp
from gb10dash.ui.messages import HostChanged
from gb10dash.ui.screens.confirm import ConfirmScreen
from gb10dash.ui.screens.help import HelpScreen
from gb10dash.ui.screens.model_picker import ModelPicker
from gb10dash.ui.widgets.host_grid import HostGrid
from gb10dash.ui.widgets.log_pane import LogPane


def app_for(lab: Lab) -> Gb10DashApp:
    return Gb10DashApp(labctl.config(lab), refresh_s=0.5)


async def test_both_panels_populate_and_keys_work(lab: Lab) -> None:
    app = app_for(lab)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(
            lambda: all(n in app.shown and app.shown[n].healthy and app.shown[n].gpu for n in ("pegasus", "stella")),
            30,
            "both panels healthy",
        )
        assert app.shown["pegasus"].model_id == lab.host("pegasus").model_path.name
        assert app.focused_host == "pegasus"
        log = app.query_one(LogPane)
        await until(lambda: log.kept_entries, 10, "journal lines in the log pane")
        assert log.host == "pegasus"

        await pilot.press("n")
        assert app.focused_host == "stella" and app.focused.id == "host-stella"
        await until(lambda: log.host == "stella", 5, "the log pane to follow the focus")
        await pilot.press("N")
        assert app.focused_host == "pegasus"

        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)

        before = app.theme
        await pilot.press("t")
        assert app.theme != before

        await pilot.press("p")
        assert log.paused
        await pilot.press("p")
        assert not log.paused

        await pilot.press("q")
    assert app.return_code in (0, None)


async def test_updates_and_redraws_that_come_while_the_app_closes_are_dropped(lab: Lab) -> None:
    """A monitor's update or a redraw timer that fires after the widgets are gone must not raise (it
    did, NoMatches for the log pane, at the end of a pilot run under load)."""
    app = app_for(lab)
    async with app.run_test(size=(160, 48)):
        await until(lambda: app.monitors["pegasus"].log_seq > 0, 30, "pegasus's journal lines")
    app.log_seq.clear()  # lines the log pane has not been given yet
    app.host_changed(HostChanged("pegasus"))
    app.view.dirty.add("pegasus")
    app.refresh_fleet()
    assert not app.query(LogPane) and not app.query(HostGrid)


async def test_stopped_service_shows_in_its_panel(lab: Lab) -> None:
    app = app_for(lab)
    async with app.run_test(size=(160, 48)):
        await until(lambda: "stella" in app.shown and app.shown["stella"].healthy, 30, "stella healthy")
        assert labctl.shim(lab, "stella", "systemctl", "stop", "llama-server").returncode == 0
        try:
            state = await until(
                lambda: (
                    (s := app.shown["stella"]).unit
                    and not s.unit.is_running
                    and s.health
                    and s.health.state is HealthState.DOWN
                    and s
                ),
                20,
                "stella stopped",
            )
            assert (state.unit.active_state, state.unit.sub_state) == ("inactive", "dead")
            assert app.query_one(HostGrid).panel("stella").has_class("-degraded")
            assert app.shown["pegasus"].healthy
        finally:
            assert labctl.shim(lab, "stella", "systemctl", "start", "llama-server").returncode == 0
        await until(lambda: app.shown["stella"].healthy, 30, "stella healthy again")


async def test_killed_sshd_turns_the_host_unreachable_and_it_recovers(lab: Lab) -> None:
    app = app_for(lab)
    async with app.run_test(size=(160, 48)):
        await until(lambda: "pegasus" in app.shown and app.shown["pegasus"].healthy, 30, "pegasus healthy")
        await asyncio.to_thread(labctl.kill_sshd, lab, "pegasus")
        try:
            state = await until(lambda: not (s := app.shown["pegasus"]).connected and s, 15, "pegasus unreachable")
            assert state.unreachable_since is not None
            panel = app.query_one(HostGrid).panel("pegasus")
            assert panel.has_class("-stale")
            assert state.model is not None  # last known values kept
            assert app.shown["stella"].healthy
        finally:
            await asyncio.to_thread(labctl.start_sshd, lab, "pegasus")
        await until(lambda: app.shown["pegasus"].connected and app.shown["pegasus"].healthy, 30, "pegasus back")
        assert not app.query_one(HostGrid).panel("pegasus").has_class("-stale")


def main_pid(lab: Lab, host: str) -> int:
    shown = labctl.shim(lab, host, "systemctl", "show", "llama-server", "-p", "MainPID", "--value")
    return int(shown.stdout.strip())


async def test_restart_key_shows_the_plan_and_restarts_when_confirmed(lab: Lab) -> None:
    app = app_for(lab)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(lambda: "pegasus" in app.shown and app.shown["pegasus"].healthy, 30, "pegasus healthy")
        before = main_pid(lab, "pegasus")
        await pilot.press("r")
        await until(lambda: isinstance(app.screen, ConfirmScreen), 5, "the plan to be shown")
        await pilot.press("n")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmScreen) and main_pid(lab, "pegasus") == before

        await pilot.press("r")
        await until(lambda: isinstance(app.screen, ConfirmScreen), 5, "the plan to be shown")
        await pilot.press("y")
        await until(
            lambda: any("restart done" in str(n.message) for n in app._notifications), 60, "the restart to finish"
        )
        assert main_pid(lab, "pegasus") != before
        await until(
            lambda: app.shown["pegasus"].unit.main_pid == main_pid(lab, "pegasus") and app.shown["pegasus"].healthy,
            30,
            "the panel to show the new process",
        )


async def test_swap_key_picks_a_model_and_serves_it(lab: Lab) -> None:
    app = app_for(lab)
    dropin = lab.layout.host("stella").dropin_dir / "gb10dash-model.conf"
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await until(lambda: "stella" in app.shown and app.shown["stella"].healthy, 30, "stella healthy")
            await pilot.press("n")
            assert app.focused_host == "stella"
            await pilot.press("m")
            picker = await until(lambda: isinstance(app.screen, ModelPicker) and app.screen, 20, "the picker")
            options = picker.query_one("OptionList")
            disabled = {
                options.get_option_at_index(i).id
                for i in range(options.option_count)
                if options.get_option_at_index(i).disabled
            }
            assert any(path.endswith("corrupt.gguf") for path in disabled)
            target = next(
                i
                for i in range(options.option_count)
                if (options.get_option_at_index(i).id or "").endswith("Qwen3-14B-Q4_K_M.gguf")
            )
            options.highlighted = target
            await pilot.press("enter")
            await until(lambda: isinstance(app.screen, ConfirmScreen), 20, "the swap plan")
            await pilot.press("y")
            await until(
                lambda: any("swap done" in str(n.message) for n in app._notifications), 90, "the swap to finish"
            )
            await until(
                lambda: app.shown["stella"].model_id == "Qwen3-14B-Q4_K_M.gguf", 30, "the panel to show the new model"
            )
    finally:
        dropin.unlink(missing_ok=True)
        labctl.shim(lab, "stella", "systemctl", "daemon-reload")
        labctl.shim(lab, "stella", "systemctl", "reset-failed", "llama-server")
        labctl.shim(lab, "stella", "systemctl", "restart", "llama-server")
        lab.wait_ready(60)


async def test_chat_key_opens_the_chat_pane_on_the_focused_host(lab: Lab) -> None:
    from gb10dash.ui.screens.chat import ChatScreen

    app = app_for(lab)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(lambda: "pegasus" in app.shown and app.shown["pegasus"].healthy, 30, "pegasus healthy")
        await pilot.press("c")
        await until(lambda: isinstance(app.screen, ChatScreen), 10, "the chat pane")
        assert app.screen.host_name == "pegasus"


async def test_palette_benchmark_records_and_shows_the_run(lab: Lab) -> None:
    from gb10dash.bench.history import read_history
    from gb10dash.ui.widgets.bench_line import BenchLine

    app = app_for(lab)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(lambda: "stella" in app.shown and app.shown["stella"].healthy, 30, "stella healthy")
        await pilot.press("n")
        await app.run_action("bench")
        await until(lambda: read_history("stella"), 120, "a bench run in the history")
        line = app.query_one(HostGrid).panel("stella").query_one(BenchLine)
        await until(lambda: "bench" in str(line._shown) and "gen" in str(line._shown), 10, "the bench line")
        (run,) = read_history("stella")
        assert run.model == "Qwen_Qwen3-8B-Q8_0.gguf" or run.model.endswith("Qwen_Qwen3-8B-Q8_0.gguf")
        assert run.gen_tps and run.gen_tps > 0


async def test_a_running_build_shows_its_progress_and_x_cancels_it_on_the_host(lab: Lab, tmp_path) -> None:
    """A streamed step over the lab's sshd (a build-like script with children): the action bar shows its
    percentage and last line; x, confirmed, kills every process of it on the host."""
    from lab.test_streamed_step import SPAWNS_CHILDREN, _pids, _wait_gone

    from gb10dash.actions.plan import Plan, Step
    from gb10dash.ui.widgets.action_progress import ActionProgress

    app = app_for(lab)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(lambda: "stella" in app.shown and app.shown["stella"].connected, 30, "stella connected")
        await pilot.press("n")
        local, remote = labctl.host_dir(lab, "stella", tmp_path / "host")
        plan = Plan(
            "rebuild",
            "stella",
            (Step("build llama-server", streamed=True, argv=("sh", "-c", SPAWNS_CHILDREN, "b", remote)),),
        )
        app.workflows.start("stella", lambda flows: flows.confirm_and_run(plan), unasked=True)
        pids = await _pids(local, lab, "stella")
        await until(
            lambda: "stella" in app.workflows.views and app.workflows.views["stella"].percent == 1,
            20,
            "the build's [  1%] line",
        )
        await pilot.pause(0.1)
        bar = app.query_one(ActionProgress)
        assert bar.display
        assert "rebuild on stella · step 1/1 · build llama-server · 1%" in str(
            bar.query_one("#action-headline").render()
        )
        assert "common/arg.cpp.o" in str(bar.query_one("#action-lines").render())
        await pilot.press("x")
        await until(lambda: isinstance(app.screen, ConfirmScreen), 5, "the cancel question")
        await pilot.press("y")
        await until(lambda: "stella" not in app.workflows.running, 20, "the action to end")
        assert await _wait_gone(pids) == []
        await pilot.pause(0.1)
        assert not bar.display
        assert any("rebuild cancelled" in str(n.message) for n in app._notifications)


async def test_wedge_canary_marks_a_silent_server_and_auto_restarts_it_once(lab: Lab, tmp_path) -> None:
    """pegasus's API is a server whose /health says ok while every request hangs (the wedge): the
    canary marks the host degraded ("wedged") and the auto-restart policy restarts the real unit —
    once, as its hourly budget of 1 allows — through the audited restart plan. stella, a real
    llama-server, passes its canary."""
    import dataclasses

    from gb10dash.actions.audit import AuditLog
    from gb10dash.core.canary import CanarySettings
    from gb10dash.lab.faults import FaultServer

    config = labctl.config(lab)
    async with FaultServer("wedged") as wedged:
        hosts = tuple(
            dataclasses.replace(h, api_url=wedged.url, api_via_ssh=False) if h.name == "pegasus" else h
            for h in config.hosts
        )
        canary = CanarySettings(interval_s=10, timeout_s=1.0, auto_restart=True, max_restarts_per_hour=1)
        app = Gb10DashApp(dataclasses.replace(config, hosts=hosts, canary=canary), refresh_s=0.5)
        app.fleet.canary_first_after_s = 0.5
        before = main_pid(lab, "pegasus")
        async with app.run_test(size=(160, 48)):
            await until(lambda: "stella" in app.fleet.canary_results, 30, "stella's canary")
            assert app.fleet.canary_results["stella"].ok and (app.fleet.canary_results["stella"].tps or 0) > 0
            await until(lambda: "pegasus" in app.fleet.canary_results, 30, "pegasus's canary")
            result = app.fleet.canary_results["pegasus"]
            assert not result.ok and result.error == "no answer to the canary within 1 s"
            await until(
                lambda: (
                    "pegasus" in app.shown
                    and "wedged: no answer to the canary within 1 s" in app.shown["pegasus"].problems()
                ),
                10,
                "the panel to say wedged",
            )
            assert not app.shown["pegasus"].healthy and app.shown["pegasus"].health.state is HealthState.OK
            await until(lambda: main_pid(lab, "pegasus") != before, 60, "the auto-restart")
            await until(lambda: "pegasus" not in app.workflows.running, 60, "the restart plan to end")
            restarted = main_pid(lab, "pegasus")
            records = AuditLog().read()
            assert [r["action"] for r in records] == ["restart"] and records[0]["result"] == "ok"
            # the next probe fails again, but the budget (1 an hour) allows no second restart
            await until(lambda: app.fleet.canary_results["pegasus"].at > result.at + 5, 30, "the next canary")
            await asyncio.sleep(1.0)
            assert main_pid(lab, "pegasus") == restarted and len(AuditLog().read()) == 1
    lab.wait_ready(60)


async def test_a_stopped_service_raises_an_alert_banner_bell_notify_and_history_then_clears(lab: Lab, tmp_path) -> None:
    """The alert engine in the dashboard: stella's unit stopped → after the rule's duration the banner
    and stella's panel show the alert, the bell rings, the notify command gets the event as JSON on
    stdin; started again → cleared after clear_s, kept in the history with both times."""
    import dataclasses
    import json
    import sys

    from gb10dash.alerts import AlertSettings
    from gb10dash.alerts.settings import DEFAULT_RULES
    from gb10dash.ui.screens.alert_history import AlertHistoryScreen
    from gb10dash.ui.widgets.alert_banner import AlertBanner

    events = tmp_path / "events.jsonl"
    notify = (sys.executable, "-c", f"import sys; open({str(events)!r}, 'a').write(sys.stdin.read())")
    rules = {**DEFAULT_RULES, "unit": dataclasses.replace(DEFAULT_RULES["unit"], for_s=2.0, clear_s=2.0)}
    config = labctl.config(lab)
    config = dataclasses.replace(config, alerts=AlertSettings(rules=rules, bell=True, notify=notify))
    rings: list[int] = []
    app = Gb10DashApp(config, refresh_s=0.5)
    app.bell = lambda: rings.append(1)  # type: ignore[method-assign]  # count the rings (no terminal here)
    async with app.run_test(size=(160, 48)) as pilot:
        await until(lambda: "stella" in app.shown and app.shown["stella"].healthy, 30, "stella healthy")
        banner = app.query_one(AlertBanner)
        assert not banner.display and not app.fleet.engine.active
        assert labctl.shim(lab, "stella", "systemctl", "stop", "llama-server").returncode == 0
        try:
            stopped_at = time.monotonic()
            await until(lambda: app.fleet.engine.active_for("stella"), 30, "the unit alert")
            held = time.monotonic() - stopped_at
            (alert,) = app.fleet.engine.active_for("stella")
            assert alert.rule == "unit" and held >= 2.0
            await pilot.pause(0.6)
            assert banner.display and "stella unit:" in str(banner.render())
            panel_text = str(app.query_one(HostGrid).panel("stella").query_one("AlertsView").render())
            assert "⚠ ALERT unit:" in panel_text
            assert rings and not app.fleet.engine.active_for("pegasus")
            await until(lambda: events.exists() and events.read_text().count("\n") >= 1, 15, "the notify command")
            raised = json.loads(events.read_text().splitlines()[0])
            assert (raised["event"], raised["host"], raised["rule"]) == ("raised", "stella", "unit")
        finally:
            assert labctl.shim(lab, "stella", "systemctl", "start", "llama-server").returncode == 0
        await until(lambda: not app.fleet.engine.active, 60, "the alert to clear")
        await until(lambda: events.read_text().count("\n") >= 2, 15, "the cleared event")
        assert json.loads(events.read_text().splitlines()[1])["event"] == "cleared"
        await pilot.pause(0.6)
        assert not banner.display
        await pilot.press("a")
        assert isinstance(app.screen, AlertHistoryScreen)
        (row,) = [r for r in app.screen._rows if r[3] == "stella"]
        assert row[4] == "unit" and row[1] != "active"
        await pilot.press("escape")


def _alerting_app(lab: Lab, rules: dict, **host_changes) -> Gb10DashApp:
    """The dashboard on the lab with some alert rules shortened (and pegasus's config changed)."""
    import dataclasses

    from gb10dash.alerts import AlertSettings
    from gb10dash.alerts.settings import DEFAULT_RULES

    config = labctl.config(lab)
    merged = {
        **DEFAULT_RULES,
        **{name: dataclasses.replace(DEFAULT_RULES[name], **changes) for name, changes in rules.items()},
    }
    hosts = tuple(dataclasses.replace(h, **host_changes) if h.name == "pegasus" else h for h in config.hosts)
    return Gb10DashApp(dataclasses.replace(config, hosts=hosts, alerts=AlertSettings(rules=merged)), refresh_s=0.5)


async def test_a_hung_share_raises_its_alert_in_the_dashboard_and_it_clears(lab: Lab, tmp_path) -> None:
    """pegasus's model share is a real FUSE mount that never answers (a hung NFS server): after the
    rule's duration the share alert shows in the banner and the panel; once the share answers again
    (a bind mount stands in for NFS coming back) it clears."""
    import pytest

    from gb10dash.lab.faults import hung_mount_unavailable
    from gb10dash.ui.widgets.alert_banner import AlertBanner

    if hung_mount_unavailable():
        pytest.skip(f"hung share: {hung_mount_unavailable()}")
    with labctl.HungShare(lab, "pegasus", tmp_path) as hung:
        app = _alerting_app(lab, {"share": {"for_s": 2.0, "clear_s": 2.0}}, model_share=hung.remote)
        async with app.run_test(size=(160, 48)) as pilot:
            (alert,) = await until(lambda: app.fleet.engine.active_for("pegasus"), 40, "the share alert")
            assert alert.rule == "share" and "hung" in alert.message
            await pilot.pause(0.6)
            assert "pegasus share:" in str(app.query_one(AlertBanner).render())
            assert not app.fleet.engine.active_for("stella")
            hung.release()
            hung.answer_again()
            await until(lambda: not app.fleet.engine.active_for("pegasus"), 40, "the share alert to clear")
            assert [a.rule for a in app.fleet.engine.history] == ["share"]


async def test_a_throttled_server_raises_the_throughput_alert_in_the_dashboard_and_it_clears(lab: Lab) -> None:
    """pegasus's real llama-server, under a request loop, is SIGSTOPped 95 % of the time: its gen tok/s
    falls below half the baseline (measured first, unthrottled, and set as the configured baseline) and
    the dashboard raises the throughput alert; at full speed again it clears."""
    from lab.faultctl import monitor_for, running
    from lab.test_alerts_lab import _chat_loop, _throttle, gen_baseline

    stop_traffic, stop_throttle = asyncio.Event(), asyncio.Event()
    url = labctl.config(lab).host("pegasus").api_url
    traffic = asyncio.create_task(_chat_loop(url, stop_traffic))
    throttle = None
    try:
        monitor = monitor_for(lab, "pegasus")
        async with running(monitor):
            baseline = await gen_baseline(monitor, timeout=90)
        app = _alerting_app(
            lab,
            {"throughput": {"for_s": 2.0, "clear_s": 2.0, "fraction": 0.5, "max_age_s": 4.0}},
            baseline_gen_tps=baseline,
        )
        async with app.run_test(size=(160, 48)):
            await until(
                lambda: (
                    "pegasus" in app.shown
                    and app.shown["pegasus"].throughput.gen  # (over HTTP, and
                    and app.shown["pegasus"].unit
                ),
                60,
                "tok/s and the unit shown",
            )  # the unit over SSH)
            pid = labctl.host_pid(lab, "pegasus", app.shown["pegasus"].unit.main_pid or 0)  # numbered here
            assert pid
            throttle = asyncio.create_task(_throttle(pid, stop_throttle))
            (alert,) = await until(lambda: app.fleet.engine.active_for("pegasus"), 90, "the throughput alert")
            assert alert.rule == "throughput" and "below the baseline" in alert.message
            stop_throttle.set()
            await throttle
            await until(lambda: not app.fleet.engine.active_for("pegasus"), 90, "the alert to clear")
            assert [a.rule for a in app.fleet.engine.history] == ["throughput"]
    finally:
        stop_throttle.set()
        if throttle is not None:
            await asyncio.gather(throttle, return_exceptions=True)
        stop_traffic.set()
        await asyncio.wait_for(asyncio.gather(traffic, return_exceptions=True), 60)
