"""Readiness checks, bounded polling, and free loopback ports: what a test or the demo waits on.

A :class:`Readiness` says how to tell that a started process serves (an HTTP 2xx, a TCP connect, a
callable, or a line in its log); :func:`wait_until` polls any condition with a time bound and
names it when it does not come true.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from obs.errors import ObsError

T = TypeVar("T")


class NoFreePortError(ObsError):
    """The kernel handed out only ports this process had already given away."""


@dataclass(frozen=True, slots=True)
class Readiness:
    """How to tell that a started process serves: ``probe()`` returns True and, when ``log_text`` is
    set, this run's log contains it (the log file is appended to across restarts; earlier runs do not count)."""

    what: str
    probe: Callable[[], bool] | None = None
    log_text: str | None = None


def http_ready(url: str, *, timeout: float = 1.0) -> Readiness:
    """Ready when ``GET url`` answers 2xx."""

    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                response.read()  # closing unread makes the server log a broken pipe
                return 200 <= int(response.status) < 300
        except (OSError, urllib.error.URLError):
            return False

    return Readiness(f"GET {url} answers 2xx", probe)


def tcp_ready(port: int, host: str = "127.0.0.1", *, timeout: float = 1.0) -> Readiness:
    """Ready when a TCP connection to ``host:port`` is accepted."""

    def probe() -> bool:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True
        except OSError:
            return False

    return Readiness(f"TCP {host}:{port} accepts connections", probe)


def ready_when(probe: Callable[[], bool], what: str) -> Readiness:
    """Ready when ``probe()`` returns True (an exception counts as not yet)."""
    return Readiness(what, probe)


def log_says(text: str) -> Readiness:
    """Ready once the process has written ``text`` to its log in this run (e.g. "Application startup complete")."""
    return Readiness(f"its log says {text!r}", log_text=text)


def wait_until(predicate: Callable[[], T], *, timeout: float, what: str, interval: float = 0.1) -> T:
    """Poll ``predicate`` until it returns a truthy value, and return that value.

    Bounded in time; on timeout raises ``TimeoutError`` naming ``what`` and the last exception the
    predicate raised, if any (an exception counts as "not yet").
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # a server that is still starting answers with errors
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {type(last_error).__name__}: {last_error})" if last_error else ""
            raise TimeoutError(f"{what}: not within {timeout:g} s{detail}")
        time.sleep(interval)


_issued_ports: set[int] = set()
_ports_lock = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` now, never the same one twice in this process."""
    with _ports_lock:
        for _ in range(64):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((host, 0))
                port = int(sock.getsockname()[1])
            if port not in _issued_ports:
                _issued_ports.add(port)
                return port
    raise NoFreePortError(f"no free TCP port on {host} after 64 tries")


__all__ = ["NoFreePortError", "Readiness", "free_port", "http_ready", "log_says", "ready_when", "tcp_ready", "wait_until"]
