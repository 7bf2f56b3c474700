"""Fixtures: the test service in both frameworks, driven in process, with injected tracer and registry.

The clients call the ASGI/WSGI app directly (no sockets, no TestClient): a test controls the raw
path, the method and every header, and 100,000 requests fit in seconds. Tracer provider and
registry are per test, so nothing leaks through OpenTelemetry's or prometheus_client's globals.
"""

from __future__ import annotations

import asyncio
import io
import logging
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest

from instrumentation import Instrumentation, JsonFormatter, instrument, uninstrument
from tests.instrumentation.apps import fastapi_app, flask_app

FRAMEWORKS = ["fastapi", "flask"]


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str]
    raised: BaseException | None = None

    @property
    def text(self) -> str:
        return self.body.decode()


class AsgiClient:
    """Calls an ASGI app as uvicorn would (percent-decoded ``path``, raw bytes kept in ``raw_path``)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()

    def request(self, method: str, target: str | bytes, headers: dict[str, str] | None = None) -> Response:
        raw = target if isinstance(target, bytes) else target.encode("latin-1")
        raw_path, _, query = raw.partition(b"?")
        hdrs = [(b"host", b"testserver")] + [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": unquote(raw_path.decode("latin-1"), errors="replace"), "raw_path": raw_path, "root_path": "",
            "query_string": query, "headers": hdrs, "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000),
        }  # fmt: skip
        sent: list[dict[str, Any]] = []
        received = False

        async def receive() -> dict[str, Any]:
            nonlocal received
            if received:
                await asyncio.sleep(3600)
            received = True
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        raised: BaseException | None = None
        try:
            self.loop.run_until_complete(self.app(scope, receive, send))
        except Exception as exc:  # the server would log it; the 500 was sent already
            raised = exc
        start = next((m for m in sent if m["type"] == "http.response.start"), None)
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        status = start["status"] if start else 500
        headers = {k.decode().lower(): v.decode() for k, v in (start or {}).get("headers", [])}
        return Response(status, body, headers, raised)

    def get(self, target: str | bytes, headers: dict[str, str] | None = None) -> Response:
        return self.request("GET", target, headers)

    def close(self) -> None:
        self.loop.close()


class WsgiClient:
    """Calls a WSGI app as gunicorn would (``PATH_INFO`` = raw bytes decoded as latin-1)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def request(self, method: str, target: str | bytes, headers: dict[str, str] | None = None) -> Response:
        raw = target if isinstance(target, bytes) else target.encode("latin-1")
        raw_path, _, query = raw.partition(b"?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": unquote(raw_path.decode("latin-1"), encoding="latin-1"),
            "QUERY_STRING": query.decode("latin-1"), "SERVER_NAME": "testserver", "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "testserver",
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""), "wsgi.errors": io.StringIO(),
            "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
        }  # fmt: skip
        for key, value in (headers or {}).items():
            name = key.upper().replace("-", "_")
            environ[name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + name] = value
        status_line: list[str] = []
        response_headers: dict[str, str] = {}

        def start_response(status: str, hdrs: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            status_line[:] = [status]
            response_headers.update((k.lower(), v) for k, v in hdrs)
            return lambda data: None

        raised: BaseException | None = None
        body = b""
        try:
            result = self.app(environ, start_response)
            try:
                body = b"".join(result)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception as exc:
            raised = exc
        status = int(status_line[0][:3]) if status_line else 500
        return Response(status, body, response_headers, raised)

    def get(self, target: str | bytes, headers: dict[str, str] | None = None) -> Response:
        return self.request("GET", target, headers)

    def close(self) -> None:
        pass


@dataclass
class Service:
    """An instrumented test service: app, in-process client, spans, registry and captured logs."""

    framework: str
    app: Any
    client: AsgiClient | WsgiClient
    registry: CollectorRegistry
    exporter: InMemorySpanExporter
    provider: TracerProvider
    state: Instrumentation
    log_stream: io.StringIO
    extra: dict[str, Any] = field(default_factory=dict)

    def get(self, target: str | bytes, headers: dict[str, str] | None = None) -> Response:
        return self.client.get(target, headers)

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def server_spans(self) -> list[ReadableSpan]:
        from opentelemetry.trace import SpanKind

        return [s for s in self.spans() if s.kind is SpanKind.SERVER]

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        return self.registry.get_sample_value(name, labels or {})

    def exposition(self) -> str:
        return generate_latest(self.registry).decode()

    def series_count(self) -> int:
        return sum(len(m.samples) for m in self.registry.collect())

    def log_lines(self) -> list[dict[str, Any]]:
        """Every line so far: the held access lines are written first (they would be within a second)."""
        import json

        self.state.telemetry.flush_access_log()
        return [json.loads(line) for line in self.log_stream.getvalue().splitlines() if line.strip()]

    @property
    def item_template(self) -> str:
        return "/items/{item_id}" if self.framework == "fastapi" else "/items/<int:item_id>"


ServiceFactory = Callable[..., Service]


@pytest.fixture
def make_service() -> Iterator[ServiceFactory]:
    made: list[Service] = []

    def make(framework: str, **kwargs: Any) -> Service:
        registry = kwargs.pop("registry", None) or CollectorRegistry()
        exporter = InMemorySpanExporter()
        provider = kwargs.pop("tracer_provider", None)
        if provider is None:
            provider = TracerProvider()
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        app = fastapi_app(registry) if framework == "fastapi" else flask_app(registry)
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonFormatter("backend", "1.4.2", "test"))
        kwargs.setdefault("service_name", "backend")
        kwargs.setdefault("service_version", "1.4.2")
        kwargs.setdefault("environment", "test")
        kwargs.setdefault("trace_clients", False)
        kwargs.setdefault("log_handler", handler)
        state = instrument(app, tracer_provider=provider, registry=registry, **kwargs)
        client = AsgiClient(app) if framework == "fastapi" else WsgiClient(app)
        service = Service(framework, app, client, registry, exporter, provider, state, stream)
        made.append(service)
        return service

    yield make
    for service in made:
        if getattr(service.app, "_obs_instrumentation", None) is not None:
            uninstrument(service.app)
        service.client.close()
        service.provider.shutdown()


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def service(make_service: ServiceFactory, framework: str) -> Service:
    return make_service(framework)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from arguments in these tests unless a test sets a variable itself."""
    import os

    for key in list(os.environ):
        if key.startswith(("OBS_", "OTEL_", "PROMETHEUS_MULTIPROC")):
            monkeypatch.delenv(key)


def promtool_check(exposition: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install -y prometheus)")
    return subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True, text=True, timeout=30)
