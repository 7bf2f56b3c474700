"""Input series and cases for promtool tests: values in promtool's expanding notation, signals
that are good or bad each minute, and the fires / healthy / blip cases every threshold alert gets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from obs.alerting import AlertTest, Fires, Series
from obs.model import parse_duration

TEST_MINUTES_MARGIN = 2


def num(value: float) -> str:
    return format(value, ".12g")


def compress(values: Sequence[float]) -> str:
    """Values in promtool's expanding notation: runs with a constant step become ``a+bxn``."""
    parts: list[str] = []
    i = 0
    while i < len(values):
        j = i + 1
        step = values[j] - values[i] if j < len(values) else 0.0
        while j + 1 < len(values) and abs((values[j + 1] - values[j]) - step) < 1e-9:
            j += 1
        if j >= len(values):
            j = len(values) - 1
        count = j - i
        start, delta = values[i], (values[j] - values[i]) / count if count else 0.0
        if count == 0:
            parts.append(num(start))
        elif abs(delta) < 1e-12:
            parts.append(f"{num(start)}x{count}")
        else:
            sign = "+" if delta > 0 else "-"
            parts.append(f"{num(start)}{sign}{num(abs(delta))}x{count}")
        i = j + 1
    return " ".join(parts)


@dataclass(frozen=True, slots=True)
class Signal:
    """A series whose value is ``good`` or ``bad`` each minute; a counter adds it instead."""

    selector: str
    good: float
    bad: float
    counter: bool = False

    def series(self, bad_minutes: Sequence[bool]) -> Series:
        values: list[float] = []
        total = 0.0
        for bad in bad_minutes:
            step = self.bad if bad else self.good
            if self.counter:
                values.append(total)
                total += step
            else:
                values.append(step)
        return Series(self.selector, compress(values))


def duration_minutes(duration: str) -> int:
    return max(1, parse_duration(duration) // 60)


def every_minute(until: int) -> tuple[str, ...]:
    return tuple(f"{m}m" for m in range(until))


def case_eval_minute(for_: str, window_minutes: int = 0) -> int:
    """When :func:`threshold_cases` evaluates: ``for`` and the rate window have passed, with margin."""
    hold = duration_minutes(for_) if parse_duration(for_) else 0
    return hold + window_minutes + 2 * TEST_MINUTES_MARGIN


def threshold_cases(
    signals: Sequence[Signal],
    for_: str,
    fires: Fires,
    *,
    window_minutes: int = 0,
    extra: Sequence[Series] = (),
) -> tuple[AlertTest, ...]:
    """The three cases every threshold alert gets.

    * fires: bad from the start, evaluated after ``for`` (plus the rate window) has passed;
    * healthy: good all along, same evaluation time;
    * blip: bad for less than ``for``, then good; evaluated once the blip has left every window.

    ``window_minutes`` is the range of the rate/increase the expression reads: a counter burst keeps
    the condition true that long after it stops, so the blip is shortened by it.
    """
    hold = duration_minutes(for_) if parse_duration(for_) else 0
    eval_minute = case_eval_minute(for_, window_minutes)
    total = eval_minute + 1
    blip = max(1, hold - window_minutes - 1)
    plans = {
        "fires": [True] * total,
        "healthy": [False] * total,
        "blip shorter than for": [i < blip for i in range(total)],
    }
    cases = []
    for name, plan in plans.items():
        series = tuple(s.series(plan) for s in signals) + tuple(extra)
        expected = (fires,) if name == "fires" else ()
        # The blip case is checked at every minute, not only after it: without `for` the alert
        # would fire during the blip and be resolved again by the final evaluation.
        silent = every_minute(eval_minute) if name.startswith("blip") else ()
        cases.append(
            AlertTest(name=name, series=series, eval_time=f"{eval_minute}m", fires=expected, silent_at=silent)
        )
    if hold == 0:
        # Without `for` there is no blip to ignore: the alert is meant to fire on one evaluation.
        cases = [c for c in cases if c.name != "blip shorter than for"]
    return tuple(cases)


__all__ = ["Signal", "TEST_MINUTES_MARGIN", "case_eval_minute", "compress", "every_minute", "duration_minutes", "num", "threshold_cases"]
