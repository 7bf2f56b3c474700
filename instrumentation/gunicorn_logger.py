"""gunicorn's own log lines as JSON from the master on: ``logger_class`` for ``gunicorn.conf.py``.

``instrument()`` adopts gunicorn's loggers in each worker (``instrumentation.servers``); the master
never imports the app, so its lines (start-up, workers booted, a worker's timeout or crash) need
this class::

    # gunicorn.conf.py
    logger_class = "instrumentation.gunicorn_logger.JsonGunicornLogger"

Every handler gunicorn sets up (error log, access log, files or streams) writes the instrumentation's
``JsonFormatter`` lines (identity from ``OBS_*``/``OTEL_*``), request targets without their query
strings.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from .logs import JsonFormatter
from .servers import TargetQueryFilter


class JsonGunicornLogger(Logger):  # type: ignore[misc]  # gunicorn ships no type information
    """gunicorn's ``Logger`` whose handlers write JSON lines through the contract's redaction."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        formatter = JsonFormatter()
        query_filter = TargetQueryFilter()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter)
                if not any(isinstance(f, TargetQueryFilter) for f in handler.filters):
                    handler.addFilter(query_filter)


__all__ = ["JsonGunicornLogger"]
