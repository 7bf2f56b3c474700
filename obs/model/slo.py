"""Service level objectives: what counts as a good event, the objective and its window."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import ClassVar

from obs import contract
from obs.errors import ModelError
from obs.model._base import (
    _ROUTE,
    NAME_SCHEMA,
    POSITIVE_DURATION_SCHEMA,
    Problems,
    _check_name,
    _check_number,
    _check_text,
    doc,
    key_of,
    name_check,
    parse_duration,
)

#: A status-code regex: digits, wildcards and alternation, nothing that could end a PromQL string.
_STATUS_REGEX = re.compile(r"[0-9.x|\[\]()^?*+-]{1,64}", re.ASCII)


@dataclass(frozen=True, slots=True)
class AvailabilitySLI:
    """Good events are responses whose status does not match ``error_status_regex``; total is all
    responses of the service's HTTP duration histogram."""

    type: ClassVar[str] = "availability"
    error_status_regex: str = doc(
        "Status codes counted as errors (a PromQL regex of digits, '.', '|', '[]', '()').",
        default="5..",
        schema={"pattern": r"^[0-9.x|\[\]()^?*+-]{1,64}$"},
    )

    def __post_init__(self) -> None:
        value = self.error_status_regex
        if not isinstance(value, str) or not _STATUS_REGEX.fullmatch(value):
            raise ModelError("error_status_regex", f"{value!r} is not a status-code regex", "e.g. '5..' or '5..|429'")
        try:
            re.compile(value)
        except re.error as exc:
            raise ModelError("error_status_regex", f"{value!r} is not a regex: {exc}", "e.g. '5..'") from None


@dataclass(frozen=True, slots=True)
class LatencySLI:
    """Good events are requests that finished within ``threshold_seconds``; the threshold must be a
    bucket boundary of the contract's duration histogram so the count is exact."""

    type: ClassVar[str] = "latency"
    threshold_seconds: float = doc(
        "Requests faster than this are good. Must be a histogram bucket boundary.",
        schema={"enum": list(contract.HTTP_DURATION_BUCKETS)},
    )

    def __post_init__(self) -> None:
        value = self.threshold_seconds
        if isinstance(value, bool) or not isinstance(value, int | float) or float(value) not in contract.HTTP_DURATION_BUCKETS:
            bounds = ", ".join(f"{b:g}" for b in contract.HTTP_DURATION_BUCKETS)
            raise ModelError(
                "threshold_seconds",
                f"{value!r} is not a bucket boundary of {contract.HTTP_SERVER_DURATION.name}",
                f"choose one of {bounds}",
            )

    @property
    def le(self) -> str:
        """The ``le`` label value of the bucket that counts good events."""
        return contract.format_bucket(float(self.threshold_seconds))


SLI = AvailabilitySLI | LatencySLI

#: The shortest SLO window that leaves room for the longest alert window (3d).
MIN_SLO_WINDOW_SECONDS = 86400 * 7


@dataclass(frozen=True, slots=True)
class SLO:
    """A service level objective over a rolling window."""

    name: str = doc("Name, unique within the service, e.g. 'availability'.", schema=NAME_SCHEMA, check=name_check("SLO"))
    sli: SLI = doc(
        "What counts as a good event: {type: availability} or {type: latency, threshold_seconds: 0.3}."
    )
    objective: float = doc(
        "Target fraction of good events, strictly between 0 and 1, e.g. 0.999.",
        schema={"exclusiveMinimum": 0, "exclusiveMaximum": 1},
    )
    window: str = doc("Rolling window of the objective (at least 7d).", default="30d", schema=POSITIVE_DURATION_SCHEMA)
    description: str = doc("What users feel when this SLO is missed.", default="")
    min_request_rate: float = doc(
        "Low-traffic guard: ratio alerts stay silent below this many requests per second (a total outage still alerts).",
        default=0.05,
        schema={"minimum": 0},
    )
    page: bool = doc("Whether fast burn pages (true) or only opens a ticket (false).", default=True)
    exclude_routes: tuple[str, ...] = doc(
        "Route templates left out of the SLI (e.g. admin exports).", default=(), schema={"pattern": r"^/[!-~]*$"}
    )

    def __post_init__(self) -> None:
        here = f"slos[{key_of(self.name)}]"
        problems = Problems()
        problems.check(_check_name, self.name, f"{here}.name", "SLO")
        if not isinstance(self.sli, AvailabilitySLI | LatencySLI):
            problems.add(f"{here}.sli", f"{self.sli!r} is not an SLI", "use AvailabilitySLI() or LatencySLI(threshold_seconds=0.3)")
        value = self.objective
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or not 0 < value < 1:
            problems.add(f"{here}.objective", f"{value!r} must be between 0 and 1", "e.g. 0.999")
        try:
            if parse_duration(self.window, f"{here}.window", positive=True) < MIN_SLO_WINDOW_SECONDS:
                problems.add(
                    f"{here}.window",
                    f"{self.window} is shorter than the longest alert window (3d) allows for a useful budget",
                    "use at least 7d; 28d or 30d are usual",
                )
        except ModelError as err:
            problems.errors.append(err)
        problems.check(_check_text, self.description, f"{here}.description")
        problems.check(_check_number, self.min_request_rate, f"{here}.min_request_rate", 0, math.inf, "0.05 (0 turns the guard off)")
        object.__setattr__(self, "exclude_routes", tuple(self.exclude_routes))
        for route in self.exclude_routes:
            if not isinstance(route, str) or not _ROUTE.fullmatch(route) or any(c in route for c in "\"'\\`"):
                problems.add(f"{here}.exclude_routes", f"{route!r} is not a route template", "e.g. '/admin/export'")
        problems.done()

    @property
    def window_seconds(self) -> int:
        return parse_duration(self.window)

    @property
    def error_budget(self) -> float:
        """Fraction of events allowed to be bad over the window."""
        return 1.0 - self.objective


__all__ = ["MIN_SLO_WINDOW_SECONDS", "SLI", "SLO", "AvailabilitySLI", "LatencySLI"]
