"""The doctor's verdict lines (pure): mark, name, what was found, and the fix under it."""

from __future__ import annotations

from gb10dash.doctor.checks import Verdict, fail, failed, ok, warn


def test_lines_and_the_exit_verdict() -> None:
    good = ok("ssh", "stella-llm: logged in as llm-agent")
    assert good.line() == "✓ ssh           stella-llm: logged in as llm-agent"
    limit = warn("build", "no nvcc", "install the CUDA toolkit")
    assert limit.line() == "! build         no nvcc\n  fix: install the CUDA toolkit"
    broken = fail("api", "/metrics is off", "add --metrics to the unit's ExecStart")
    assert broken.line().startswith("✗ api ") and broken.as_json()["verdict"] == "fail"
    assert not failed([good, limit]) and failed([good, broken])
    assert broken.verdict is Verdict.FAIL
