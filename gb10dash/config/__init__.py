"""hosts.toml → frozen, validated dataclasses.

Every error is a ConfigError that names the file, the line where it can be
found, the key, and what was expected; the CLI prints it and exits 2.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gb10dash import locations
from gb10dash.config.errors import ConfigError, Locator, unknown_key

if TYPE_CHECKING:
    from gb10dash.alerts.settings import AlertSettings
    from gb10dash.core.canary import CanarySettings
    from gb10dash.ledger.settings import LedgerSettings

CONFIG_ENV = "GB10DASH_CONFIG"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_ARCH_RE = re.compile(r"^[0-9]{2,3}[a-z]?(-real|-virtual)?$")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


@dataclass(frozen=True, slots=True)
class SshSettings:
    config_file: Path | None = None
    connect_timeout_s: float = 10.0
    keepalive_interval_s: float = 5.0
    keepalive_count_max: int = 3
    reconnect_max_s: float = 30.0


@dataclass(frozen=True, slots=True)
class HostConfig:
    name: str
    api_url: str
    model_path: str
    ctx: int
    transport: str = "ssh"
    ssh_alias: str | None = None
    api_via_ssh: bool = False
    unit: str = "llama-server.service"
    llama_cpp_dir: str = "~/llama.cpp"
    build_dir: str = "~/llama.cpp/build"
    model_share: str = "/mnt/models"
    model_share_mounted: bool = True  # false: the models sit in a plain directory (not "not mounted")
    cuda_arch: str | None = None
    baseline_gen_tps: float | None = None
    baseline_prompt_tps: float | None = None
    api_key_env: str | None = None  # the NAME of an environment variable holding llama-server's --api-key
    api_key_file: str | None = None  # or a file holding it (absolute once loaded; must not be group/world readable)
    accept_new_host_key: bool = False  # trust a host key known_hosts has none for (added there, with a warning)


def _default_canary() -> CanarySettings:
    from gb10dash.core.canary import CanarySettings

    return CanarySettings()


def _default_ledger() -> LedgerSettings:
    from gb10dash.ledger.settings import LedgerSettings

    return LedgerSettings()


def _default_alerts() -> AlertSettings:
    from gb10dash.alerts.settings import AlertSettings

    return AlertSettings()


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    hosts: tuple[HostConfig, ...]
    ssh: SshSettings = field(default_factory=SshSettings)
    alerts: AlertSettings = field(default_factory=_default_alerts)  # [alerts]: gb10dash/alerts/settings.py
    keys: dict[str, str] = field(default_factory=dict)  # [keys]: binding id → keys (gb10dash/config/keys.py)
    canary: CanarySettings = field(default_factory=_default_canary)  # [canary]: gb10dash/core/canary.py
    ledger: LedgerSettings = field(default_factory=_default_ledger)  # [ledger]: gb10dash/ledger/settings.py

    def host(self, name: str) -> HostConfig:
        for host in self.hosts:
            if host.name == name:
                return host
        known = ", ".join(h.name for h in self.hosts)
        raise ConfigError(self.path, f"no host named {name!r} (hosts: {known})")

    def select(self, names: Sequence[str]) -> list[HostConfig]:
        """The hosts named on a command line, in that order; every host when none is named."""
        return [self.host(n) for n in names] if names else list(self.hosts)


# key -> (python type, required?, description of what is expected)
_HOST_KEYS: dict[str, tuple[type, bool, str]] = {
    "name": (str, True, 'a host name such as "pegasus" (letters, digits, . _ -)'),
    "transport": (str, False, '"ssh" or "local"'),
    "ssh_alias": (str, False, 'a Host alias from your ssh config, such as "pegasus-llm"'),
    "api_url": (str, True, 'an http(s) URL such as "http://127.0.0.1:8000"'),
    "api_via_ssh": (bool, False, "true or false"),
    "unit": (str, False, 'a systemd unit name such as "llama-server.service"'),
    "model_path": (str, True, "the path of the served GGUF file on the host"),
    "ctx": (int, True, "a positive integer (context size in tokens)"),
    "llama_cpp_dir": (str, False, "the llama.cpp source directory on the host"),
    "build_dir": (str, False, "the llama.cpp build directory on the host"),
    "model_share": (str, False, "the path where the model share is mounted"),
    "model_share_mounted": (
        bool,
        False,
        ("true or false (false: model_share is a plain directory, not a mount point; its stat is still timed)"),
    ),
    "cuda_arch": (str, False, 'a CMake CUDA arch such as "121" or "121a-real"'),
    "baseline_gen_tps": (float, False, "a positive number (tokens per second)"),
    "baseline_prompt_tps": (float, False, "a positive number (tokens per second)"),
    "api_key_env": (str, False, "the name of an environment variable holding llama-server's --api-key"),
    "api_key_file": (str, False, "the path of a file (mode 0600) holding llama-server's --api-key"),
    "accept_new_host_key": (
        bool,
        False,
        (
            "true or false (trust and record the host key of a host that "
            "known_hosts has no key for; a changed key is always refused)"
        ),
    ),
}
_SSH_KEYS: dict[str, tuple[type, bool, str]] = {
    "config_file": (str, False, "the path of an ssh_config file"),
    "connect_timeout_s": (float, False, "a positive number of seconds"),
    "keepalive_interval_s": (float, False, "a positive number of seconds"),
    "keepalive_count_max": (int, False, "a positive integer"),
    "reconnect_max_s": (float, False, "a positive number of seconds"),
}
_TOP_KEYS = {"ssh", "host", "alerts", "keys", "canary", "ledger"}
_TYPE_WORDS = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "a table",
    list: "an array",
}


def find_config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file to use: --config, $GB10DASH_CONFIG, XDG config, ./hosts.toml."""
    if explicit:
        return _must_exist(Path(explicit), "--config")
    if os.environ.get(CONFIG_ENV):
        return _must_exist(Path(os.environ[CONFIG_ENV]), f"${CONFIG_ENV}")
    candidates = [locations.config_dir() / "hosts.toml", Path.cwd() / "hosts.toml"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise ConfigError(None, f"no config file found (looked in {looked}); pass --config PATH or set ${CONFIG_ENV}")


def _must_exist(path: Path, origin: str) -> Path:
    if not path.is_file():
        raise ConfigError(path, f"config file given by {origin} does not exist")
    return path


def load_config(path: str | os.PathLike[str]) -> Config:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(path, f"cannot read: {exc.strerror}") from None
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = re.search(r"\(at line (\d+), column \d+\)", message)
        line = int(match.group(1)) if match else None
        raise ConfigError(path, f"TOML syntax error: {message}", line) from None
    loc = Locator(text)
    for key in data:
        if key not in _TOP_KEYS:
            raise ConfigError(path, unknown_key(key, _TOP_KEYS, "top level"), loc.find(None, None, key))
    ssh_raw = data.get("ssh", {})
    if not isinstance(ssh_raw, dict):
        raise ConfigError(path, "key 'ssh': expected a table [ssh]", loc.find(None, None, "ssh"))
    ssh_values = _check_table(ssh_raw, _SSH_KEYS, path, loc, "ssh", None, "[ssh]")
    if "config_file" in ssh_values:
        ssh_values["config_file"] = _relative_to(path, ssh_values["config_file"])
    hosts_raw = data.get("host")
    if not isinstance(hosts_raw, list) or not hosts_raw or not all(isinstance(h, dict) for h in hosts_raw):
        raise ConfigError(
            path,
            "expected at least one [[host]] table"
            + (
                ""
                if hosts_raw is None
                else f", got 'host' as {_TYPE_WORDS.get(type(hosts_raw), 'a value')}"
                + (" of values" if isinstance(hosts_raw, list) and hosts_raw else "")
            ),
            loc.find(None, None, "host"),
        )
    hosts: list[HostConfig] = []
    seen: dict[str, int | None] = {}
    for index, raw in enumerate(hosts_raw):
        label = f"[[host]] #{index + 1}"
        if isinstance(raw.get("name"), str):
            label = f"host {raw['name']!r}"
        values = _check_table(raw, _HOST_KEYS, path, loc, "host", index, label)
        if "api_key_file" in values:
            values["api_key_file"] = str(_relative_to(path, values["api_key_file"]))
        host = HostConfig(**values)
        _check_host(host, path, loc, index, label)
        if host.name in seen:
            first = seen[host.name]
            raise ConfigError(
                path,
                f"duplicate host name {host.name!r}" + (f" (first defined at line {first})" if first else ""),
                loc.find("host", index, "name"),
            )
        seen[host.name] = loc.find("host", index, "name")
        hosts.append(host)
    from gb10dash.alerts.settings import parse_alerts
    from gb10dash.config.keys import parse_keys
    from gb10dash.core.canary import parse_canary
    from gb10dash.ledger.settings import parse_ledger

    return Config(
        path=path,
        hosts=tuple(hosts),
        ssh=SshSettings(**ssh_values),
        alerts=parse_alerts(data.get("alerts"), path, loc),
        keys=parse_keys(data.get("keys"), path, loc),
        canary=parse_canary(data.get("canary"), path, loc),
        ledger=parse_ledger(data.get("ledger"), path, loc),
    )


def _relative_to(config_path: Path, value: str) -> Path:
    """A path from the config: ~ expanded, relative ones taken from the config file's directory."""
    result = Path(value).expanduser()
    return result if result.is_absolute() else (config_path.parent / result).resolve()


def _check_table(
    raw: dict[str, Any],
    spec: dict[str, tuple[type, bool, str]],
    path: Path,
    loc: Locator,
    table: str,
    index: int | None,
    label: str,
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in spec:
            raise ConfigError(path, f"{label}: " + unknown_key(key, spec, label), loc.find(table, index, key))
        kind, _, expected = spec[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            got = _TYPE_WORDS.get(type(value), type(value).__name__)
            raise ConfigError(
                path, f"{label}: key {key!r}: expected {expected}, got {got} {value!r}", loc.find(table, index, key)
            )
        if kind in (int, float) and isinstance(value, (int, float)) and value <= 0:
            raise ConfigError(
                path, f"{label}: key {key!r}: expected {expected}, got {value!r}", loc.find(table, index, key)
            )
        values[key] = value
    for key, (_, required, expected) in spec.items():
        if required and key not in values:
            raise ConfigError(path, f"{label}: missing required key {key!r} ({expected})", loc.find(table, index, None))
    return values


def _check_host(host: HostConfig, path: Path, loc: Locator, index: int, label: str) -> None:
    def fail(key: str, message: str) -> None:
        raise ConfigError(path, f"{label}: key {key!r}: {message}", loc.find("host", index, key))

    if not _NAME_RE.match(host.name):
        fail("name", f"expected {_HOST_KEYS['name'][2]}, got {host.name!r}")
    if host.transport not in ("ssh", "local"):
        fail("transport", f'expected "ssh" or "local", got {host.transport!r}')
    if host.transport == "ssh" and not host.ssh_alias:
        raise ConfigError(
            path,
            f"{label}: transport \"ssh\" needs the key 'ssh_alias' ({_HOST_KEYS['ssh_alias'][2]})",
            loc.find("host", index, "ssh_alias"),
        )
    if not re.match(r"^https?://[^/\s]+", host.api_url):
        fail("api_url", f"expected {_HOST_KEYS['api_url'][2]}, got {host.api_url!r}")
    if host.api_via_ssh and host.transport != "ssh":
        fail("api_via_ssh", 'only possible with transport "ssh"')
    if host.accept_new_host_key and host.transport != "ssh":
        fail("accept_new_host_key", 'only possible with transport "ssh"')
    if host.cuda_arch is not None and not _ARCH_RE.match(host.cuda_arch):
        fail("cuda_arch", f"expected {_HOST_KEYS['cuda_arch'][2]}, got {host.cuda_arch!r}")
    if host.api_key_env is not None and not _ENV_NAME_RE.match(host.api_key_env):
        fail("api_key_env", f"expected the name of an environment variable, got {host.api_key_env!r}")
    if host.api_key_env is not None and host.api_key_file is not None:
        fail("api_key_file", "give either 'api_key_env' or 'api_key_file', not both")
    if not host.model_path.endswith(".gguf"):
        fail("model_path", f"expected the path of a .gguf file, got {host.model_path!r}")


def read_api_key(host: HostConfig) -> str | None:
    """llama-server's --api-key for the host (from the environment or the key file), or None.

    Raises ConfigError naming where the key should have come from; the message never holds the key."""
    if host.api_key_env is not None:
        value = os.environ.get(host.api_key_env, "").strip()
        if not value:
            raise ConfigError(
                None,
                f"host {host.name!r}: api_key_env: the environment variable ${host.api_key_env} is not set or empty",
            )
        return value
    if host.api_key_file is None:
        return None
    key_path = Path(host.api_key_file)
    try:
        mode = key_path.stat().st_mode
        if mode & 0o077:
            raise ConfigError(
                key_path,
                f"host {host.name!r}: api_key_file is readable by others "
                f"(mode {mode & 0o777:o}); run chmod 600 {key_path}",
            )
        value = key_path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(key_path, f"host {host.name!r}: api_key_file: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(key_path, f"host {host.name!r}: api_key_file: not UTF-8 text") from None
    if not value or "\n" in value:
        raise ConfigError(key_path, f"host {host.name!r}: api_key_file: expected one line holding the key")
    return value
