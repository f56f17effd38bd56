"""Themes: `themes/*.toml` → textual Theme objects, registered on the app; the chosen one remembered.

Built-in themes live in `themes/` at the repository root (a source checkout) or in
`gb10dash/themes/` (an installed wheel); a user may add more in `$XDG_CONFIG_HOME/gb10dash/themes/`.
A bad theme file raises ThemeError naming the file, the line where it can be found and the key.
The chosen theme name is kept in `$XDG_STATE_HOME/gb10dash/ui.json`.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

from gb10dash import locations
from gb10dash.config.errors import Locator
from gb10dash.ui.theme_error import ThemeError

if TYPE_CHECKING:
    from textual.app import App

DEFAULT_THEME = "gb10-dark"
STATE_FILE = "ui.json"
_PACKAGE = Path(__file__).resolve().parent.parent  # gb10dash/
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_TOP_KEYS = {"name", "dark", "colors", "variables", "luminosity_spread", "text_alpha"}
_COLOR_KEYS = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)


def builtin_theme_dir() -> Path | None:
    """`gb10dash/themes` inside an installed wheel, else `themes/` of the source checkout."""
    for candidate in (_PACKAGE / "themes", _PACKAGE.parent / "themes"):
        if candidate.is_dir():
            return candidate
    return None


def theme_dirs() -> list[Path]:
    """The built-in themes, then the user's ($XDG_CONFIG_HOME/gb10dash/themes), where present."""
    return [d for d in (builtin_theme_dir(), locations.config_dir() / "themes") if d and d.is_dir()]


def load_theme_file(path: Path) -> Theme:
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise ThemeError(path, None, f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ThemeError(path, None, f"not UTF-8 text ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(path, None, f"TOML syntax error: {exc}") from None
    return _theme_from(data, path, text)


def _theme_from(data: dict[str, Any], path: Path, text: str) -> Theme:
    def fail(key: str, message: str) -> ThemeError:
        return ThemeError(path, key, message, _line_of(text, key))

    for key in data:
        if key not in _TOP_KEYS:
            raise fail(key, _unknown(key, _TOP_KEYS))
    name = data.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise fail("name", f'expected a theme name such as "gb10-dark" (a-z, 0-9, -), got {name!r}')
    dark = data.get("dark")
    if not isinstance(dark, bool):
        raise fail("dark", f"expected true or false, got {dark!r}")
    colors = data.get("colors")
    if not isinstance(colors, dict):
        raise fail("colors", "expected a [colors] table with at least 'primary'")
    for key, value in colors.items():
        if key not in _COLOR_KEYS:
            raise fail(f"colors.{key}", _unknown(key, _COLOR_KEYS))
        _check_color(value, lambda message, key=key: fail(f"colors.{key}", message))
    if "primary" not in colors:
        raise fail("colors.primary", "missing (every theme needs a primary colour)")
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise fail("variables", "expected a [variables] table of CSS values")
    for key, value in variables.items():
        if not isinstance(value, str) or not value.strip():
            raise fail(f"variables.{key}", f'expected a CSS value such as "#c8c8c8", got {value!r}')
    extra: dict[str, Any] = {}  # Any: ** spreads it over Theme's fields of other types too
    for key in ("luminosity_spread", "text_alpha"):
        if key in data:
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise fail(key, f"expected a number from 0 to 1, got {value!r}")
            extra[key] = float(value)
    return Theme(name=name, dark=dark, variables=dict(variables), **colors, **extra)


def _check_color(value: Any, fail: Any) -> None:
    if not isinstance(value, str):
        raise fail(f'expected a colour such as "#4fa3e0", got {value!r}')
    try:
        Color.parse(value)
    except ColorParseError:
        raise fail(f'expected a colour such as "#4fa3e0" or "rgb(79,163,224)", got {value!r}') from None


def _unknown(key: str, known: Any) -> str:
    message = "unknown key"
    close = difflib.get_close_matches(key, list(known), n=1)
    if close:
        message += f" (did you mean {close[0]!r}?)"
    return message + "; valid keys: " + ", ".join(sorted(known))


def _line_of(text: str, dotted_key: str) -> int | None:
    """The line of `key = …` (the last part of a dotted key), or of its [table] header."""
    table, _, key = dotted_key.rpartition(".")
    return Locator(text).find(table or None, None, key)


def load_themes(dirs: Sequence[Path] | None = None) -> list[Theme]:
    """Every `*.toml` theme in the directories, in name order; a name defined twice is an error."""
    themes: dict[str, tuple[Theme, Path]] = {}
    for directory in theme_dirs() if dirs is None else dirs:
        for path in sorted(Path(directory).glob("*.toml")):
            theme = load_theme_file(path)
            if theme.name in themes:
                raise ThemeError(
                    path,
                    "name",
                    f"theme {theme.name!r} is already defined in {themes[theme.name][1]}",
                    _line_of(path.read_text(), "name"),
                )
            themes[theme.name] = (theme, path)
    return [theme for theme, _ in themes.values()]


def register_themes(app: App[Any], dirs: Sequence[Path] | None = None) -> list[str]:
    names = []
    for theme in load_themes(dirs):
        app.register_theme(theme)
        names.append(theme.name)
    return names


def saved_theme() -> str | None:
    """The theme chosen last time, or None (no file, unreadable or odd file)."""
    try:
        data = json.loads((locations.state_dir() / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = data.get("theme") if isinstance(data, dict) else None
    return name if isinstance(name, str) and name else None


def save_theme(name: str) -> None:
    """Remember the chosen theme (other keys in the file are kept). Best effort: I/O errors pass."""
    path = locations.state_dir() / STATE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data = data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        data = {}
    data["theme"] = name
    with contextlib.suppress(OSError):
        locations.write_private_file(path, json.dumps(data, indent=2) + "\n")


def install(app: App[Any], dirs: Sequence[Path] | None = None) -> str:
    """Register the theme files and switch to the remembered theme (else gb10-dark). Returns its name.

    Raises ThemeError for a bad theme file. Call in `App.__init__` (after super().__init__)
    or in `on_mount`; later choices go through `choose()`, which remembers them.
    """
    global _installed
    _installed = register_themes(app, dirs)
    wanted = saved_theme()
    if wanted and wanted in app.available_themes:
        chosen = wanted
    elif DEFAULT_THEME in _installed:
        chosen = DEFAULT_THEME
    else:
        chosen = _installed[0] if _installed else app.theme
    app.theme = chosen
    return chosen


def names() -> list[str]:
    """The dashboard's own theme names (those `install` registered; else read from the files)."""
    return list(_installed) if _installed else [theme.name for theme in load_themes()]


def choose(app: App[Any], name: str) -> None:
    """Switch the app to a registered theme and remember it for the next run."""
    app.theme = name
    save_theme(name)


_installed: list[str] = []
