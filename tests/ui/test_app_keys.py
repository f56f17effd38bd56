"""Keys, help and the command palette on the real app fed with fixed states (no lab needed)."""

from __future__ import annotations

from gb10dash.config import Config
from gb10dash.ui.app import Gb10DashApp
from gb10dash.ui.screens.help import HelpScreen

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
        for key, _, description in app.COMMANDS_TABLE:
            assert (f"`{key}`" if key else "palette") in text and description in text
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
