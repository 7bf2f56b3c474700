"""The servers' own log lines as JSON, through the same formatter and redaction as the app's.

uvicorn and gunicorn configure their loggers before they import the app: their errors (an
unhandled exception's traceback with its message), lifecycle lines and access lines are plain text
on stderr/stdout, which the JSON pipelines cannot parse and nothing redacts. ``instrument()``
adopts them in the process it runs in (``adopt_server_loggers``): their handlers keep their streams
and get the app's ``JsonFormatter``, request targets in their messages lose their query strings
(``TargetQueryFilter``), and their access loggers are switched off while obs writes the access log
(each request would be logged twice, the server's line with its query string).

A server's parent process never imports the app. For its lines too:

- gunicorn: ``logger_class = "instrumentation.gunicorn_logger.JsonGunicornLogger"`` in
  ``gunicorn.conf.py`` (or ``--logger-class``);
- uvicorn with ``--workers`` or ``--reload``: ``--log-config`` with ``UVICORN_LOG_CONFIG_FILE``
  (the same configuration as a dict: ``uvicorn_log_config()``, for ``uvicorn.run(log_config=...)``).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

#: Loggers the servers write their errors and lifecycle lines to.
SERVER_LOGGERS: tuple[str, ...] = ("uvicorn", "uvicorn.error", "uvicorn.asgi", "gunicorn", "gunicorn.error")
#: Loggers the servers write one line per request to (obs's access log replaces them).
SERVER_ACCESS_LOGGERS: tuple[str, ...] = ("uvicorn.access", "gunicorn.access")
#: ``uvicorn --log-config`` file: every uvicorn logger through ``JsonFormatter`` and ``TargetQueryFilter``.
UVICORN_LOG_CONFIG_FILE = Path(__file__).with_name("uvicorn_logging.json")

#: A path followed by a query string or fragment, in a message ("GET /a?b=c HTTP/1.1").
_TARGET_QUERY = re.compile(r"(/[^\s?#\"']*)[?#][^\s\"']*")

_log = logging.getLogger("obs.instrumentation")


class TargetQueryFilter(logging.Filter):
    """Drops query strings and fragments from request targets in a record's message: obs never
    records a query string, and a server's messages carry the raw target ("Error handling
    request /login?password=..."). The message is formatted once here and kept formatted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: logging reports it where it formats it
            return True
        if "?" in message or "#" in message:
            cleaned = _TARGET_QUERY.sub(r"\1", message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


def uvicorn_log_config() -> dict[str, Any]:
    """The ``dictConfig`` of ``UVICORN_LOG_CONFIG_FILE``: ``uvicorn.run(app, log_config=...)``."""
    config: dict[str, Any] = json.loads(UVICORN_LOG_CONFIG_FILE.read_text(encoding="utf-8"))
    return config


def adopt_server_loggers(formatter: logging.Formatter, *, keep_access: bool) -> Callable[[], None]:
    """Give the servers' loggers' handlers ``formatter`` and a ``TargetQueryFilter``; switch their
    access loggers off unless ``keep_access`` (obs writes the access log). Returns the undo."""
    undo: list[Callable[[], None]] = []
    query_filter = TargetQueryFilter()
    names = SERVER_LOGGERS + (SERVER_ACCESS_LOGGERS if keep_access else ())
    for name in names:
        logger = logging.getLogger(name)
        logger.addFilter(query_filter)
        undo.append(partial(logger.removeFilter, query_filter))
        for handler in logger.handlers:
            if handler.formatter is formatter:
                continue
            undo.append(partial(handler.setFormatter, handler.formatter))
            handler.setFormatter(formatter)
    if not keep_access:
        for name in SERVER_ACCESS_LOGGERS:
            logger = logging.getLogger(name)
            if logger.handlers and not logger.disabled:
                logger.disabled = True
                undo.append(partial(setattr, logger, "disabled", False))
                _log.info("obs writes the access log: %s is switched off (access_log=False keeps it)", name)

    def restore() -> None:
        for step in reversed(undo):
            step()

    return restore


def log_uncaught_exceptions() -> Callable[[], None]:
    """Uncaught exceptions of threads (``threading.excepthook``) and Python warnings go through
    ``logging`` (JSON, redacted) instead of being printed as plain text. Returns the undo."""
    previous_hook = threading.excepthook
    logger = logging.getLogger("obs.uncaught")

    def excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "unknown"
        exc_info: tuple[type[BaseException], BaseException, TracebackType | None] | None = (
            (args.exc_type, args.exc_value, args.exc_traceback) if args.exc_value is not None else None
        )
        try:
            logger.error("uncaught exception in thread %s", name, exc_info=exc_info)
        except Exception:
            previous_hook(args)

    threading.excepthook = excepthook
    logging.captureWarnings(True)

    def restore() -> None:
        if threading.excepthook is excepthook:
            threading.excepthook = previous_hook
        logging.captureWarnings(False)

    return restore


__all__ = [
    "SERVER_ACCESS_LOGGERS",
    "SERVER_LOGGERS",
    "UVICORN_LOG_CONFIG_FILE",
    "TargetQueryFilter",
    "adopt_server_loggers",
    "log_uncaught_exceptions",
    "uvicorn_log_config",
]
