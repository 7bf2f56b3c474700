"""The SLO recordings the dashboards read, named by the SLO model (:mod:`obs.slo`).

The SLO maths (error ratio per window, burn rate, budget spent and left) has one definition: the
recording rules. SLO panels select those series instead of recomputing them from the request
counters, so a panel and the alert it explains read the same number, and a 30-day panel is one
cheap selector instead of a 30-day ``increase`` over every histogram series on each refresh.

The names and labels come from :mod:`obs.slo`, which the rules render from too
(:class:`obs.slo.SLORecording`, :func:`obs.slo.recordings`); no name is retyped here and the
renderer is not run. A dashboard asks for a kind of recording over a window;
:meth:`SLORecordings.series` fails the build, naming the SLO and the closest recorded name, when
the SLO does not record it (a window no alert uses), so a wrong name breaks the build and not the
panel. The rules check at render time that they record exactly what :func:`obs.slo.recordings`
lists. The selector then matches exactly the labels the rule puts on the series.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from obs.errors import RenderError
from obs.model import SLO, Service
from obs.slo import SLORecording, recordings


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

    def series(self, kind: SLORecording, window: str = "") -> Recording:
        """The recording of ``kind`` (over ``window`` when it has one); a :class:`RenderError`
        naming the SLO and the closest recorded name when the SLO does not record it."""
        name = kind.series(window)
        labels = self.recorded.get(name)
        if labels is None:
            close = difflib.get_close_matches(name, sorted(self.recorded), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise RenderError(
                f"dashboards: {self.where}: reads the recording {name!r}, which the rules do not record "
                f"for this SLO (obs.slo.recordings){hint}"
            )
        return Recording(name, labels)


def slo_recordings(service: Service, slo: SLO) -> SLORecordings:
    """What the rules record for ``slo`` of ``service`` (:func:`obs.slo.recordings`)."""
    return SLORecordings(f"services[{service.name}].slos[{slo.name}]", slo, recordings(service, slo))


__all__ = [
    "Recording",
    "SLORecordings",
    "slo_recordings",
]
