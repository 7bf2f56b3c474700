"""One warning per cause: repeated warnings of the telemetry libraries, rate-limited.

OpenTelemetry's baggage propagator warns once per malformed list member, with the member in the
message: a 1.8 KB ``baggage`` header of 180 bad entries wrote 180 lines per request, each quoting
what the client sent. Its batch processor warns once per dropped span while a collector is down.
``RepeatedWarningFilter`` (on the JSON handler ``instrument()`` installs) lets the first warning of
a cause through, then holds that cause's repeats for ``interval`` seconds and says on the next line
it lets through how many it held. A cause is the logger and the message's format string, so
"Invalid baggage entry: `%s`" is one cause whatever the entry.

Only the telemetry libraries' own loggers (``LIMITED_LOGGERS``) are limited: the application's
warnings are its owner's to tune. Records below WARNING pass untouched.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

#: Logger name prefixes whose repeated warnings are limited.
LIMITED_LOGGERS: tuple[str, ...] = ("opentelemetry", "obs.instrumentation", "obs.exporters")
#: Seconds a cause is held after its warning got through.
REPEAT_INTERVAL = 60.0
#: Causes remembered at most (format strings are few; the bound guards against a caller that
#: formats its message itself).
MAX_CAUSES = 1024


class RepeatedWarningFilter(logging.Filter):
    """Lets one warning per cause through every ``interval`` seconds; counts the ones it holds."""

    def __init__(self, interval: float = REPEAT_INTERVAL, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        #: cause -> (when its last line got through, repeats held since)
        self._causes: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(LIMITED_LOGGERS):
            return True
        cause = (record.name, record.msg if isinstance(record.msg, str) else type(record.msg).__name__)
        now = self._clock()
        with self._lock:
            seen = self._causes.get(cause)
            if seen is not None and now - seen[0] < self.interval:
                self._causes[cause] = (seen[0], seen[1] + 1)
                return False
            if seen is None and len(self._causes) >= MAX_CAUSES:
                self._causes.clear()
            self._causes[cause] = (now, 0)
        held = seen[1] if seen is not None else 0
        if held:
            # The record is shared by every handler: the note goes into its format string (no "%").
            record.msg = f"{record.getMessage()} ({held} more like this in the last {self.interval:g} s)"
            record.args = None
        return True


__all__ = ["LIMITED_LOGGERS", "MAX_CAUSES", "REPEAT_INTERVAL", "RepeatedWarningFilter"]
