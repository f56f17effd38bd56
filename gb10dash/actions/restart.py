"""Restart: `sudo -n systemctl restart UNIT`, then wait until /health says ok (load time measured)."""

from __future__ import annotations

from gb10dash.actions.plan import Plan, Step, StepKind
from gb10dash.actions.watch_only import require_unit
from gb10dash.config import HostConfig

DEFAULT_LOAD_TIMEOUT_S = 300.0  # loading a big GGUF from NFS takes 1-2 min on a GB10


def plan_restart(host: HostConfig, *, load_timeout_s: float = DEFAULT_LOAD_TIMEOUT_S) -> Plan:
    require_unit(host, "restart")
    return Plan(
        action="restart",
        host=host.name,
        summary=f"restart {host.unit} and wait until the model is loaded",
        steps=(
            Step(
                "restart the service",
                argv=("sudo", "-n", "systemctl", "restart", host.unit),
                why="stops the running llama-server and starts it again",
                timeout_s=120.0,
            ),
            Step(
                "wait for the model to load",
                kind=StepKind.WAIT_HEALTHY,
                timeout_s=load_timeout_s,
                why="/health answers 503 while loading, 200 when ready",
            ),
        ),
    )
