"""The wedge canary's verdict on recorded llama-server answers, its [canary] settings, its restart budget."""

from __future__ import annotations

from pathlib import Path

import pytest
from minimal_config import ONE_HOST as HOST

from gb10dash.config import ConfigError, parse_config
from gb10dash.core.canary import CanarySettings, RestartBudget, judge

RECORDED = (Path(__file__).parent.parent / "fixtures" / "llama-server" / "chat_completion.body").read_text()


def test_a_recorded_completion_is_alive_and_slow_ones_are_wedged() -> None:
    ok = judge(200, RECORDED, 0.05, CanarySettings(), at=1.0)
    assert ok.ok and ok.tokens == 2 and round(ok.tps or 0) == 9259
    assert ok.describe() == "canary ok: 2 tokens at 9,259.3 tok/s in 0.1 s"
    slow = judge(200, RECORDED, 0.05, CanarySettings(min_tps=10_000), at=1.0)
    assert not slow.ok and slow.describe() == "wedged: the canary generated 9,259.3 tok/s, below 10000"
    assert "HTTP 503" in (judge(503, '{"error":{"code":503}}', 0.1, CanarySettings(), 1.0).error or "")
    assert "not a chat completion" in (judge(200, "<html>", 0.1, CanarySettings(), 1.0).error or "")
    empty = RECORDED.replace('"completion_tokens":2', '"completion_tokens":0').replace(
        '"predicted_n":2', '"predicted_n":0'
    )
    assert "no tokens" in (judge(200, empty, 0.1, CanarySettings(), 1.0).error or "")


def test_restart_budget_is_per_rolling_hour() -> None:
    budget = RestartBudget(2)
    assert budget.take(0.0) and budget.take(10.0) and not budget.take(20.0)
    assert budget.take(3600.0) and not budget.take(3605.0)
    assert not RestartBudget(0).take(0.0)


def test_settings_from_hosts_toml() -> None:
    config = parse_config(HOST + "\n[canary]\ninterval_s = 60\nmin_tps = 5\nauto_restart = true\n", Path("h.toml"))
    assert config.canary == CanarySettings(interval_s=60.0, min_tps=5.0, auto_restart=True)
    assert parse_config(HOST, Path("h.toml")).canary == CanarySettings()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("intervall_s = 60", "did you mean 'interval_s'"),
        ("interval_s = 1", "expected a number of seconds ≥ 10"),
        ("enabled = 1", "expected true or false"),
        ("max_tokens = 1000", "expected an integer from 1 to 256"),
        ("timeout_s = true", "expected a positive number of seconds"),
    ],
)
def test_bad_settings_name_the_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(HOST + "\n[canary]\n" + text + "\n", Path("h.toml"))
    assert message in str(caught.value) and "h.toml:10:" in str(caught.value)
