"""Alerts: rules (pure conditions on a HostState), the engine (flapping guard, history), notify."""

from gb10dash.alerts.engine import Alert, AlertEngine, AlertEvent, Pending
from gb10dash.alerts.rules import CRITICAL, RULES, WARNING, Condition
from gb10dash.alerts.settings import AlertSettings, RuleSettings

__all__ = [
    "CRITICAL",
    "RULES",
    "WARNING",
    "Alert",
    "AlertEngine",
    "AlertEvent",
    "AlertSettings",
    "Condition",
    "Pending",
    "RuleSettings",
]
