"""Switching off or retuning a catalogue alert, per component or per environment.

A catalogue alert keeps its expression's shape and its generated tests; what a team may change is
whether it runs, its severity, how long the condition must hold, and the threshold of alerts that
have one. The tests follow the tuned values (the threshold cases are built from them).

Precedence, most specific first: ``environments[e].alerts["<component>/<Alert>"]``, then
``environments[e].alerts["<Alert>"]``, then the component's ``alerts["<Alert>"]``; a field left
empty falls through to the next.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from obs.errors import ModelError
from obs.model._base import Problems, doc, parse_duration

#: The severities a tuning may set (the catalogue's scale).
SEVERITIES = ("page", "ticket", "info")


@dataclass(frozen=True, slots=True)
class AlertTuning:
    """Changes to one catalogue alert."""

    enabled: bool | None = doc("false switches the alert off.", default=None)
    severity: str = doc("page, ticket or info instead of the catalogue's.", default="", schema={"enum": ["", *SEVERITIES]})
    for_: str = doc("How long the condition must hold, instead of the catalogue's.", default="", key="for", schema={"pattern": r"^$|^[0-9]+[smhdw]$"})
    threshold: float | None = doc("The alert's threshold, in the unit its description states.", default=None)

    def __post_init__(self) -> None:
        problems = Problems()
        if self.severity and self.severity not in SEVERITIES:
            problems.add("severity", f"{self.severity!r} is not on the scale", f"use one of {', '.join(SEVERITIES)}")
        if self.for_:
            problems.check(parse_duration, self.for_, "for")
        if self.threshold is not None and (isinstance(self.threshold, bool) or not isinstance(self.threshold, int | float) or not math.isfinite(self.threshold)):
            problems.add("threshold", f"{self.threshold!r} is not a number", "e.g. 0.9")
        problems.done()

    def merged(self, fallback: AlertTuning) -> AlertTuning:
        """This tuning, with what it leaves empty taken from ``fallback``."""
        return AlertTuning(
            enabled=self.enabled if self.enabled is not None else fallback.enabled,
            severity=self.severity or fallback.severity,
            for_=self.for_ or fallback.for_,
            threshold=self.threshold if self.threshold is not None else fallback.threshold,
        )


NO_TUNING = AlertTuning()


def check_alert_key(key: str, path: str) -> None:
    """``AlertName`` or ``component/AlertName``."""
    _, _, alert = key.rpartition("/")
    if not alert[:1].isupper() or not alert.isalnum() or not alert.isascii():
        raise ModelError(path, f"{key!r} does not name an alert", "e.g. 'RedisMemoryHigh' or 'redis/RedisMemoryHigh'")


__all__ = ["NO_TUNING", "SEVERITIES", "AlertTuning", "check_alert_key"]
