"""Outgoing calls get client spans, children of the request's server span, for the clients the
platform uses when they and their OpenTelemetry instrumentation are installed: a real PostgreSQL
through psycopg and SQLAlchemy and a real Redis through redis-py, so a trace shows the request's
database time. Each server runs on 127.0.0.1 on a free port in a private folder, and is stopped."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry

from instrumentation import instrument, uninstrument
from instrumentation._tracing import CLIENT_INSTRUMENTATIONS
from tests.conftest import free_port
from tests.instrumentation.conftest import AsgiClient, WsgiClient

pytestmark = pytest.mark.slow
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _wait_port(port: int, timeout: float = 15.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing listens on {port} after {timeout} s")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None or pytest.importorskip("redis") is None:
        pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
    pytest.importorskip("opentelemetry.instrumentation.redis")
    folder, port = tmp_path_factory.mktemp("redis"), free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    if not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None:
        pytest.skip("PostgreSQL 15 is not installed (apt-get install -y postgresql)")
    pytest.importorskip("psycopg")
    pytest.importorskip("opentelemetry.instrumentation.psycopg")
    # Not under pytest's own temporary folder: the postgres user cannot enter root's.
    folder, port = Path(tempfile.mkdtemp(prefix="obs-test-pg-")), free_port()
    shutil.chown(folder, "postgres", "postgres")
    as_postgres = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    subprocess.run([*as_postgres, str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off"
    subprocess.run([*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(folder / "pg.log"), "-w",
                    "-o", options, "start"], check=True, capture_output=True, timeout=60)  # fmt: skip
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def clients_uninstrumented() -> Iterator[None]:
    """The client instrumentations are process-wide: each test starts and ends without them."""

    def reset() -> None:
        for _, module_name, class_name in CLIENT_INSTRUMENTATIONS:
            with contextlib.suppress(ImportError):
                module = __import__(module_name, fromlist=[class_name])
                instrumentor = getattr(module, class_name)()
                if instrumentor.is_instrumented_by_opentelemetry:
                    instrumentor.uninstrument()

    reset()
    yield
    reset()


def _app(framework: str, postgres_url: str, redis_url: str) -> Any:
    """A route that reads PostgreSQL through psycopg and SQLAlchemy and Redis through redis-py. The
    SQLAlchemy engine is made at the first request, after instrument(), as the instrumentation needs."""
    import psycopg
    import redis
    import sqlalchemy

    engines: list[Any] = []

    def work() -> dict[str, Any]:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            seats = conn.execute("SELECT 41 + 1").fetchone()[0]  # type: ignore[index]
        if not engines:
            engines.append(sqlalchemy.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://")))
        with engines[0].connect() as conn:
            lessons = conn.execute(sqlalchemy.text("SELECT 7")).scalar()
        cache = redis.Redis.from_url(redis_url)
        cache.set("course:42", "cached")
        return {"seats": seats, "lessons": lessons, "cached": cache.get("course:42").decode()}  # type: ignore[union-attr]

    if framework == "fastapi":
        from fastapi import FastAPI

        app = FastAPI()
        app.get("/course")(work)  # a sync route: FastAPI runs it in its thread pool, the context goes along
        return app
    from flask import Flask

    app = Flask("tests.clients")
    app.get("/course")(work)
    return app


def test_a_request_shows_its_database_and_cache_calls_as_client_spans(
    framework: str, postgres_url: str, redis_url: str, clients_uninstrumented: None
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = _app(framework, postgres_url, redis_url)
    state = instrument(app, tracer_provider=provider, registry=CollectorRegistry(), trace_clients=True,
                       json_logs=False, access_log=False)  # fmt: skip
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # The SQLAlchemy instrumentation refuses releases it does not support (and says so); the
    # queries are then psycopg's spans still.
    expected = {"psycopg", "redis"} | ({"sqlalchemy"} if SQLAlchemyInstrumentor().is_instrumented_by_opentelemetry else set())
    assert state.settings.traces
    client = AsgiClient(app) if framework == "fastapi" else WsgiClient(app)
    try:
        response = client.get("/course")
        assert response.status == 200, response.text
        spans = exporter.get_finished_spans()
        (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
        # Only this request's calls: another test's leftover threads may still make HTTP calls.
        assert server.context is not None
        clients = [s for s in spans if s.kind is SpanKind.CLIENT and s.context is not None and s.context.trace_id == server.context.trace_id]
        systems = sorted({str((s.attributes or {}).get("db.system") or (s.attributes or {}).get("db.system.name")) for s in clients})
        assert systems == ["postgresql", "redis"], [(s.name, dict(s.attributes or {})) for s in clients]
        scopes = {s.instrumentation_scope.name.rsplit(".", 1)[-1] for s in clients if s.instrumentation_scope}
        assert expected <= scopes, scopes
        assert server.context is not None
        for span in clients:
            assert span.context is not None and span.context.trace_id == server.context.trace_id
            assert span.parent is not None
        statements = " ".join(str((s.attributes or {}).get("db.statement", "")) for s in clients)
        assert "cached" not in statements, "redis arguments are recorded as ?"
    finally:
        uninstrument(app)
        client.close()


def test_a_client_library_without_its_instrumentation_is_named_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, clients_uninstrumented: None
) -> None:
    import importlib

    from instrumentation import _tracing

    real = importlib.import_module

    def without_redis_instrumentation(name: str, package: str | None = None) -> Any:
        if name == "opentelemetry.instrumentation.redis":
            raise ImportError(name)
        return real(name, package)

    monkeypatch.setattr(_tracing.importlib, "import_module", without_redis_instrumentation)
    with caplog.at_level("INFO", logger="obs.instrumentation"):
        done = _tracing.instrument_clients(TracerProvider())
    assert "RedisInstrumentor" not in done and "RequestsInstrumentor" in done
    assert [r.getMessage() for r in caplog.records if "redis is installed" in r.getMessage()] == [
        "redis is installed without opentelemetry-instrumentation-redis: no client spans for it (pip install obs[clients])"
    ]
