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
  line is the host's baseline from the config. A server with a draft model (`-md`) adds *draft N% ×M* under
  gen tok/s: N% of the drafted tokens were accepted, M tokens accepted per draft, from the
  `llamacpp:spec_decode_*` counters of `/metrics` (between two polls that drafted).
- **slots** — each slot idle or busy. A slot processing its prompt shows *prefill* with a bar, the percent, tokens
  done / the prompt's size, tokens from the cache, tok/s and an ETA; tokens done come from `/slots`
  (`n_prompt_tokens_processed` + `n_prompt_tokens_cache`), the prompt's size from the server's log lines
  `prompt processing, n_tokens = …, progress = …` (printed once a prompt has run a few seconds: until then no
  percent). Then *generating*: the context's fill, tokens so far of the request's limit, tok/s, and an ETA to that
  limit (≤: the model may stop sooner).
- **token ledger** (`u`) — tokens each host and model served per day (7 days) and per hour (24 h), from the
  servers' own `/metrics` counters as the dashboard, `watch` and the exporter recorded them (SQLite in the state
  dir; a server restart counts from zero, never as negative usage). `gb10dash usage` prints it too.
- **memory** — unified memory from `/proc/meminfo` (on GB10 nvidia-smi says `[N/A]`), the server's RSS and
  the GPU memory nvidia-smi attributes to its PID. On a unified-memory host the bar is split: llama-server's
  GPU memory, other used memory (MemTotal − MemAvailable − that), reclaimable page cache (Cached + Buffers),
  free. A warm page cache is a common cause of CUDA out-of-memory at model load: `D` drops it (`sync`, then
  `sudo -n sysctl vm.drop_caches=3`, shown as a plan first and audited). *stalled some%/full%* is memory pressure
  (PSI, `/proc/pressure/memory`, every 5 s): the share of the last 10 s some task / every task waited for memory;
  the `memory_pressure` alert fires at 10 % / 2 % held 30 s.
- **gpu** — utilisation, temperature, power, SM clock / its max (`clocks.sm` / `clocks.max.sm`) and why the
  clocks are held down (`clocks_event_reasons.active`): *⚠ SW power cap*, *HW slowdown*, *HW thermal slowdown*,
  *HW power brake*, *SW thermal slowdown*, *sync boost* in amber; *app clocks* / *display clock* (a setting) muted;
  idle is not shown. The `throttle` alert fires when a slowdown lasts 60 s, `power_low` when power stays at or
  under 40 W while utilisation is 80 % or more for 60 s (the GB10 power-negotiation fault shows ~30 W under
  load); both are set in `[alerts.throttle]` / `[alerts.power_low]`. `–` means the GPU did not report it.
- **kernel** — shown once the host's kernel log (`journalctl -k`, followed like the unit's) has a GPU *Xid*, the
  NVIDIA driver out of memory (`NV_ERR_NO_MEMORY`) or an OOM kill: the newest, when, and how many. The `kernel`
  alert holds 15 min after one (`[alerts.kernel] window_s`).
- **share** — is the model share mounted, and how long a `stat` of it took (hung = no answer in time).
- An unreachable host keeps its last known values, greyed, with the time it went away. Data that stops
  arriving turns the panel's border amber (3 refreshes, at least 5 s), then red (10, at least 30 s), with
  its age in the border.
- **wedged** — `/health` can say ok while the server no longer answers: the wedge canary (`[canary]` in
  hosts.toml, every 5 min by default) sends one tiny chat request; no answer in time, no tokens, or fewer
  tok/s than `min_tps` marks the host degraded with *wedged: why*. With `auto_restart = true` it restarts
  the service through the same audited plan as `r`, at most `max_restarts_per_hour` times.
- **alerts** — rules that must hold for a while before they fire (and be false a while before they clear):
  a banner under the status line and the host's panel show the firing ones, `a` the history.
- **rebuild** — `b` builds in a new directory with a progress bar from cmake's `[ NN%]` lines (`x` cancels
  and kills the build on the host), checks the new build's CMake cache records the host's arch and that it
  takes every flag of the unit's ExecStart (renamed flags: the rewritten ExecStart is offered as a drop-in),
  switches and restarts; the quick bench runs before and after, and a drop of gen tok/s over 10 % offers the
  revert (`B` goes back to the previous build at any time).
- **compact mode** (`z`) hides the header and footer and condenses every panel, for split or far screens.
  Keys are remapped in `[keys]` of hosts.toml (e.g. `restart = "ctrl+r"`). `y` copies the log lines on
  screen to your clipboard with OSC 52, so it works over SSH in terminals that allow it.

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
