"""Keys, help and the command palette on the real app fed with fixed states (no lab needed)."""

from __future__ import annotations

from gb10dash.commands import COMMANDS
from gb10dash.config import Config
from gb10dash.ui.app import Gb10DashApp
from gb10dash.ui.screens.help import HelpScreen
from gb10dash.ui.widgets.host_panel import HostPanel

from . import states


def fixed_app() -> Gb10DashApp:
    shown = [states.pegasus(), states.stella()]
    config = Config(path=states.REPO / "hosts.toml", hosts=tuple(s.config for s in shown))
    return Gb10DashApp(config, states={s.name: s for s in shown}, now=states.NOW)


async def test_palette_lists_hosts_themes_and_every_command() -> None:
    app = fixed_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"Focus host stella")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert app.focused_host == "stella"
        assert app.focused is not None and app.focused.id == "host-stella"

        await pilot.press("ctrl+p")
        await pilot.press(*"Theme: gb10-light")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert app.theme == "gb10-light"


async def test_help_lists_every_key() -> None:
    app = fixed_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.query_one("Markdown").source  # type: ignore[attr-defined]
        for command in COMMANDS:
            assert (f"`{command.key_label}`" if command.key else "palette") in text and command.help in text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_action_keys_need_a_live_connection() -> None:
    app = fixed_app()
    async with app.run_test(size=(120, 40)) as pilot:
        for key in "rmbc":
            await pilot.press(key)
        await pilot.pause(0.2)
        messages = [str(n.message) for n in app._notifications]
        assert len([m for m in messages if "no live connection" in m]) == 4


async def test_keys_remapped_from_the_config_and_shown_in_help() -> None:
    import dataclasses

    app = fixed_app()
    app = Gb10DashApp(
        dataclasses.replace(app.config, keys={"next_host": "right", "help": "f1"}),
        states=app.fixed[0] if app.fixed else None,
        now=states.NOW,
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("n")  # the default no longer focuses the next host
        assert app.focused_host == "pegasus"
        await pilot.press("right")
        assert app.focused_host == "stella"
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.query_one("Markdown").source  # type: ignore[attr-defined]
        assert "`right`" in text and "`f1`" in text


def test_every_binding_has_a_remappable_id() -> None:
    from gb10dash.config.keys import ACTIONS

    assert {b.id for b in Gb10DashApp.BINDINGS} == set(ACTIONS)
    assert all(b.id == b.action for b in Gb10DashApp.BINDINGS)


async def test_compact_mode_hides_header_and_footer_and_condenses_panels() -> None:
    from textual.widgets import Footer

    from gb10dash.ui.widgets.host_panel import HostPanel
    from gb10dash.ui.widgets.status_line import StatusLine

    app = fixed_app()
    async with app.run_test(size=(160, 60)) as pilot:
        panels = list(app.query(HostPanel))
        assert app.query_one(StatusLine).display and not any(p.has_class("-compact") for p in panels)
        await pilot.press("z")
        await pilot.pause(0.1)
        assert not app.query_one(StatusLine).display and not app.query_one(Footer).display
        assert all(p.has_class("-compact") for p in panels)
        await pilot.press("z")
        await pilot.pause(0.1)
        assert app.query_one(StatusLine).display and not any(p.has_class("-compact") for p in panels)


async def test_y_copies_the_log_lines_on_screen() -> None:
    from .test_app_snapshots import with_log

    shown = [with_log(states.pegasus()), states.stella()]
    config = Config(path=states.REPO / "hosts.toml", hosts=tuple(s.config for s in shown))
    app = Gb10DashApp(config, states={s.name: s for s in shown}, now=states.NOW)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.1)
        await pilot.press("y")
        copied = app.clipboard.splitlines()
        assert copied and all(line[:2].isdigit() and line[2] == ":" for line in copied)
        last = shown[0].recent_log[-1].message.strip()
        assert copied[-1].endswith(last) and len(copied) < len(shown[0].recent_log) + 1
        assert any("copied" in str(n.message) and "OSC 52" in str(n.message) for n in app._notifications)


async def test_sixteen_hosts_scroll_and_only_panels_in_view_count_as_visible() -> None:
    """With many hosts the grid scrolls; the app draws only the panels in view (the others when
    they scroll into it), so 16 hosts cost little more than the few on screen."""
    from gb10dash.ui.widgets.host_grid import HostGrid

    shown = [states.healthy_copy(states.pegasus() if i % 2 else states.stella(), f"gb10-{i:02d}") for i in range(16)]
    config = Config(path=states.REPO / "hosts.toml", hosts=tuple(s.config for s in shown))
    app = Gb10DashApp(config, states={s.name: s for s in shown}, now=states.NOW)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("s")  # 16 hosts open on the fleet summary: the panels
        await pilot.pause(0.2)
        grid = app.query_one(HostGrid)
        visible = [p.host.name for p in grid.panels if grid.in_view(p)]
        assert visible and "gb10-00" in visible and "gb10-15" not in visible
        grid.scroll_end(animate=False, immediate=True)
        await pilot.pause(0.2)
        assert grid.in_view(grid.panel("gb10-15")) and not grid.in_view(grid.panel("gb10-00"))


async def test_the_fleet_summary_has_a_row_per_host_and_enter_opens_its_panel() -> None:
    """Past 8 hosts the app opens on the summary table; s toggles it; enter on a row shows that host."""
    from gb10dash.ui.widgets.fleet_table import COLUMNS, FleetTable
    from gb10dash.ui.widgets.host_grid import HostGrid

    shown = [states.healthy_copy(states.pegasus() if i % 2 else states.stella(), f"gb10-{i:02d}") for i in range(12)]
    shown[3] = states.stopped("gb10-03")
    config = Config(path=states.REPO / "hosts.toml", hosts=tuple(s.config for s in shown))
    app = Gb10DashApp(config, states={s.name: s for s in shown}, now=states.NOW)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.2)
        table = app.query_one(FleetTable)
        assert table.display and not app.query_one(HostGrid).display and table.row_count == 12
        row = dict(zip(COLUMNS, table.get_row("gb10-03")))
        assert row["state"] == "degraded" and row["unit"] == "inactive/dead"
        healthy = dict(zip(COLUMNS, table.get_row("gb10-01")))
        assert healthy["state"] == "healthy" and healthy["model"].endswith(".gguf") and healthy["gen tok/s"] != "–"
        await pilot.press("down", "down", "down", "enter")
        await pilot.pause(0.2)
        assert not table.display and app.query_one(HostGrid).display and app.focused_host == "gb10-03"
        await pilot.press("s")
        assert table.display


def test_fleet_row_for_an_unreachable_host() -> None:
    from gb10dash.ui.widgets.fleet_table import fleet_row

    row = fleet_row(states.unreachable("lyra"))
    assert row[:2] == ("lyra", "unreachable")


async def test_n_in_the_fleet_summary_moves_the_row_and_the_log_follows() -> None:
    from gb10dash.ui.widgets.fleet_table import FleetTable

    shown = [states.healthy_copy(states.pegasus(), f"gb10-{i:02d}") for i in range(10)]
    config = Config(path=states.REPO / "hosts.toml", hosts=tuple(s.config for s in shown))
    app = Gb10DashApp(config, states={s.name: s for s in shown}, now=states.NOW)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("n", "n")
        assert app.focused_host == "gb10-02" and app.query_one(FleetTable).selected_host == "gb10-02"
        await pilot.press("N")
        assert app.focused_host == "gb10-01"


async def test_moving_focus_redraws_the_borders_not_every_line_of_both_panels(monkeypatch) -> None:
    """`n` must stay cheap (issue 8: key-to-screen): a focus move may repaint the two panels' borders,
    but not re-render the lines inside them — a colour rule under `HostPanel:focus` (colours are
    inherited) or a subtree restyle would make Textual render every line of both panels again."""
    from textual.widget import Widget

    from gb10dash.ui.widgets.host_panel import HostPanel

    app = fixed_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.3)
        panels = list(app.query(HostPanel))
        inside = {id(w) for p in panels for w in p.query("*")}
        rendered: list[str] = []
        original = Widget._render_content

        def counting(widget: Widget, *args):
            if id(widget) in inside:
                rendered.append(type(widget).__name__)
            return original(widget, *args)

        monkeypatch.setattr(Widget, "_render_content", counting)
        before = app.focused_host
        await pilot.press("n")
        await pilot.pause(0.3)
        assert app.focused_host != before
        focused = app.query_one(f"#host-{app.focused_host}", HostPanel)
        assert focused.has_focus and focused.styles.border_top[0] == "heavy"
        assert all(p.styles.border_top[0] != "heavy" for p in panels if p is not focused)
        assert rendered == [], f"lines inside the panels rendered again on a focus move: {sorted(set(rendered))}"


def test_no_style_rule_reaches_inside_a_focused_panel() -> None:
    """HostPanel restyles only itself when focus moves (watch_has_focus): a rule such as
    `HostPanel:focus GpuLine` would silently never apply, so none may exist."""
    import re

    from gb10dash.ui import app as app_module

    tcss = (states.REPO / "gb10dash" / "ui" / "app.tcss").read_text()
    tcss += (states.REPO / "gb10dash" / "ui" / "chat.tcss").read_text()
    selectors = re.findall(r"([^{}]+)\{", re.sub(r"/\*.*?\*/", "", tcss, flags=re.S))
    reaching_in = [
        s.strip()
        for sel in selectors
        for s in sel.split(",")
        if re.search(r"HostPanel[^\s]*:focus[^\s]*\s+\S", s.strip())
    ]
    assert reaching_in == [], reaching_in
    assert app_module.Gb10DashApp.CSS_PATH == "app.tcss"  # the file checked is the one the app loads


async def test_a_drafting_server_shows_its_acceptance_under_gen_tok_s() -> None:
    """A server with a draft model: the gen figure's source line adds the acceptance and tokens per draft;
    a server without one shows the line as before."""
    import dataclasses

    from gb10dash.core.spec_decode import SpecDecode
    from gb10dash.ui.widgets.rate_figure import RateFigure

    spec = SpecDecode(acceptance=0.8, accepted_per_draft=2.4, drafted=30, at=states.NOW - 1, accepted_total=27,
                      draft_tokens_total=429)  # fmt: skip
    drafting = dataclasses.replace(states.pegasus(), spec_decode=spec)
    shown = [drafting, states.stella()]
    config = Config(path=states.REPO / "hosts.toml", hosts=tuple(s.config for s in shown))
    app = Gb10DashApp(config, states={s.name: s for s in shown}, now=states.NOW)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.2)
        lines = {
            panel.host.name: str(panel.query_one(".gen", RateFigure).query_one(".rate-source").render())
            for panel in app.query(HostPanel)
        }
    assert "metrics · now · draft 80% ×2.4" in lines["pegasus"], lines
    assert "draft" not in lines["stella"], lines


async def test_u_shows_the_token_ledger_per_day_and_hour() -> None:
    """The ledger the running front ends recorded (here: written by hand into the default path, the
    test's XDG state dir), read in a thread and shown by host and model with totals."""
    import time

    from textual.widgets import DataTable

    from gb10dash.ledger.accounting import CounterReading
    from gb10dash.ledger.store import LedgerStore
    from gb10dash.ui.screens.ledger import LedgerScreen

    store = LedgerStore()
    now = time.time()
    store.record(CounterReading("pegasus", "gpt-oss.gguf", "1@1", 1000, 100, now - 120))
    store.record(CounterReading("pegasus", "gpt-oss.gguf", "1@1", 4500, 900, now - 60))
    store.record(CounterReading("stella", "qwen.gguf", "2@2", 0, 0, now - 60))
    store.record(CounterReading("stella", "qwen.gguf", "2@2", 250, 50, now - 30))
    app = fixed_app()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("u")
        await pilot.pause(0.3)
        screen = app.screen
        assert isinstance(screen, LedgerScreen)
        days, hours = screen.query(DataTable)
        day_rows = [days.get_row_at(i) for i in range(days.row_count)]
        assert [[str(c) for c in r[1:]] for r in day_rows[:-1]] == [
            ["pegasus", "3,500", "800", "4,300", "gpt-oss.gguf"],
            ["stella", "250", "50", "300", "qwen.gguf"],
        ]
        assert [str(c) for c in day_rows[-1]] == ["total", "", "3,750", "850", "4,600", ""]
        assert hours.row_count >= 3 and str(store.path) in str(screen.query_one("#ledger-note").render())
        await pilot.press("escape")
        assert not isinstance(app.screen, LedgerScreen)


async def test_the_fleet_summary_writes_words_at_once_and_figures_every_few_seconds() -> None:
    """A cell written makes Textual's DataTable render every cell again: the rolling figures (tok/s,
    memory, GPU) are written at most every FIGURES_EVERY_S, the words (state, unit, alerts) at once."""
    import dataclasses

    from gb10dash.ui.widgets.fleet_table import COLUMNS, FIGURES_EVERY_S, FleetTable

    shown = [states.healthy_copy(states.pegasus(), f"gb10-{i:02d}") for i in range(2)]
    config = Config(path=states.REPO / "hosts.toml", hosts=tuple(s.config for s in shown))
    app = Gb10DashApp(config, states={s.name: s for s in shown}, now=states.NOW)
    async with app.run_test(size=(160, 48)):
        table = app.query_one(FleetTable)
        table.show(shown, {}, 100.0)
        before = dict(zip(COLUMNS, table.get_row("gb10-00")))
        gpu = shown[0].gpu
        assert gpu is not None and gpu.power_w is not None
        hotter = dataclasses.replace(shown[0], gpu=dataclasses.replace(gpu, power_w=gpu.power_w + 40))
        table.show([hotter, shown[1]], {}, 101.0)  # a figure moved within the period: not yet written
        assert dict(zip(COLUMNS, table.get_row("gb10-00")))["gpu"] == before["gpu"]
        stopped = states.stopped("gb10-00")
        table.show([stopped, shown[1]], {}, 102.0)  # a word changed: written at once
        now_row = dict(zip(COLUMNS, table.get_row("gb10-00")))
        assert now_row["state"] == "degraded" and now_row["unit"] == "inactive/dead"
        table.show([hotter, shown[1]], {}, 100.0 + FIGURES_EVERY_S)  # the period is over: figures too
        assert dict(zip(COLUMNS, table.get_row("gb10-00")))["gpu"] != before["gpu"]


async def test_the_app_freezes_what_start_up_made_out_of_the_collectors_sight() -> None:
    """A full garbage collection inside a frame made the slow key presses (45-72 ms of ~70): after its
    first refresh the app moves what start-up made into the collector's permanent generation."""
    import gc

    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    shown = [states.pegasus(), states.stella()]
    config = Config(path=states.REPO / "hosts.toml", hosts=tuple(s.config for s in shown))
    app = Gb10DashApp(config, states={s.name: s for s in shown}, now=states.NOW)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0.2)
        assert gc.get_freeze_count() > 10_000
