"""A lean ASGI middleware for FastAPI/Starlette, wrapped around the whole middleware stack.

Why not opentelemetry-instrumentation-asgi/-fastapi: they create two extra internal spans per
request (send/receive), build attribute dicts for old and new semantic conventions, and record
metrics through the OTel metrics SDK; we need one server span and the contract's prometheus
metrics. The route template is read from ``scope["route"]``, which Starlette's router sets on the
(shared) scope dict when a route matches, at request time: FastAPI's lazily included routers are
covered, and nothing is walked at start-up.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from exporters.prometheus import MetricsEndpoint

from ._core import Request, Telemetry
from ._internals import fastapi_effective_path

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_log = logging.getLogger("obs.instrumentation")
_PROPAGATION_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})


class RouteResolver:
    """The route template of a finished request, from what routing left in the scope.

    - ``scope["route"]``: Starlette's router sets it for every route it matches; FastAPI's (0.16x)
      only for its own ``APIRoute``/``APIWebSocketRoute``.
    - FastAPI includes routers lazily: the matched route keeps its own path (``/items/{id}``) and the
      full template (``/api/items/{id}``) is on the effective route context FastAPI stores in
      ``scope["fastapi"]``; it is preferred when present.
    - Anything else that matched (FastAPI's ``/docs`` and ``/openapi.json``, ``add_route``, plain
      ``Route``/``WebSocketRoute``, a mount of static files or of a WSGI app) left only its
      ``endpoint``: the app's routes are matched again, in order, as the router did. A request that
      matched nothing left no endpoint and stays unmatched without that walk.
    - A mounted sub-application runs its own router, which replaces ``scope["route"]`` with a route
      relative to the mount (and grows ``root_path``): the mount prefixes are found once per route
      by matching the outer routes in order, as the router did.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        # Keyed by the matched route object and its template: bounded by routes, not by paths.
        self._mounted: dict[tuple[int, str | None], str] = {}

    def __call__(self, scope: Scope, root_path: str) -> str | None:
        route = scope.get("route")
        inner = _template(scope, route)
        if inner is None and route is None:
            if "endpoint" not in scope:
                return None  # nothing matched: an unmatched request costs no walk
            return _walk(self._routes(), _probe(scope, root_path))
        if scope.get("root_path", "") == root_path:
            return inner
        key = (id(route), inner)
        full = self._mounted.get(key)
        if full is None:
            full = self._mounted[key] = self._with_prefix(scope, root_path, route, inner)
        return full

    def _routes(self) -> list[Any]:
        return list(getattr(getattr(self.app, "router", None), "routes", None) or [])

    def _with_prefix(self, scope: Scope, root_path: str, route: Any, inner: str | None) -> str:
        from starlette.routing import Mount

        prefix = _mount_prefix(self._routes(), _probe(scope, root_path))
        if isinstance(route, Mount) or inner is None:
            # The sub-application is not a router (static files, a WSGI app): one template for it.
            return prefix + "/{path:path}"
        return prefix + inner


def _probe(scope: Scope, root_path: str) -> dict[str, Any]:
    """A scope to match routes against again: the request's type, path, method and headers (a
    ``Host`` route reads them), with the ``root_path`` the app was called with."""
    return {
        "type": scope.get("type", "http"),
        "path": scope["path"],
        "root_path": root_path,
        "method": scope.get("method", "GET"),
        "headers": scope.get("headers", []),
    }


def _flattened(routes: Any) -> list[Any]:
    """``routes`` with FastAPI's included routers expanded into their routes (whose ``path`` is the
    full template), through FastAPI's public ``iter_route_contexts`` where it has one."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        return list(routes)
    return list(iter_route_contexts(routes))


def _walk(routes: Any, probe: dict[str, Any]) -> str | None:
    """The template of the route a request went to, matching ``routes`` in order as the router
    does (the first full match, else the first partial one, which answers 405)."""
    from starlette.routing import Host, Match, Mount

    partial: tuple[Any, dict[str, Any]] | None = None
    for route in _flattened(routes):
        try:
            match, child = route.matches(dict(probe))
        except Exception:
            continue
        if match is Match.FULL:
            partial = (route, child)
            break
        if match is Match.PARTIAL and partial is None:
            partial = (route, child)
    if partial is None:
        return None
    route, child = partial
    original = getattr(route, "original_route", route)
    if isinstance(original, (Mount, Host)):
        inner_routes = original.routes
        inner = _walk(inner_routes, {**probe, **child}) if inner_routes else None
        prefix = str(original.path) if isinstance(original, Mount) else ""
        if inner is not None:
            return prefix + inner
        # A router that matched nothing inside is unmatched; any other app (static files, WSGI)
        # serves the whole prefix.
        return None if inner_routes else prefix + "/{path:path}"
    path = getattr(route, "path", None) or getattr(getattr(route, "starlette_route", None), "path", None)
    return path if isinstance(path, str) else None


#: The template of the route a request went to (FastAPI's effective route context first).
_template = fastapi_effective_path


def _mount_prefix(routes: Any, probe: dict[str, Any]) -> str:
    """The concatenated paths of the mounts a request went through (first full match wins)."""
    from starlette.routing import Match, Mount

    for route in routes:
        try:
            match, child = route.matches(dict(probe))
        except Exception:
            continue
        if match is Match.FULL:
            if isinstance(route, Mount):
                return str(route.path) + _mount_prefix(route.routes, {**probe, **child})
            return ""
    return ""


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class ObsASGIMiddleware:
    """Span, metrics and access line for each HTTP request; ``/metrics`` served in front of the app."""

    def __init__(
        self,
        app: ASGIApp,
        telemetry: Telemetry,
        routes: RouteResolver,
        *,
        excluded: Callable[[str], Any] | None,
        metrics_path: str | None,
        metrics_endpoint: MetricsEndpoint | None,
    ) -> None:
        self.app = app
        self.telemetry = telemetry
        self.routes = routes
        self.excluded = excluded
        self.metrics_path = metrics_path if metrics_endpoint is not None else None
        self.metrics_endpoint = metrics_endpoint
        self.tracing = telemetry.tracer is not None
        #: WebSocket sessions: the same spans and access lines, no request metrics (``_websocket``).
        self.sessions = telemetry.without_metrics()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await self._websocket(scope, receive, send)
                return
            if scope["type"] == "lifespan":
                send = self._flushing_at_shutdown(send)
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == self.metrics_path:
            await self._serve_metrics(scope, send)
            return
        if self.excluded is not None and self.excluded(path):
            await self.app(scope, receive, send)
            return
        telemetry = self.telemetry
        carrier: dict[str, str] | None = None
        if self.tracing:
            for key, value in scope["headers"]:
                if key in _PROPAGATION_HEADERS:
                    if carrier is None:
                        carrier = {}
                    carrier[key.decode("latin-1")] = bytes(value).decode("latin-1")
        req = telemetry.begin(scope["method"], path, scope.get("scheme", "http"), carrier, scope)
        if req is None:  # the instrumentation failed (counted): serve the request bare
            await self.app(scope, receive, send)
            return
        root_path = scope.get("root_path", "")

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                req.status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except BaseException as exc:
            req.error = exc
            raise
        finally:
            self._finish(req, scope, root_path)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket session: one server span (``GET`` and the route template, as the handshake
        is a GET) and an access line, with ``101`` once accepted, ``403`` when closed before that.
        Not in the request duration histogram nor the in-flight gauge: a session lasting minutes
        is not a request's latency, and would push every latency SLO over its threshold."""
        path: str = scope["path"]
        if self.excluded is not None and self.excluded(path):
            await self.app(scope, receive, send)
            return
        telemetry = self.sessions
        carrier: dict[str, str] | None = None
        if self.tracing:
            for key, value in scope["headers"]:
                if key in _PROPAGATION_HEADERS:
                    if carrier is None:
                        carrier = {}
                    carrier[key.decode("latin-1")] = bytes(value).decode("latin-1")
        req = telemetry.begin("GET", path, scope.get("scheme", "ws"), carrier, scope)
        if req is None:
            await self.app(scope, receive, send)
            return
        root_path = scope.get("root_path", "")

        async def send_status(message: Message) -> None:
            kind = message["type"]
            if kind == "websocket.accept":
                req.status = 101
            elif kind == "websocket.close" and not req.status:
                req.status = 403  # refused before the handshake completed: the server answers 403
            elif kind == "websocket.http.response.start":
                req.status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except BaseException as exc:
            req.error = exc
            raise
        finally:
            try:
                route = self.routes(scope, root_path)
            except Exception:
                telemetry.count_error("response")
                route = None
            telemetry.finish(req, route)
            telemetry.detach(req)

    def _flushing_at_shutdown(self, send: Send) -> Send:
        """``send`` for the lifespan scope, writing held access lines and exporting finished spans
        when the app reports its shutdown. uvicorn re-raises the SIGTERM or SIGINT it stopped on once
        it has shut down, so the process ends by the signal and ``atexit`` hooks (the buffer's, the
        SDK's ``TracerProvider.shutdown``) never run: the last second of access lines and the spans
        waiting in the batch queue would be lost on every redeploy. Requests have all finished by
        the time the lifespan shuts down."""
        telemetry = self.telemetry

        async def lifespan_send(message: Message) -> None:
            if message.get("type") in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                telemetry.flush()
            await send(message)

        return lifespan_send

    def _finish(self, req: Request, scope: Scope, root_path: str) -> None:
        try:
            route = self.routes(scope, root_path)
        except Exception:
            self.telemetry.count_error("response")
            route = None
        self.telemetry.finish(req, route)
        self.telemetry.detach(req)

    async def _serve_metrics(self, scope: Scope, send: Send) -> None:
        assert self.metrics_endpoint is not None
        try:
            resp = self.metrics_endpoint.respond(
                scope["method"], _header(scope, b"accept"), _header(scope, b"authorization")
            )
            status, headers, body = resp.status, resp.headers(), resp.body
        except Exception:
            self.telemetry.count_error("metrics_endpoint")
            _log.exception("metrics exposition failed")
            status, headers, body = 500, [("Content-Type", "text/plain; charset=utf-8")], b"exposition failed\n"
        raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body})


__all__ = ["ObsASGIMiddleware", "RouteResolver"]
