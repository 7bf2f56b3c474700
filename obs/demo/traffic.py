"""Bounded traffic to the demo's services: a few client threads per service, each paced to its
share of the rate, counting answers by status class.

A service that calls others (``OBS_DEMO_UPSTREAMS``) mostly gets syncs, so its calls carry traces
across services; the others get the built-in platform's journeys: browsing courses, submitting
work, logging in, and a few exports.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import requests

from obs.demo.apps.work import SEED_ROWS


@dataclass(frozen=True, slots=True)
class Target:
    """One service to send traffic to."""

    service: str
    url: str
    calls_others: bool
    rate: float = 10.0


#: (share, method, path) of the requests a service gets; ``{id}`` is a random course.
CALLER_MIX = ((0.5, "POST", "/sync/rosters"), (0.3, "POST", "/sync/grades"), (0.2, "GET", "/api/courses/{id}"))
SERVICE_MIX = (
    (0.3, "GET", "/api/courses"),
    (0.35, "GET", "/api/courses/{id}"),
    (0.15, "POST", "/api/submissions"),
    (0.15, "POST", "/api/auth/login"),
    (0.05, "GET", "/api/reports/export"),
)


def _pick(mix: tuple[tuple[float, str, str], ...]) -> tuple[str, str]:
    roll = random.random()
    for share, method, path in mix:
        roll -= share
        if roll < 0:
            return method, path
    return mix[-1][1], mix[-1][2]


def _request(session: requests.Session, target: Target) -> int:
    """One request; returns the status code (0: no answer)."""
    method, path = _pick(CALLER_MIX if target.calls_others else SERVICE_MIX)
    course = random.randint(1, SEED_ROWS)
    try:
        response = session.request(method, target.url + path.replace("{id}", str(course)), params={"course_id": course} if method == "POST" else None, timeout=5)
        return response.status_code
    except requests.RequestException:
        return 0


def status_class(code: int) -> str:
    return f"{code // 100}xx" if code else "no answer"


class Traffic:
    """Sends traffic to ``targets`` from ``clients`` threads per service until :meth:`stop`."""

    def __init__(self, targets: Sequence[Target], clients: int = 3) -> None:
        self.targets = tuple(targets)
        self.clients = clients
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._counts: dict[str, Counter[str]] = {t.service: Counter() for t in self.targets}
        self._threads: list[threading.Thread] = []

    def start(self) -> Traffic:
        for target in self.targets:
            for n in range(self.clients):
                thread = threading.Thread(target=self._run, args=(target,), name=f"obs-traffic-{target.service}-{n}", daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def _run(self, target: Target) -> None:
        interval = self.clients / target.rate
        session = requests.Session()
        next_at = time.monotonic() + random.random() * interval
        while not self._stop.is_set():
            delay = next_at - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            next_at = max(next_at + interval, time.monotonic() - interval)  # no catch-up storm after a stall
            code = _request(session, target)
            with self._lock:
                self._counts[target.service][status_class(code)] += 1
        session.close()

    @property
    def counts(self) -> Mapping[str, Mapping[str, int]]:
        """Service → status class (``2xx``, ``5xx``, ``no answer``) → requests sent so far."""
        with self._lock:
            return {service: dict(counter) for service, counter in self._counts.items()}

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()


__all__ = ["Target", "Traffic", "status_class"]
