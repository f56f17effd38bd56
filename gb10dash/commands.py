"""Every dashboard command, once: its id, default key, footer label, help text and whether it
changes a host. The bindings, the footer, the help screen, the command palette, the `[keys]`
validation and the read-only refusal are all generated from this table, so a new command
cannot be wired to one of them and forgotten by another (no Textual here: config reads it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    id: str  # the action and the binding id ([keys] in hosts.toml remaps it)
    key: str  # Textual key name(s), "a,b" for several; "" = palette only (no binding)
    help: str  # the line in the help screen and the palette
    footer: str = ""  # the footer label; "" = not shown in the footer
    #: changes a host or loads its server (restart, swap, build, drop caches, chat, bench):
    #: refused in a read-only app (gb10dash serve --read-only), whatever path asks for it
    mutating: bool = False
    short: str = ""  # a few words for error messages ([keys] lists them)

    @property
    def bound(self) -> bool:
        return bool(self.key)

    @property
    def key_label(self) -> str:
        """The default key as the help screen shows it ("?" rather than "question_mark")."""
        return " / ".join(_LABELS.get(k, k) for k in self.key.split(",")) if self.key else ""


_LABELS = {"question_mark": "?"}

COMMANDS: tuple[Command, ...] = (
    Command("next_host", "n", "Focus the next host", "Next host", short="focus the next host"),
    Command("previous_host", "N", "Focus the previous host", short="focus the previous host"),
    Command(
        "focus_log", "L", "Focus the log pane (then / search, l level, p pause)", "Log pane", short="focus the log pane"
    ),
    Command("pause_log", "p", "Pause or resume the log", "Pause log", short="pause or resume the log"),
    Command("next_theme", "t", "Next colour theme", "Theme", short="next theme"),
    Command("help", "question_mark", "Help", "Help", short="help"),
    Command("quit", "q", "Quit", "Quit", short="quit"),
    Command(
        "restart",
        "r",
        "Restart the focused host's service (shows the plan first)",
        mutating=True,
        short="restart the service",
    ),
    Command(
        "swap",
        "m",
        "Swap the focused host's model (picker, fit check, plan, rollback on failure)",
        mutating=True,
        short="swap the model",
    ),
    Command(
        "chat",
        "c",
        "Chat with the focused host's model (streaming, reasoning, timings)",
        "Chat",
        mutating=True,
        short="chat pane",
    ),
    Command(
        "rebuild",
        "b",
        "Rebuild llama.cpp on the focused host for its CUDA arch, then restart",
        mutating=True,
        short="rebuild llama.cpp",
    ),
    Command(
        "rebuild_only",
        "",
        "Rebuild llama.cpp on the focused host without restarting",
        mutating=True,
        short="rebuild without restarting",
    ),
    Command(
        "revert_build",
        "B",
        "Go back to the focused host's previous llama.cpp build (one-key revert)",
        mutating=True,
        short="revert to the previous build",
    ),
    Command(
        "cancel_action",
        "x",
        "Cancel the focused host's running action (kills a build; undoes what it changed)",
        mutating=True,
        short="cancel the running action",
    ),
    Command(
        "drop_caches",
        "D",
        "Drop the focused host's page cache (sync; sysctl vm.drop_caches=3) — unified memory",
        mutating=True,
        short="drop the page cache",
    ),
    Command(
        "recover",
        "R",
        "Undo the focused host's interrupted plan (one that started and never ended: its steps kept on the host)",
        mutating=True,
        short="recover an interrupted plan",
    ),
    Command(
        "toggle_compact",
        "z",
        "Compact mode: no header or footer, every panel condensed (small or split screens)",
        short="compact mode",
    ),
    Command(
        "copy_log",
        "y",
        "Copy the log lines on screen to your clipboard (OSC 52: works over SSH)",
        short="copy the log lines shown (OSC 52)",
    ),
    Command(
        "alert_history",
        "a",
        "Alert history: every alert raised since start, when it was raised and cleared",
        short="the alert history",
    ),
    Command(
        "token_ledger",
        "u",
        "Token ledger: tokens each host and model served, per day (7 days) and per hour (24 h)",
        short="the token ledger",
    ),
    Command(
        "toggle_summary",
        "s",
        "Fleet summary: one row per host (the default past 8 hosts); enter opens its panel",
        short="the fleet summary table",
    ),
    Command(
        "bench", "", "Quick benchmark of the focused host against its baseline", mutating=True, short="quick benchmark"
    ),
)

BY_ID: dict[str, Command] = {c.id: c for c in COMMANDS}
#: ids that [keys] may remap: the commands that have a binding
BINDABLE: dict[str, str] = {c.id: c.short for c in COMMANDS if c.bound}
MUTATING: frozenset[str] = frozenset(c.id for c in COMMANDS if c.mutating)


def is_mutating(action: str) -> bool:
    return action in MUTATING
