"""Injected faults, as the demo's services read them: a JSON file the fault injector rewrites.

``{"backend": {"error_ratio": 0.5, "latency_seconds": 0.4}}``: each service answers that share of
its requests with a 500 and sleeps that long first. A file rather than an endpoint, so that every
gunicorn worker sees the same faults; it is read again only when its modification time changes.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Fault:
    error_ratio: float = 0.0
    latency_seconds: float = 0.0


NO_FAULT = Fault()


class InjectedError(Exception):
    """Raised by a request the fault injector chose to fail (the app answers 500)."""


class FaultFile:
    """The faults of one service, re-read when the file changes (at most every 0.2 s)."""

    def __init__(self, path: str | None, service: str) -> None:
        self.path = Path(path) if path else None
        self.service = service
        self._mtime = 0.0
        self._checked = 0.0
        self._fault = NO_FAULT
        self._lock = threading.Lock()

    def current(self) -> Fault:
        if self.path is None:
            return NO_FAULT
        now = time.monotonic()
        if now - self._checked < 0.2:
            return self._fault
        with self._lock:
            self._checked = now
            try:
                mtime = os.stat(self.path).st_mtime
            except OSError:
                self._fault = NO_FAULT
                return NO_FAULT
            if mtime != self._mtime:
                self._mtime = mtime
                self._fault = _read(self.path, self.service)
        return self._fault

    def apply(self) -> None:
        """Sleep the injected latency, then raise :class:`InjectedError` for the injected share."""
        fault = self.current()
        if fault.latency_seconds > 0:
            time.sleep(fault.latency_seconds)
        if fault.error_ratio > 0 and random.random() < fault.error_ratio:
            raise InjectedError(f"injected fault: {fault.error_ratio:.0%} of {self.service} requests fail")


def _read(path: Path, service: str) -> Fault:
    try:
        entry = json.loads(path.read_text(encoding="utf-8")).get(service) or {}
        return Fault(float(entry.get("error_ratio", 0.0)), float(entry.get("latency_seconds", 0.0)))
    except (OSError, ValueError, AttributeError):
        return NO_FAULT


def write_faults(path: Path, faults: dict[str, Fault]) -> None:
    """Replace the fault file atomically (readers never see half a file)."""
    data = {name: {"error_ratio": f.error_ratio, "latency_seconds": f.latency_seconds} for name, f in faults.items() if f != NO_FAULT}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


__all__ = ["NO_FAULT", "Fault", "FaultFile", "InjectedError", "write_faults"]
