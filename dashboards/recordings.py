"""The SLO recordings the dashboards read, as :mod:`obs.render.rules` records them.

The SLO maths (error ratio per window, burn rate, budget spent and left) has one definition: the
recording rules. SLO panels select those series instead of recomputing them from the request
counters, so a panel and the alert it explains read the same number, and a 30-day panel is one
cheap selector instead of a 30-day ``increase`` over every histogram series on each refresh.

:func:`slo_recordings` asks the rules module which series it records for one SLO and with which
labels (it runs the rule generator itself, it does not repeat it). A dashboard names a recording
by the templates below; :meth:`SLORecordings.series` fails the build, naming the SLO and the
closest recorded name, when the rules do not record it, so a renamed rule breaks the build and
not the panel. The selector then matches exactly the labels the rule puts on the series.

obs.render.rules writes the names inside its f-strings and exports none; the templates below are
checked against what it records instead of imported (see the module's tests).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from obs.errors import RenderError
from obs.model import SLO, Platform, Service
from obs.render import rules

#: Fraction of bad events over ``{window}`` (the SLO's own window too, from the 5m slices).
ERROR_RATIO = "slo:sli_error:ratio_rate{window}"
#: Error ratio over ``{window}`` divided by the error budget: 1 spends it exactly over the SLO window.
BURN_RATE = "slo:burn_rate:ratio_rate{window}"
#: Error ratio over the SLO window divided by the budget: the fraction of the budget spent.
BUDGET_SPENT = "slo:period_burn_rate:ratio"
#: One minus the budget spent: the fraction left (negative: overspent).
BUDGET_REMAINING = "slo:period_error_budget_remaining:ratio"


@dataclass(frozen=True, slots=True)
class Recording:
    """One recorded series of an SLO: its name and the labels the rule puts on it."""

    name: str
    labels: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class SLORecordings:
    """Every series the rules record for one SLO: name → labels on the series."""

    where: str
    slo: SLO
    recorded: Mapping[str, Mapping[str, str]]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.recorded)

    def series(self, template: str, window: str = "") -> Recording:
        """The recording ``template`` (over ``window`` when it has one); a :class:`RenderError`
        naming the SLO and the closest recorded name when the rules do not record it."""
        name = template.format(window=window)
        labels = self.recorded.get(name)
        if labels is None:
            close = difflib.get_close_matches(name, sorted(self.recorded), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise RenderError(
                f"dashboards: {self.where}: reads the recording {name!r}, which obs.render.rules does not "
                f"record for this SLO{hint} (change dashboards/recordings.py with the rule)"
            )
        return Recording(name, labels)


def slo_recordings(platform: Platform, service: Service, slo: SLO) -> SLORecordings:
    """What :func:`obs.render.rules.slo_recordings` records for ``slo`` of ``service``."""
    scratch = rules.RuleFile(f"slo-{service.name}-{slo.name}")
    rules.slo_recordings(scratch, scratch, platform, service, slo)
    recorded: dict[str, Mapping[str, str]] = {}
    for group in scratch.groups:
        for rule in group["rules"]:
            recorded[str(rule["record"])] = {str(k): str(v) for k, v in rule["labels"].items()}
    return SLORecordings(f"services[{service.name}].slos[{slo.name}]", slo, recorded)


__all__ = [
    "BUDGET_REMAINING",
    "BUDGET_SPENT",
    "BURN_RATE",
    "ERROR_RATIO",
    "Recording",
    "SLORecordings",
    "slo_recordings",
]
