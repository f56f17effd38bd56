"""The running-action view: a step's percentage and lines kept until the next step, undo shown."""

from gb10dash.actions.executor import Progress
from gb10dash.actions.outcome import StepStatus
from gb10dash.ui.widgets.action_progress import ActionView


def test_a_new_step_clears_the_bar_and_an_undo_is_named() -> None:
    view = ActionView("stella", "rebuild", total=3)
    view = view.advanced(Progress(2, 3, "build llama-server", StepStatus.STARTED, "cmake --build b"))
    assert view.percent is None and view.detail == "started"
    view = view.advanced(
        Progress(
            2,
            3,
            "build llama-server",
            StepStatus.PROGRESS,
            "[ 40%] Building x.o",
            3.0,
            40,
            ("[ 39%] a.o", "[ 40%] Building x.o"),
        )
    )
    view = view.advanced(Progress(2, 3, "build llama-server", StepStatus.PROGRESS, "warning: y", 3.2, None, ()))
    assert view.percent == 40 and view.lines[-1] == "[ 40%] Building x.o"  # kept within the step
    assert view.headline() == "rebuild on stella · step 2/3 · build llama-server · 40% · x cancels"
    view = view.advanced(Progress(3, 3, "new binary runs", StepStatus.STARTED, "b/bin/llama-server --version"))
    assert view.percent is None and view.lines == ()
    view = view.advanced(Progress(0, 3, "point back at the previous build", StepStatus.UNDO, "mv -T b.switch-link b"))
    assert view.title == "undo: point back at the previous build" and view.step == 3
