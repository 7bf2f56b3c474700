"""Every kind of route gets its template, in span names, metrics and access lines: FastAPI's API
routes, its own ``/docs`` and ``/openapi.json``, plain Starlette routes (``add_route``, ``Route``),
WebSocket routes, mounts of routers, sub-applications, static files and routers included after
``instrument()``; Flask's rules, blueprints (nested too), ``add_url_rule`` and static files.
A request that matched nothing is unmatched, whatever the app."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from instrumentation import JsonFormatter, instrument, uninstrument
from obs.contract import HTTP_SERVER_DURATION, UNMATCHED_ROUTE
from tests.instrumentation.conftest import AsgiClient, WsgiClient

COUNT = HTTP_SERVER_DURATION.name + "_count"


class Instrumented:
    """An app instrumented with an in-memory exporter, a private registry and a captured log."""

    def __init__(self, app: Any, client: AsgiClient | WsgiClient) -> None:
        self.app, self.client = app, client
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.registry = CollectorRegistry()
        self.stream = io.StringIO()
        handler = logging.StreamHandler(self.stream)
        handler.setFormatter(JsonFormatter("svc", "1", "test"))
        self.state = instrument(
            app, tracer_provider=self.provider, registry=self.registry, trace_clients=False,
            log_handler=handler, access_log_flush_interval=0,
        )  # fmt: skip

    def route_of(self, target: str) -> tuple[int, str | None, str]:
        """(status, http.route of the span, span name) of one request."""
        self.exporter.clear()
        response = self.client.get(target)
        (span,) = self.exporter.get_finished_spans()
        route = (span.attributes or {}).get("http.route")
        return response.status, str(route) if route is not None else None, span.name

    def counted(self, route: str) -> float:
        total = 0.0
        for metric in self.registry.collect():
            for sample in metric.samples:
                if sample.name == COUNT and sample.labels.get("http_route") == route:
                    total += sample.value
        return total


def _plain(request: Any) -> Any:
    from starlette.responses import PlainTextResponse

    return PlainTextResponse("plain")


def fastapi_with_every_route_kind(static_dir: Path) -> Any:
    from fastapi import APIRouter, FastAPI
    from starlette.applications import Starlette
    from starlette.routing import Mount, Route, Router, WebSocketRoute
    from starlette.staticfiles import StaticFiles
    from starlette.websockets import WebSocket

    async def plain(request: Any) -> Any:
        return _plain(request)

    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    async def refuse(websocket: WebSocket) -> None:
        await websocket.close()

    app = FastAPI()

    @app.get("/api/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    app.add_route("/added/{x}", plain)
    app.router.routes.append(Route("/route/{y}", plain, methods=["GET"]))
    app.router.routes.append(WebSocketRoute("/ws/{room}", echo))
    app.router.routes.append(WebSocketRoute("/refused", refuse))
    app.mount("/starlette", Starlette(routes=[Route("/a/{b}", plain), Mount("/inner", routes=[Route("/deep/{z}", plain)])]))
    app.mount("/router", Router(routes=[Route("/r/{q}", plain)]))
    sub = FastAPI()

    @sub.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"thing": thing_id}

    sub.add_route("/plain/{p}", plain)
    app.mount("/sub", sub)
    app.mount("/static", StaticFiles(directory=static_dir), name="static")
    router = APIRouter()
    router.add_route("/raw/{r}", plain)

    @router.get("/api/{k}")
    async def routed(k: str) -> dict[str, str]:
        return {"k": k}

    app.include_router(router, prefix="/included")
    return app


@pytest.fixture
def static_dir(tmp_path: Path) -> Path:
    (tmp_path / "logo.txt").write_text("logo")
    return tmp_path


@pytest.fixture
def fastapi_app(static_dir: Path) -> Iterator[Instrumented]:
    app = fastapi_with_every_route_kind(static_dir)
    client = AsgiClient(app)
    instrumented = Instrumented(app, client)
    yield instrumented
    uninstrument(app)
    client.close()


FASTAPI_CASES = [
    ("/api/items/3", 200, "/api/items/{item_id}"),
    ("/docs", 200, "/docs"),
    ("/openapi.json", 200, "/openapi.json"),
    ("/docs/oauth2-redirect", 200, "/docs/oauth2-redirect"),
    ("/added/1", 200, "/added/{x}"),
    ("/route/2", 200, "/route/{y}"),
    ("/starlette/a/3", 200, "/starlette/a/{b}"),
    ("/starlette/inner/deep/4", 200, "/starlette/inner/deep/{z}"),
    ("/router/r/5", 200, "/router/r/{q}"),
    ("/sub/things/6", 200, "/sub/things/{thing_id}"),
    ("/sub/plain/7", 200, "/sub/plain/{p}"),
    ("/static/logo.txt", 200, "/static/{path:path}"),
    ("/static/missing.txt", 404, "/static/{path:path}"),
    ("/included/raw/8", 200, "/included/raw/{r}"),
    ("/included/api/9", 200, "/included/api/{k}"),
    ("/late/10", 200, "/late/{n}"),
    ("/no/such/page", 404, None),
    ("/sub/no/such/page", 404, None),
    ("/starlette/nope", 404, None),
]


@pytest.mark.parametrize(("target", "status", "template"), FASTAPI_CASES, ids=[c[0] for c in FASTAPI_CASES])
def test_every_fastapi_and_starlette_route_kind_has_its_template(
    fastapi_app: Instrumented, target: str, status: int, template: str | None
) -> None:
    @fastapi_app.app.get("/late/{n}")  # added after instrument(): found at request time
    async def late(n: int) -> dict[str, int]:
        return {"n": n}

    got_status, route, name = fastapi_app.route_of(target)
    assert (got_status, route) == (status, template)
    assert name == (f"GET {template}" if template else "GET")
    assert fastapi_app.counted(template or UNMATCHED_ROUTE) == 1.0
    (line,) = [x for x in _lines(fastapi_app) if x["event.dataset"] == "access"]
    assert line["http.route"] == (template or UNMATCHED_ROUTE)


def test_a_method_the_route_does_not_allow_is_counted_on_its_template(fastapi_app: Instrumented) -> None:
    fastapi_app.exporter.clear()
    response = fastapi_app.client.request("POST", "/route/2")
    assert response.status == 405
    (span,) = fastapi_app.exporter.get_finished_spans()
    assert (span.attributes or {})["http.route"] == "/route/{y}"


def test_a_pure_starlette_app_has_its_templates(static_dir: Path) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Host, Mount, Route
    from starlette.staticfiles import StaticFiles

    app = Starlette(
        routes=[
            Route("/s/{x}", _plain),
            Mount("/files", StaticFiles(directory=static_dir)),
            Host("api.example", app=Starlette(routes=[Route("/h/{y}", _plain)])),
        ]
    )
    instrumented = Instrumented(app, AsgiClient(app))
    try:
        assert instrumented.route_of("/s/1")[:2] == (200, "/s/{x}")
        assert instrumented.route_of("/files/logo.txt")[:2] == (200, "/files/{path:path}")
        assert instrumented.route_of("/nope")[:2] == (404, None)
    finally:
        uninstrument(app)


def _lines(instrumented: Instrumented) -> list[dict[str, Any]]:
    import json

    lines = [json.loads(x) for x in instrumented.stream.getvalue().splitlines() if x.strip()]
    instrumented.stream.seek(0)
    instrumented.stream.truncate()
    return lines


def websocket_session(app: Any, path: str) -> list[dict[str, Any]]:
    """Connect to ``path`` as an ASGI server would, read until the app closes; the messages sent."""
    sent: list[dict[str, Any]] = []
    incoming = [{"type": "websocket.connect"}]

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        await asyncio.sleep(0)
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "websocket", "asgi": {"version": "3.0"}, "scheme": "ws", "path": path, "raw_path": path.encode(),
        "root_path": "", "query_string": b"", "headers": [(b"host", b"testserver")], "subprotocols": [],
    }  # fmt: skip
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(app(scope, receive, send), 5))
    finally:
        loop.close()
    return sent


@pytest.mark.parametrize(("path", "status", "template"), [("/ws/lobby", 101, "/ws/{room}"), ("/refused", 403, "/refused")])
def test_a_websocket_session_is_one_span_and_an_access_line_on_its_template(
    fastapi_app: Instrumented, path: str, status: int, template: str
) -> None:
    sent = websocket_session(fastapi_app.app, path)
    assert sent[-1]["type"] == "websocket.close"
    (span,) = fastapi_app.exporter.get_finished_spans()
    assert span.name == f"GET {template}"
    assert (span.attributes or {})["http.route"] == template
    assert (span.attributes or {})["http.response.status_code"] == status
    assert (span.attributes or {})["url.scheme"] == "ws"
    (line,) = [x for x in _lines(fastapi_app) if x["event.dataset"] == "access"]
    assert (line["http.route"], line["http.response.status_code"]) == (template, status)
    # A session is not a request: its minutes would push every latency SLO over its threshold.
    assert fastapi_app.counted(template) == 0.0


def flask_with_every_route_kind(static_dir: Path) -> Any:
    from flask import Blueprint, Flask

    app = Flask("tests.routes", static_folder=str(static_dir), static_url_path="/static")
    app.add_url_rule("/rule/<int:n>", view_func=lambda n: "rule")
    parent = Blueprint("parent", "tests.routes.parent")
    child = Blueprint("child", "tests.routes.child", static_folder=str(static_dir), static_url_path="/assets")
    child.add_url_rule("/leaf/<leaf_id>", view_func=lambda leaf_id: "leaf", endpoint="leaf")
    parent.add_url_rule("/node/<node_id>", view_func=lambda node_id: "node", endpoint="node")
    parent.register_blueprint(child, url_prefix="/child")
    app.register_blueprint(parent, url_prefix="/parent")
    return app


FLASK_CASES = [
    ("/rule/3", 200, "/rule/<int:n>"),
    ("/static/logo.txt", 200, "/static/<path:filename>"),
    ("/static/missing.txt", 404, "/static/<path:filename>"),
    ("/parent/node/4", 200, "/parent/node/<node_id>"),
    ("/parent/child/leaf/5", 200, "/parent/child/leaf/<leaf_id>"),
    ("/parent/child/assets/logo.txt", 200, "/parent/child/assets/<path:filename>"),
    ("/no/such/page", 404, None),
]


@pytest.mark.parametrize(("target", "status", "template"), FLASK_CASES, ids=[c[0] for c in FLASK_CASES])
def test_every_flask_route_kind_has_its_template(
    static_dir: Path, target: str, status: int, template: str | None
) -> None:
    app = flask_with_every_route_kind(static_dir)
    instrumented = Instrumented(app, WsgiClient(app))
    try:
        got_status, route, name = instrumented.route_of(target)
        assert (got_status, route) == (status, template)
        assert name == (f"GET {template}" if template else "GET")
        assert instrumented.counted(template or UNMATCHED_ROUTE) == 1.0
    finally:
        uninstrument(app)
