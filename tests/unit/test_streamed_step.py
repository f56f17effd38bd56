"""Reading a streamed step's output: `[ NN%]` lines, the exit-status marker, the last lines kept.
On real processes: tests/lab/test_streamed_step.py."""

from __future__ import annotations

from gb10dash.actions.streamed import EXIT_MARK, StreamedOutput, streamed_argv


def test_output_feed_parses_percent_and_the_exit_marker() -> None:
    out = StreamedOutput(keep=3)
    assert out.feed("-- Configuring done") is False
    assert out.feed("[  5%] Building C object a.o") is True and out.percent == 5
    assert out.feed("[  5%] Building C object b.o") is False
    assert out.feed("[100%] Linking CXX executable ../../bin/llama-server") is True
    out.feed(f"{EXIT_MARK}2")
    assert out.exit_status == 2 and out.line_count == 4 and len(out.tail) == 3
    assert streamed_argv(["cmake", "--build", "b"])[-3:] == ["cmake", "--build", "b"]
