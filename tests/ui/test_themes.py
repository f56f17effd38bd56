"""themes.py: theme files → Theme objects, errors naming file/line/key, the chosen theme remembered."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App

from gb10dash.ui import themes
from gb10dash.ui.themes import ThemeError

GOOD = """\
name = "test-dark"
dark = true

[colors]
primary = "#4FA3E0"
error = "#F0605D"
"""


@pytest.fixture
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state" / "gb10dash"


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_themes_load() -> None:
    directory = themes.builtin_theme_dir()
    assert directory is not None and directory.name == "themes"
    loaded = {theme.name: theme for theme in themes.load_themes([directory])}
    assert {"gb10-dark", "gb10-contrast", "gb10-light"} <= set(loaded)
    assert loaded["gb10-dark"].dark and loaded["gb10-contrast"].dark and not loaded["gb10-light"].dark
    assert loaded["gb10-contrast"].text_alpha == 1.0


def test_unknown_colour_key_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.toml", GOOD.replace('error = "#F0605D"', 'eror = "#F0605D"'))
    with pytest.raises(ThemeError) as caught:
        themes.load_theme_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:6: key 'colors.eror': unknown key (did you mean 'error'?)")
    assert caught.value.key == "colors.eror" and caught.value.line == 6


def test_bad_colour_value(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.toml", GOOD.replace('"#F0605D"', '"reddish"'))
    with pytest.raises(ThemeError, match=r"bad\.toml:6: key 'colors\.error': expected a colour .* got 'reddish'"):
        themes.load_theme_file(path)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (GOOD.replace('name = "test-dark"\n', ""), "name"),
        (GOOD.replace("dark = true", 'dark = "yes"'), "dark"),
        (GOOD.replace('primary = "#4FA3E0"\n', ""), "colors.primary"),
        ("sparkle = 1\n" + GOOD, "sparkle"),
        (GOOD + "sparkle = 1\n", "colors.sparkle"),
    ],
)
def test_missing_or_wrong_keys(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, "bad.toml", text)
    with pytest.raises(ThemeError) as caught:
        themes.load_theme_file(path)
    assert caught.value.key == key and str(path) in str(caught.value)


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.toml", "name = \n")
    with pytest.raises(ThemeError, match=r"broken\.toml: TOML syntax error"):
        themes.load_theme_file(path)


def test_a_name_defined_twice(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", GOOD)
    write(tmp_path, "b.toml", GOOD)
    with pytest.raises(ThemeError, match=r"b\.toml:1: key 'name': theme 'test-dark' is already defined in .*a\.toml"):
        themes.load_themes([tmp_path])


def test_chosen_theme_is_remembered(state_home: Path) -> None:
    assert themes.saved_theme() is None
    app: App[None] = App()
    assert themes.install(app) == "gb10-dark"  # nothing saved yet: the default
    themes.choose(app, "gb10-light")
    assert (state_home / "ui.json").is_file()
    assert themes.saved_theme() == "gb10-light"
    next_run: App[None] = App()
    assert themes.install(next_run) == "gb10-light" and next_run.theme == "gb10-light"
    assert set(themes.names()) >= {"gb10-dark", "gb10-contrast", "gb10-light"}


def test_unknown_or_unreadable_saved_theme_falls_back(state_home: Path) -> None:
    write(state_home, "ui.json", "{not json")
    assert themes.saved_theme() is None
    themes.save_theme("no-such-theme")
    assert themes.install(App()) == "gb10-dark"
