"""LogPane in a tiny app: bounded, pause/resume, text and level filters, follow, keys, snapshot."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC
from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import Footer, Input

from gb10dash.collectors.journal import JournalEntry, LineKind, classify, parse_journal_line
from gb10dash.logfilter import LevelFilter
from gb10dash.ui.widgets.log_pane import LogLines, LogPane

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "journal"
T0 = 1788042587_000000  # 2026-08-29 22:29:47 UTC


def fixture_entries(name: str) -> list[JournalEntry]:
    return [e for e in map(parse_journal_line, (FIX / name).read_text().splitlines()) if e is not None]


def make_entries(n: int, start: int = 0, message: str = "I slot update_slots: line {i}") -> list[JournalEntry]:
    out = []
    for i in range(start, start + n):
        text = message.format(i=i)
        out.append(JournalEntry(f"c{i}", T0 + i * 1000, 6, 42, "llama-server.service", text, classify(text, 6)))
    return out


class PaneApp(App[None]):
    def __init__(self, entries: Sequence[JournalEntry] = (), *, max_lines: int = 5000, footer: bool = False):
        super().__init__()
        self._entries = entries
        self._max_lines = max_lines
        self._footer = footer

    def compose(self) -> ComposeResult:
        yield LogPane(max_lines=self._max_lines, id="log", tz=UTC)
        if self._footer:
            yield Footer()

    def on_mount(self) -> None:
        pane = self.query_one(LogPane)
        pane.show_host("spark-1", self._entries)
        pane.focus()


def status_text(pane: LogPane) -> str:
    return str(pane.query_one("#log-status").render())


async def test_bounded_however_many_lines_arrive() -> None:
    app = PaneApp(max_lines=500)
    async with app.run_test(size=(100, 20)) as pilot:
        pane = app.query_one(LogPane)
        for start in range(0, 20_000, 250):
            pane.append(make_entries(250, start))
        await pilot.pause()
        assert len(pane.kept_entries) == 500
        assert len(pane.visible_lines) == 500
        assert len(pane.query_one(LogLines).lines) == 500
        assert pane.kept_entries[0].message.endswith("line 19500")
        assert pane.visible_lines[-1] == "22:30:06 I slot update_slots: line 19999"
        # one batch bigger than the pane keeps
        pane.append(make_entries(1200, 30_000))
        assert len(pane.kept_entries) == 500 and len(pane.visible_lines) == 500
        assert pane.kept_entries[-1].message.endswith("line 31199")


async def test_bounded_with_a_filter_on() -> None:
    app = PaneApp(max_lines=100)
    async with app.run_test(size=(100, 20)) as pilot:
        pane = app.query_one(LogPane)
        pane.search = "7"
        for start in range(0, 5000, 100):
            pane.append(make_entries(100, start))
        await pilot.pause()
        kept = [e.message for e in pane.kept_entries]
        assert len(kept) == 100
        # only lines still kept are shown: filtering again gives the same picture
        shown = pane.visible_lines
        assert all("7" in line.split(" ", 1)[1] for line in shown)
        assert len(shown) == sum("7" in m for m in kept)
        pane.search = ""
        pane.search = "7"
        assert pane.visible_lines == shown


async def test_show_host_replaces_and_keeps_only_max_lines() -> None:
    app = PaneApp(make_entries(50), max_lines=30)
    async with app.run_test(size=(100, 20)) as pilot:
        pane = app.query_one(LogPane)
        assert pane.host == "spark-1"
        assert len(pane.visible_lines) == 30 and pane.visible_lines[0].endswith("line 20")
        pane.show_host("spark-2", make_entries(3, 100, "other host {i}"))
        await pilot.pause()
        assert pane.host == "spark-2"
        assert [line.split(" ", 1)[1] for line in pane.visible_lines] == [
            "other host 100",
            "other host 101",
            "other host 102",
        ]
        assert "spark-2" in status_text(pane)


async def test_pause_buffers_and_resume_shows_the_lines() -> None:
    app = PaneApp(make_entries(40), max_lines=1000)
    async with app.run_test(size=(100, 20)) as pilot:
        pane = app.query_one(LogPane)
        view = pane.query_one(LogLines)
        await pilot.press("p")
        assert pane.paused
        pane.append(make_entries(10, 40))
        pane.append(make_entries(5, 50))
        await pilot.pause()
        assert len(pane.visible_lines) == 40
        assert pane.pending_count == 15
        assert "paused — 15 new lines" in status_text(pane)
        assert pane.query_one("#log-status").has_class("-paused")
        await pilot.press("p")
        await pilot.pause()
        assert not pane.paused
        assert len(pane.visible_lines) == 55
        assert pane.visible_lines[-1].endswith("line 54")
        assert pane.pending_count == 0
        assert "following" in status_text(pane)
        assert view.is_vertical_scroll_end and view.scroll_y > 0


async def test_pause_buffer_is_bounded_too() -> None:
    app = PaneApp(max_lines=100)
    async with app.run_test(size=(100, 20)) as pilot:
        pane = app.query_one(LogPane)
        pane.action_toggle_pause()
        for start in range(0, 3000, 100):
            pane.append(make_entries(100, start))
        assert pane.pending_count == 3000
        assert "paused — 3,000 new lines" in status_text(pane)
        assert len(pane._pending) == 100
        pane.action_toggle_pause()
        await pilot.pause()
        assert len(pane.kept_entries) == 100
        assert pane.visible_lines[0].endswith("line 2900")


async def test_follows_the_end_unless_scrolled_up_and_end_follows_again() -> None:
    app = PaneApp(make_entries(100), max_lines=1000)
    async with app.run_test(size=(100, 20)) as pilot:
        pane = app.query_one(LogPane)
        view = pane.query_one(LogLines)
        await pilot.pause()
        assert view.is_vertical_scroll_end and view.scroll_y > 0
        pane.append(make_entries(10, 100))
        await pilot.pause()
        assert view.is_vertical_scroll_end
        await pilot.press("home")
        await pilot.pause()
        assert view.scroll_y == 0
        pane.append(make_entries(10, 110))
        await pilot.pause()
        assert view.scroll_y == 0  # reading older lines: not yanked to the end
        await pilot.press("G")
        await pilot.pause()
        assert view.is_vertical_scroll_end
        await pilot.press("home", "p", "end")
        await pilot.pause()
        assert not pane.paused and view.is_vertical_scroll_end


async def test_text_filter_via_search_input() -> None:
    entries = fixture_entries("new-gen-h100.jsonl")
    app = PaneApp(entries)
    async with app.run_test(size=(100, 20)) as pilot:
        pane = app.query_one(LogPane)
        search = pane.query_one("#log-search", Input)
        assert not search.display
        await pilot.press("slash")
        assert search.display and search.has_focus
        await pilot.press(*"EVAL TIME")  # typed, not taken as pane keys (`p`, `l`, `G`)
        await pilot.pause()
        assert pane.search == "EVAL TIME" and not pane.paused
        assert pane.level_filter is LevelFilter.ALL
        expected = [e for e in entries if "eval time" in e.message.lower()]
        assert len(pane.visible_lines) == len(expected) == 8
        assert all("eval time" in line for line in pane.visible_lines)
        assert "8 of 41 lines" in status_text(pane)
        # the filter also applies to lines that arrive later
        pane.append(
            make_entries(
                3, 0, "prompt eval time = 1.00 ms / 1 tokens (1.00 ms per token, 1000.00 tokens per second) {i}"
            )
        )
        pane.append(make_entries(3, 0, "something else {i}"))
        assert len(pane.visible_lines) == 11
        await pilot.press("enter")  # keeps the filter, closes the input
        await pilot.pause()
        assert not search.display and pane.has_focus
        assert len(pane.visible_lines) == 11
        await pilot.press("escape")  # clears it
        await pilot.pause()
        assert pane.search == "" and len(pane.visible_lines) == 41 + 6


async def test_escape_in_the_open_input_clears_and_closes() -> None:
    app = PaneApp(fixture_entries("new-gen-h100.jsonl"))
    async with app.run_test(size=(100, 20)) as pilot:
        pane = app.query_one(LogPane)
        await pilot.press("slash", *"listening")
        await pilot.pause()
        assert len(pane.visible_lines) == 1
        await pilot.press("escape")
        await pilot.pause()
        search = pane.query_one("#log-search", Input)
        assert not search.display and search.value == "" and pane.has_focus
        assert len(pane.visible_lines) == 41


async def test_level_filter_cycles_with_l() -> None:
    entries = fixture_entries("start-failure.jsonl") + fixture_entries("new-gen-h100.jsonl")
    app = PaneApp(entries)
    async with app.run_test(size=(100, 20)) as pilot:
        pane = app.query_one(LogPane)
        assert len(pane.visible_lines) == 18 + 41
        await pilot.press("l")
        assert pane.level_filter is LevelFilter.WARNINGS
        # start-failure: 12 errors + 1 W; new-gen: 5 W lines
        assert len(pane.visible_lines) == 12 + 1 + 5
        assert "level: warn+err" in status_text(pane)
        await pilot.press("l")
        assert pane.level_filter is LevelFilter.ERRORS
        shown = pane.visible_lines
        assert len(shown) == 12
        assert any("Failed with result 'exit-code'" in line for line in shown)  # PRIORITY 4, but it failed
        assert all(" W " not in line for line in shown)
        # text and level together
        pane.search = "GGUF_INIT"
        assert len(pane.visible_lines) == 2
        await pilot.press("l")
        assert pane.level_filter is LevelFilter.ALL
        assert len(pane.visible_lines) == 2
        pane.search = ""
        assert len(pane.visible_lines) == 59


async def test_lines_show_utc_clock_and_tok_s_badge() -> None:
    app = PaneApp(fixture_entries("new-gen-h100.jsonl"))
    async with app.run_test(size=(100, 20)):
        pane = app.query_one(LogPane)
        lines = pane.visible_lines
        assert lines[0] == "22:29:47 0.00.189.253 I srv  llama_server: initializing ..."
        timing = [line for line in lines if "eval time" in line]
        assert timing[0].startswith("22:29:47 prompt 459.3 tok/s 0.01.148.570 I slot print_timing:")
        assert timing[1].startswith("22:29:47 gen 1,843.8 tok/s 0.01.148.577 I slot print_timing:")


async def test_highlight_styles_are_applied() -> None:
    entries = fixture_entries("new-gen-h100.jsonl")[2:8] + fixture_entries("start-failure.jsonl")[4:5]
    app = PaneApp(entries)
    async with app.run_test(size=(100, 20)) as pilot:
        await pilot.pause()
        view = app.query_one(LogLines)
        kinds = [line.entry.kind for line in view.lines]
        assert LineKind.ERROR in kinds and LineKind.LISTENING in kinds
        styles = {}
        for y, line in enumerate(view.lines):
            segments = list(view.render_line(y))
            # the message starts after "HH:MM:SS "
            text_at = [seg for seg in segments if seg.text.strip()][1:]
            styles[line.entry.kind] = text_at[0].style
        error = view.get_component_rich_style("log-pane--error")
        load = view.get_component_rich_style("log-pane--load")
        assert styles[LineKind.ERROR].color == error.color and styles[LineKind.ERROR].bold
        assert styles[LineKind.LISTENING].color == load.color
        assert styles[LineKind.OTHER].color != error.color


async def test_bindings_are_in_the_footer_when_focused() -> None:
    app = PaneApp(footer=True)
    async with app.run_test(size=(100, 20)) as pilot:
        await pilot.pause()
        active = app.active_bindings
        for key, description in [
            ("p", "Pause"),
            ("slash", "Search"),
            ("l", "Level"),
            ("end", "Follow"),
            ("G", "Follow"),
        ]:
            assert active[key].binding.description == description


async def test_append_10000_lines_in_batches_of_100_timing() -> None:
    """Not an assertion on speed: prints the time (run with -s) so it can be noted."""
    app = PaneApp(max_lines=5000)
    batches = [make_entries(100, start) for start in range(0, 10_000, 100)]
    async with app.run_test(size=(100, 20)) as pilot:
        pane = app.query_one(LogPane)
        await pilot.pause()
        t0 = time.perf_counter()
        calls = 0.0
        for batch in batches:
            c0 = time.perf_counter()
            pane.append(batch)
            calls += time.perf_counter() - c0
            await pilot.pause()  # let each batch be drawn, as in the app
        total = time.perf_counter() - t0
        assert len(pane.kept_entries) == 5000
        print(
            f"\nappend 10,000 lines in 100 batches: append() calls {calls * 1000:.1f} ms, "
            f"with a redraw after each batch {total * 1000:.1f} ms"
        )


def snapshot_entries() -> list[JournalEntry]:
    gen = fixture_entries("new-gen-h100.jsonl")
    failure = fixture_entries("start-failure.jsonl")
    return [
        gen[2],
        gen[3],
        gen[5],
        gen[6],
        gen[7],
        gen[9],
        gen[10],
        gen[11],
        gen[12],
        gen[17],
        gen[40],
        failure[4],
        failure[12],
        failure[14],
        failure[15],
        failure[16],
    ]


def test_snapshot_llama_server_lines(snap_compare) -> None:
    assert snap_compare(PaneApp(snapshot_entries(), footer=True), terminal_size=(100, 20))


def test_snapshot_filtered_and_paused(snap_compare) -> None:
    entries = fixture_entries("new-gen-h100.jsonl") + fixture_entries("start-failure.jsonl")

    async def run_before(pilot) -> None:
        pane = pilot.app.query_one(LogPane)
        pane.query_one("#log-search", Input).cursor_blink = False
        await pilot.press("p", "l", "slash", *"load")
        pane.append(make_entries(3, 0, "W srv  late warning {i}"))
        await pilot.pause()

    assert snap_compare(PaneApp(entries, footer=True), terminal_size=(100, 20), run_before=run_before)


async def test_scrolled_up_reader_keeps_its_lines_while_old_ones_go() -> None:
    app = PaneApp(make_entries(200), max_lines=200)
    async with app.run_test(size=(100, 20)) as pilot:
        pane = app.query_one(LogPane)
        view = pane.query_one(LogLines)
        await pilot.pause()
        await pilot.press("pageup", "pageup")
        await pilot.pause()
        top = view.lines[int(view.scroll_y)].entry.message
        pane.append(make_entries(20, 200))  # 20 old lines drop out of the 200 kept
        await pilot.pause()
        assert len(view.lines) == 200 and not view.is_vertical_scroll_end
        assert view.lines[int(view.scroll_y)].entry.message == top
        pane.search = "line 1"  # fewer lines than the scroll position: clamped, not blank
        await pilot.pause()
        assert view.scroll_y <= view.max_scroll_y


async def test_switching_back_to_a_host_reuses_its_lines(monkeypatch) -> None:
    """n then N: the host shown before comes back without making (or rendering) its lines again — only
    entries that arrived meanwhile are new; a third host's lines are not kept."""
    from gb10dash.ui.widgets import log_pane

    made: list[str] = []
    original = log_pane.make_line

    def counting(entry: JournalEntry):
        made.append(entry.message)
        return original(entry)

    a, b, c = make_entries(300), make_entries(200, 1000), make_entries(100, 5000)
    app = PaneApp(a)
    async with app.run_test(size=(100, 20)) as pilot:
        pane = app.query_one(LogPane)
        await pilot.pause()
        monkeypatch.setattr(log_pane, "make_line", counting)
        pane.show_host("spark-2", b)
        assert len(made) == 200
        made.clear()
        more = make_entries(5, 300)
        pane.show_host("spark-1", [*a, *more])  # back, with five new entries
        await pilot.pause()
        assert made == [e.message for e in more]
        assert pane.kept_entries == (*a, *more) and pane.visible_lines[-1].endswith("line 304")
        made.clear()
        pane.show_host("spark-3", c)
        pane.show_host("spark-2", b)  # two hosts back: made again (only the last host's lines are kept)
        assert len(made) == 100 + 200
