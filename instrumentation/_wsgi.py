"""A WSGI wrapper for Flask: replaces ``app.wsgi_app``, as opentelemetry-instrumentation-flask does,
but with one span, the contract's metrics and no per-request attribute dicts beyond three keys.

Flask only knows the matched rule inside its request context, which is gone when ``wsgi_app``
returns. Flask's own ``wsgi_app`` calls ``start_response`` while that context is still pushed, so
the wrapper reads the rule template there (in its ``start_response``), and an exception that
escapes before any response is seen through the ``got_request_exception`` signal, which records
the rule too. That costs nothing on Flask's side; a ``before_request`` function costs ~3 µs a
request (Flask checks every one for being a coroutine function on every call), so
``record_route`` is installed only when the app's ``wsgi_app`` is already wrapped by something
that may answer outside the context.
Unmatched requests (404, 405) have no rule and are recorded as ``UNMATCHED_ROUTE``, never by path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from flask import request

from exporters.prometheus import MetricsEndpoint

from ._core import Request, Telemetry
from ._internals import flask_request_context


def request_context() -> ContextVar[Any] | None:
    """The request context Flask is handling (Flask >= 2.2; a private name, read through
    ``_internals``); None: ``record_route`` is used."""
    context: ContextVar[Any] | None = flask_request_context()
    return context

_log = logging.getLogger("obs.instrumentation")

#: Status lines seen ("200 OK") -> their codes: a dict lookup costs a third of int(status[:3]).
#: Bounded: an app may make up its own reason phrases.
_STATUS_CODES: dict[str, int] = {}
_STATUS_CODES_MAX = 256

ROUTE_KEY = "obs.route"
ERROR_KEY = "obs.error"
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def record_route() -> None:
    """``before_request``: store the matched rule template where the wrapper can read it."""
    rule = request.url_rule
    if rule is not None:
        request.environ[ROUTE_KEY] = rule.rule


def record_exception(sender: Any, exception: BaseException, **extra: Any) -> None:
    """``got_request_exception`` receiver: keep the exception Flask is about to turn into a 500,
    and the route, in case the exception propagates and no response is started in the context."""
    request.environ[ERROR_KEY] = exception
    record_route()


class _Exchange(Request):
    """One WSGI request: its telemetry state, the ``start_response`` the app is given (``__call__``)
    and the response iterable the server gets back (``__iter__``/``close``).

    One object per request where a closure (a function and five cells) and a body wrapper were
    three, allocated for every request and dropped at its end. The request is finished when the
    server closes the body (WSGI spec), once.
    """

    __slots__ = ("body", "environ", "middleware", "server_start_response")

    body: Iterable[bytes]
    environ: dict[str, Any]
    middleware: ObsWSGIMiddleware | None  # None once finished
    server_start_response: StartResponse

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        try:
            code = _STATUS_CODES.get(status)
            if code is None:
                code = int(status[:3])
                if len(_STATUS_CODES) < _STATUS_CODES_MAX:
                    _STATUS_CODES[status] = code
            self.status = code
            # The rule of the request Flask is handling in this context, if it is this one.
            request_context = self.middleware.request_context  # type: ignore[union-attr]  # set until finished
            ctx = request_context.get(None) if request_context is not None else None
            if ctx is not None and ctx.request.environ is self.environ:
                rule = ctx.request.url_rule
                self.route = rule.rule if rule is not None else None
        except ValueError:
            self.status = 500
        except Exception:
            middleware = self.middleware
            if middleware is not None:
                middleware.telemetry.count_error("response")
        return self.server_start_response(status, headers, exc_info)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            middleware = self.middleware
            if middleware is not None:
                self.middleware = None
                middleware.finish(self, self.environ)


class ObsWSGIMiddleware:
    def __init__(
        self,
        app: WSGIApp,
        telemetry: Telemetry,
        *,
        excluded: Callable[[str], Any] | None,
        metrics_path: str | None,
        metrics_endpoint: MetricsEndpoint | None,
    ) -> None:
        self.app = app
        self.telemetry = telemetry
        self.excluded = excluded
        self.metrics_path = metrics_path if metrics_endpoint is not None else None
        self.metrics_endpoint = metrics_endpoint
        self.tracing = telemetry.tracer is not None
        self.request_context = request_context()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO") or "/"
        if path == self.metrics_path:
            return self._serve_metrics(environ, start_response)
        if self.excluded is not None and self.excluded(path):
            return self.app(environ, start_response)
        telemetry = self.telemetry
        carrier: dict[str, str] | None = None
        if self.tracing:
            traceparent = environ.get("HTTP_TRACEPARENT")
            if traceparent is not None:
                carrier = {"traceparent": traceparent}
                tracestate = environ.get("HTTP_TRACESTATE")
                if tracestate is not None:
                    carrier["tracestate"] = tracestate
                baggage = environ.get("HTTP_BAGGAGE")
                if baggage is not None:
                    carrier["baggage"] = baggage
        req = telemetry.begin(
            environ.get("REQUEST_METHOD", "GET"), path, environ.get("wsgi.url_scheme", "http"), carrier, environ,
            _Exchange,
        )  # fmt: skip
        if req is None:
            return self.app(environ, start_response)
        exchange: _Exchange = req  # type: ignore[assignment]  # begin made it of that class
        exchange.environ = environ
        exchange.middleware = self
        exchange.server_start_response = start_response
        try:
            exchange.body = self.app(environ, exchange)
        except BaseException as exc:
            exchange.error = exc
            exchange.middleware = None
            self.finish(exchange, environ)
            raise
        finally:
            # The context ends with the call: body iteration happens in the server's own frame.
            telemetry.detach(exchange)
        return exchange

    def finish(self, req: Request, environ: dict[str, Any]) -> None:
        if req.error is None:
            req.error = environ.get(ERROR_KEY)
        self.telemetry.finish(req, req.route or environ.get(ROUTE_KEY))

    def _serve_metrics(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        assert self.metrics_endpoint is not None
        try:
            resp = self.metrics_endpoint.respond(
                environ.get("REQUEST_METHOD", "GET"), environ.get("HTTP_ACCEPT"), environ.get("HTTP_AUTHORIZATION")
            )
            status, headers, body = f"{resp.status} {resp.reason}", resp.headers(), resp.body
        except Exception:
            self.telemetry.count_error("metrics_endpoint")
            _log.exception("metrics exposition failed")
            status, headers, body = "500 Internal Server Error", [("Content-Type", "text/plain")], b"exposition failed\n"
        start_response(status, headers)
        return [body]


__all__ = ["ERROR_KEY", "ROUTE_KEY", "ObsWSGIMiddleware", "record_exception", "record_route", "request_context"]
