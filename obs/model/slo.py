"""Service level objectives: what counts as a good event, the objective and its window."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from obs import contract
from obs.errors import ModelError
from obs.model._base import _ROUTE, _check_name, doc, parse_duration


@dataclass(frozen=True, slots=True)
class AvailabilitySLI:
    """Good events are responses whose status does not match ``error_status_regex``; total is all
    responses of the service's HTTP duration histogram."""

    type: ClassVar[str] = "availability"
    error_status_regex: str = doc("Status codes counted as errors (a PromQL regex).", default="5..")

    def __post_init__(self) -> None:
        try:
            re.compile(self.error_status_regex)
        except re.error as exc:
            raise ModelError(
                "error_status_regex", f"{self.error_status_regex!r} is not a regex: {exc}", "e.g. '5..'"
            ) from exc


@dataclass(frozen=True, slots=True)
class LatencySLI:
    """Good events are requests that finished within ``threshold_seconds``; the threshold must be a
    bucket boundary of the contract's duration histogram so the count is exact."""

    type: ClassVar[str] = "latency"
    threshold_seconds: float = doc("Requests faster than this are good. Must be a histogram bucket boundary.")

    def __post_init__(self) -> None:
        if float(self.threshold_seconds) not in contract.HTTP_DURATION_BUCKETS:
            bounds = ", ".join(f"{b:g}" for b in contract.HTTP_DURATION_BUCKETS)
            raise ModelError(
                "threshold_seconds",
                f"{self.threshold_seconds!r} is not a bucket boundary of {contract.HTTP_SERVER_DURATION.name}",
                f"choose one of {bounds}",
            )

    @property
    def le(self) -> str:
        """The ``le`` label value of the bucket that counts good events."""
        return contract.format_bucket(float(self.threshold_seconds))


SLI = AvailabilitySLI | LatencySLI


@dataclass(frozen=True, slots=True)
class SLO:
    """A service level objective over a rolling window."""

    name: str = doc("Name, unique within the service, e.g. 'availability'.")
    sli: SLI = doc(
        "What counts as a good event: {type: availability} or {type: latency, threshold_seconds: 0.3}."
    )
    objective: float = doc("Target fraction of good events, strictly between 0 and 1, e.g. 0.999.")
    window: str = doc("Rolling window of the objective.", default="30d")
    description: str = doc("What users feel when this SLO is missed.", default="")
    min_request_rate: float = doc(
        "Low-traffic guard: SLO alerts stay silent below this many requests per second.", default=0.05
    )
    page: bool = doc("Whether fast burn pages (true) or only opens a ticket (false).", default=True)
    exclude_routes: tuple[str, ...] = doc(
        "Route templates left out of the SLI (e.g. admin exports).", default=()
    )

    def __post_init__(self) -> None:
        here = f"slos[{self.name}]"
        _check_name(self.name, f"{here}.name", "SLO")
        if not isinstance(self.sli, AvailabilitySLI | LatencySLI):
            raise ModelError(
                f"{here}.sli",
                f"{self.sli!r} is not an SLI",
                "use AvailabilitySLI() or LatencySLI(threshold_seconds=0.3)",
            )
        if (
            isinstance(self.objective, bool)
            or not isinstance(self.objective, int | float)
            or not 0 < self.objective < 1
        ):
            raise ModelError(f"{here}.objective", f"{self.objective!r} must be between 0 and 1", "e.g. 0.999")
        seconds = parse_duration(self.window, f"{here}.window")
        if seconds < 86400 * 7:
            raise ModelError(
                f"{here}.window",
                f"{self.window} is shorter than the longest alert window (3d) allows for a useful budget",
                "use at least 7d; 28d or 30d are usual",
            )
        if self.min_request_rate < 0:
            raise ModelError(
                f"{here}.min_request_rate",
                f"{self.min_request_rate} is negative",
                "use 0 to disable the guard, e.g. 0.05",
            )
        object.__setattr__(self, "exclude_routes", tuple(self.exclude_routes))
        for route in self.exclude_routes:
            if not _ROUTE.match(route):
                raise ModelError(
                    f"{here}.exclude_routes", f"{route!r} is not a route template", "e.g. '/admin/export'"
                )

    @property
    def window_seconds(self) -> int:
        return parse_duration(self.window)

    @property
    def error_budget(self) -> float:
        """Fraction of events allowed to be bad over the window."""
        return 1.0 - self.objective


