"""The help screen (`?`): every key, what each panel shows, and where its figures come from."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

ABOUT = """
## What the panels show
- **service** — `systemctl show` of the unit: state, uptime, PID, automatic restarts, last result.
- **model** — the GGUF file the server reports (`/v1/models`), quant, size, ctx in use (`/props`) / configured, `/health`.
  While `/health` says loading, a bar: bytes the server has read (`rchar` of `/proc/PID/io`, over SFTP) ÷ the
  size of the model's GGUF files (every split part), with MiB/s and an ETA. `rchar` counts read() calls: it follows
  a `--load-mode none`/`dio` or `--no-mmap` load; an mmap load's page faults do not show there. Then, or when
  `/proc/PID/io` is not readable (another user, a container), the bar is an *estimate* from the past load times
  of that model on that host (each load seen to end healthy is recorded in `load-times.json` in the state dir).
- **tok/s** — gen and prompt throughput; the label says where it came from: *metrics* (`/metrics` counters),
  *slots* (`/slots` progress) or *journal* (`print_timing` lines). The chart covers 10 minutes; the dotted
  line is the host's baseline from the config.
- **memory** — unified memory from `/proc/meminfo` (on GB10 nvidia-smi says `[N/A]`), the server's RSS and
  the GPU memory nvidia-smi attributes to its PID.
- **gpu** — utilisation, temperature, power, SM clock / its max (`clocks.sm` / `clocks.max.sm`) and why the
  clocks are held down (`clocks_event_reasons.active`): *⚠ SW power cap*, *HW slowdown*, *HW thermal slowdown*,
  *HW power brake*, *SW thermal slowdown*, *sync boost* in amber; *app clocks* / *display clock* (a setting) muted;
  idle is not shown. The `throttle` alert fires when a slowdown lasts 60 s, `power_low` when power stays at or
  under 40 W while utilisation is 80 % or more for 60 s (the GB10 power-negotiation fault shows ~30 W under
  load); both are set in `[alerts.throttle]` / `[alerts.power_low]`. `–` means the GPU did not report it.
- **share** — is the model share mounted, and how long a `stat` of it took (hung = no answer in time).
- An unreachable host keeps its last known values, greyed, with the time it went away.

## Keys
"""


def key_table(bindings: Iterable[tuple[str, str]]) -> str:
    rows = ["| key | does |", "|---|---|"]
    rows += [f"| {f'`{key}`' if key else 'palette'} | {description} |" for key, description in bindings]
    return "\n".join(rows)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close help")]

    def __init__(self, bindings: Iterable[tuple[str, str]]) -> None:
        super().__init__()
        self._keys = list(bindings)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown("# gb10dash\n" + ABOUT + key_table(self._keys))

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(result)
