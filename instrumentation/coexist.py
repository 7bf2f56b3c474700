"""One server span per request beside other instrumentation of the same app.

OpenTelemetry's zero-code agent (``opentelemetry-instrument uvicorn ...``, what the OpenTelemetry
Operator injects on Kubernetes) instruments every FastAPI and Flask app the process creates with
opentelemetry-python-contrib's instrumentations; so does a ``FastAPIInstrumentor.instrument_app``
or an ``OpenTelemetryMiddleware`` left in the code. Beside obs, each request then made two server
spans (and, for ASGI, two internal ``http send`` spans). ``instrument()`` finds them
(``other_server_instrumentation``) and, while obs makes traces, switches them off for this app,
saying so in one line with how to keep the other instead: ``OBS_TRACES=false`` (obs then makes no
span, only its metrics and logs). Client instrumentations (requests, httpx, databases) are left
alone: their spans are children of the server span, whichever made it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._internals import contrib_instrumented

_log = logging.getLogger("obs.instrumentation")


@dataclass(frozen=True)
class OtherInstrumentation:
    """Another instrumentation making server spans for an app, and how to switch it off there."""

    name: str
    switch_off: Callable[[], None]


def other_server_instrumentation(app: Any, framework: str) -> list[OtherInstrumentation]:
    """The other instrumentations of ``app`` that make server spans."""
    found: list[OtherInstrumentation] = []
    if framework == "flask":
        if contrib_instrumented(app):
            found.append(OtherInstrumentation("opentelemetry-instrumentation-flask", lambda: _uninstrument_flask(app)))
        wsgi = _otel_wsgi_middleware()
        if wsgi is not None and isinstance(app.wsgi_app, wsgi):
            found.append(OtherInstrumentation("opentelemetry-instrumentation-wsgi's OpenTelemetryMiddleware",
                                              lambda: setattr(app, "wsgi_app", app.wsgi_app.wsgi)))  # fmt: skip
        return found
    if contrib_instrumented(app):
        found.append(OtherInstrumentation("opentelemetry-instrumentation-fastapi", lambda: _uninstrument_asgi_app(app)))
    asgi = _otel_asgi_middleware()
    if asgi is not None and any(getattr(m, "cls", None) is asgi for m in getattr(app, "user_middleware", [])):
        found.append(OtherInstrumentation("opentelemetry-instrumentation-asgi's OpenTelemetryMiddleware",
                                          lambda: _remove_asgi_middleware(app, asgi)))  # fmt: skip
    return found


def keep_one_server_span(app: Any, framework: str, obs_traces: bool) -> Callable[[], None]:
    """Switch the other server instrumentations of ``app`` off while obs makes traces. Returns what
    to say about it, one line each, to be called once the JSON logging is set up."""
    lines: list[tuple[int, str, tuple[str, ...]]] = []
    for other in other_server_instrumentation(app, framework):
        name = other.name
        if not obs_traces:
            lines.append((logging.INFO, "%s makes this app's server spans; obs its metrics and logs (OBS_TRACES=false)", (name,)))
            continue
        try:
            other.switch_off()
        except Exception:  # a newer release that unwinds differently: two spans, and said so
            _log.debug("switching %s off failed", name, exc_info=True)
            lines.append((logging.WARNING, "obs and %s both make server spans for this app and %s could not be "
                          "switched off: set OBS_TRACES=false to keep only its spans", (name, name)))  # fmt: skip
            continue
        lines.append((logging.WARNING, "obs and %s both instrumented this app: obs keeps its server span and "
                      "switched %s off for it (to keep %s's span instead, set OBS_TRACES=false: obs then makes "
                      "metrics and logs only)", (name, name, name)))  # fmt: skip

    def say() -> None:
        for level, message, args in lines:
            _log.log(level, message, *args)

    return say


def _uninstrument_asgi_app(app: Any) -> None:
    try:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    except ImportError:
        FastAPIInstrumentor = None  # type: ignore[assignment,misc]
    try:
        from fastapi import FastAPI
    except ImportError:
        FastAPI = None  # type: ignore[assignment,misc]
    if FastAPIInstrumentor is not None and FastAPI is not None and isinstance(app, FastAPI):
        FastAPIInstrumentor.uninstrument_app(app)
        return
    starlette = importlib.import_module("opentelemetry.instrumentation.starlette")
    starlette.StarletteInstrumentor.uninstrument_app(app)


def _uninstrument_flask(app: Any) -> None:
    from flask import Flask
    from opentelemetry.instrumentation.flask import FlaskInstrumentor

    try:
        FlaskInstrumentor.uninstrument_app(app)  # type: ignore[no-untyped-call]
    except AttributeError:
        # An app the zero-code agent made (its Flask subclass) keeps no reference to its teardown
        # function, so uninstrument_app stops after unwrapping wsgi_app and removing the
        # before_request function, which are what make the spans; the teardown finds nothing to end.
        if getattr(app.wsgi_app, "__func__", None) is not Flask.wsgi_app:
            raise


def _remove_asgi_middleware(app: Any, middleware: type) -> None:
    app.user_middleware[:] = [m for m in app.user_middleware if getattr(m, "cls", None) is not middleware]
    app.middleware_stack = None  # rebuilt on the next request


def _otel_asgi_middleware() -> type | None:
    try:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    except ImportError:
        return None
    return OpenTelemetryMiddleware


def _otel_wsgi_middleware() -> type | None:
    try:
        from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
    except ImportError:
        return None
    return OpenTelemetryMiddleware


__all__ = ["OtherInstrumentation", "keep_one_server_span", "other_server_instrumentation"]
