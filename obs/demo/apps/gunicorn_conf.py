"""gunicorn settings of the demo's Flask service: JSON logs from the master on, a dead worker's live
gauges dropped, the schema created once before the workers fork."""

from __future__ import annotations

import os
from typing import Any

from exporters.prometheus import child_exit  # noqa: F401  (gunicorn calls it by name)

logger_class = "instrumentation.gunicorn_logger.JsonGunicornLogger"
accesslog = None
timeout = 30
graceful_timeout = 2


def on_starting(server: Any) -> None:
    from obs.demo.apps.work import Work

    Work(os.environ.get("OBS_SERVICE_NAME", "bridge")).setup()
