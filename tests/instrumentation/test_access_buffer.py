"""Access lines held and written together: same bytes, same order, never held when it matters."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from instrumentation import resolve_settings
from instrumentation.logs import (
    ACCESS_LOGGER,
    PIPE_BUF,
    AccessFields,
    AccessLineBuffer,
    JsonFormatter,
    write_access_line,
)
from tests.instrumentation.conftest import ServiceFactory
from tests.instrumentation.test_logs import _fallback_cases

HOUR = 3600.0  # an interval the flushing thread never reaches within a test


def _fields(n: int, status: int = 200, path: str = "", error: str | None = None) -> AccessFields:
    return AccessFields(
        "GET", "/items/{item_id}", status, 1_000 + n, path or f"/items/{n}", f"{n:032x}", f"{n:016x}",
        error, "boom" if error else None,
    )  # fmt: skip


def _logger(stream: io.StringIO | None = None) -> tuple[logging.Logger, io.StringIO]:
    stream = stream if stream is not None else io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("backend", "1.4.2", "prod"))
    logger = logging.Logger(ACCESS_LOGGER)  # outside the manager: no parent, nothing global touched
    logger.addHandler(handler)
    return logger, stream


def _unbuffered_text(items: list[tuple[float, AccessFields]]) -> str:
    """What writing each line at once gives, for the same lines."""
    logger, stream = _logger()
    for created, fields in items:
        assert write_access_line(logger, None, fields, created)
    return stream.getvalue()


def test_held_lines_are_written_later_byte_for_byte_and_in_order() -> None:
    logger, stream = _logger()
    buffer = AccessLineBuffer(logger, HOUR)
    items = [(1_764_189_665.001 + n, _fields(n)) for n in range(5)]
    for created, fields in items:
        assert buffer.add(fields, created)
    assert stream.getvalue() == "", "held, not written"
    buffer.flush()
    assert stream.getvalue() == _unbuffered_text(items)
    buffer.close()


def test_a_full_buffer_is_written_at_once() -> None:
    logger, stream = _logger()
    buffer = AccessLineBuffer(logger, HOUR, max_lines=3)
    buffer.add(_fields(1), 1.0)
    buffer.add(_fields(2), 2.0)
    assert stream.getvalue() == ""
    buffer.add(_fields(3), 3.0)
    assert stream.getvalue().count("\n") == 3
    buffer.close()


@pytest.mark.parametrize(
    "failed",
    [_fields(9, status=500), _fields(9, status=503), _fields(9, status=200, error="ValueError")],
    ids=["500", "503", "exception after a 200 was sent"],
)
def test_a_failed_request_is_written_at_once_with_the_lines_before_it(failed: AccessFields) -> None:
    logger, stream = _logger()
    buffer = AccessLineBuffer(logger, HOUR)
    items = [(1.0, _fields(1)), (2.0, _fields(2, status=404)), (3.0, failed)]
    for created, fields in items:
        buffer.add(fields, created)
    assert stream.getvalue() == _unbuffered_text(items)
    buffer.close()


def test_the_thread_writes_held_lines_within_the_interval() -> None:
    logger, stream = _logger()
    buffer = AccessLineBuffer(logger, 0.05)
    buffer.add(_fields(1), 1.0)
    deadline = time.monotonic() + 5
    while not stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.getvalue() == _unbuffered_text([(1.0, _fields(1))])
    buffer.close()


def test_a_request_that_finds_the_oldest_line_due_writes_the_batch() -> None:
    """Where the thread never runs (uWSGI without --enable-threads), the interval still bounds the wait."""
    logger, stream = _logger()
    buffer = AccessLineBuffer(logger, 0.5)
    buffer._stop.set()  # the flushing thread ends at once
    buffer.add(_fields(1), 100.0)
    buffer.add(_fields(2), 100.4)
    assert stream.getvalue() == ""
    buffer.add(_fields(3), 100.5)
    assert stream.getvalue() == _unbuffered_text([(100.0, _fields(1)), (100.4, _fields(2)), (100.5, _fields(3))])
    buffer.close()


class _RecordingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_no_write_is_longer_than_a_pipe_keeps_whole() -> None:
    """Workers share stdout: a write beyond PIPE_BUF bytes may interleave with another worker's."""
    stream = _RecordingStream()
    logger, _ = _logger(stream)
    buffer = AccessLineBuffer(logger, HOUR)
    items = [(float(n), _fields(n, path=f"/items/{n}/" + ("é" if n % 3 else "e") * 700)) for n in range(40)]
    for created, fields in items:
        buffer.add(fields, created)
    buffer.flush()
    assert len(stream.writes) > 1
    assert all(len(w.encode()) <= PIPE_BUF for w in stream.writes)
    assert all(w.endswith("\n") for w in stream.writes), "writes end on a line boundary"
    assert "".join(stream.writes) == _unbuffered_text(items)
    buffer.close()


def test_a_line_longer_than_the_pipe_limit_is_a_write_of_its_own() -> None:
    stream = _RecordingStream()
    logger, _ = _logger(stream)
    buffer = AccessLineBuffer(logger, HOUR)
    long_line = _fields(2, path="/" + "x" * (PIPE_BUF + 100))
    for n, fields in enumerate([_fields(1), long_line, _fields(3)]):
        buffer.add(fields, float(n))
    buffer.flush()
    assert len(stream.writes) == 3 and "x" * PIPE_BUF in stream.writes[1]
    buffer.close()


@pytest.mark.parametrize("change", _fallback_cases().values(), ids=_fallback_cases().keys())
def test_a_logger_that_cannot_be_written_directly_is_not_held(change: Any) -> None:
    """The caller then writes the line the standard way, on the request's thread, as unbuffered."""
    logger, stream = _logger()
    change(logger, logger.handlers[0] if logger.handlers else None)
    buffer = AccessLineBuffer(logger, HOUR)
    assert buffer.add(_fields(1), 1.0) is False
    buffer.flush()
    assert stream.getvalue() == "", "nothing held, nothing written twice"
    buffer.close()


def test_logging_changed_while_lines_are_held_sends_them_the_standard_way() -> None:
    logger, stream = _logger()
    buffer = AccessLineBuffer(logger, HOUR)
    items = [(1_764_189_665.25, _fields(1)), (1_764_189_666.5, _fields(2))]
    for created, fields in items:
        assert buffer.add(fields, created)
    seen: list[logging.LogRecord] = []
    logger.addFilter(lambda record: bool(seen.append(record)) or True)
    buffer.flush()
    assert [(r.created, r.obs_http) for r in seen] == items  # type: ignore[attr-defined]
    assert [r.getMessage() for r in seen] == ["GET /items/{item_id} 200"] * 2
    assert stream.getvalue() == _unbuffered_text(items), "the same lines, through Logger.handle"
    assert buffer.add(_fields(3), 3.0) is False, "rechecked: not held while the filter is there"
    buffer.close()


def test_close_writes_what_is_held_and_later_lines_go_out_at_once() -> None:
    logger, stream = _logger()
    buffer = AccessLineBuffer(logger, HOUR)
    buffer.add(_fields(1), 1.0)
    buffer.close()
    assert stream.getvalue().count("\n") == 1
    buffer.add(_fields(2), 2.0)
    assert stream.getvalue().count("\n") == 2


def test_a_buffer_dropped_with_lines_held_writes_them() -> None:
    import gc

    logger, stream = _logger()
    buffer = AccessLineBuffer(logger, HOUR)
    buffer.add(_fields(1), 1.0)
    del buffer
    gc.collect()
    assert stream.getvalue() == _unbuffered_text([(1.0, _fields(1))])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_write_the_parents_held_lines(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(JsonFormatter("backend", "1.4.2", "prod"))
    logger = logging.Logger(ACCESS_LOGGER)
    logger.addHandler(handler)
    buffer = AccessLineBuffer(logger, HOUR)
    buffer.add(_fields(1), 1.0)
    pid = os.fork()
    if pid == 0:  # the child: what it writes is its own lines only
        try:
            buffer.add(_fields(2), 2.0)
            buffer.flush()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    buffer.flush()
    handler.close()
    lines = path.read_text().splitlines()
    assert sorted(lines) == sorted(_unbuffered_text([(1.0, _fields(1)), (2.0, _fields(2))]).splitlines())
    buffer.close()


def test_held_lines_are_written_when_the_interpreter_exits() -> None:
    script = textwrap.dedent(
        """
        import logging, sys
        from instrumentation.logs import ACCESS_LOGGER, AccessFields, AccessLineBuffer, JsonFormatter
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter("backend", "1", "prod"))
        logger = logging.getLogger(ACCESS_LOGGER)
        logger.addHandler(handler)
        logger.propagate = False
        buffer = AccessLineBuffer(logger, 3600.0)
        assert buffer.add(AccessFields("GET", "/", 200, 5, "/", None, None), 1.0)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count('"http.route":"/"') == 1, result.stdout


def _only_json_handlers_on_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest's log capture handler on the root logger would make every line go the standard way."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)])


@pytest.mark.parametrize("framework", ["fastapi", "flask"])
def test_instrument_holds_access_lines_and_uninstrument_writes_them(
    make_service: ServiceFactory, framework: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from instrumentation import uninstrument

    service = make_service(framework, access_log_flush_interval=HOUR)
    _only_json_handlers_on_root(monkeypatch)
    service.get("/items/1")
    service.get("/items/2")
    assert service.log_stream.getvalue() == "", "held"
    service.get("/boom")
    assert service.log_stream.getvalue().count('"event.dataset":"access"') == 3, "the 500 wrote all three"
    service.get("/items/3")
    uninstrument(service.app)
    assert service.log_stream.getvalue().count('"event.dataset":"access"') == 4


def test_an_interval_of_zero_writes_each_line_at_once(
    make_service: ServiceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = make_service("flask", access_log_flush_interval=0)
    _only_json_handlers_on_root(monkeypatch)
    assert service.state.telemetry.access_buffer is None
    service.get("/items/1")
    assert service.log_stream.getvalue().count('"event.dataset":"access"') == 1


def test_the_interval_is_a_second_by_default_and_read_from_the_environment() -> None:
    assert resolve_settings(env={}).access_log_flush_interval == 1.0
    assert resolve_settings(env={"OBS_ACCESS_LOG_FLUSH_INTERVAL": "0.25"}).access_log_flush_interval == 0.25
    assert resolve_settings(env={"OBS_ACCESS_LOG_FLUSH_INTERVAL": "5"}, access_log_flush_interval=0).access_log_flush_interval == 0


@pytest.mark.parametrize("raw", ["-1", "nan", "7200", "inf", "1s"])
def test_a_bad_interval_names_the_setting(raw: str) -> None:
    with pytest.raises(ValueError, match="OBS_ACCESS_LOG_FLUSH_INTERVAL"):
        resolve_settings(env={"OBS_ACCESS_LOG_FLUSH_INTERVAL": raw})


def test_a_starlette_lifespan_shutdown_writes_held_lines_and_exports_spans(
    make_service: ServiceFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn ends the process by re-raising its SIGTERM after the shutdown: atexit never runs there."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from starlette.testclient import TestClient

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=3_600_000))
    service = make_service("fastapi", tracer_provider=provider, access_log_flush_interval=HOUR)
    _only_json_handlers_on_root(monkeypatch)
    with TestClient(service.app) as client:
        assert client.get("/items/1").status_code == 200
        assert service.log_stream.getvalue() == "" and exporter.get_finished_spans() == ()
    assert service.log_stream.getvalue().count('"event.dataset":"access"') == 1
    assert [s.name for s in exporter.get_finished_spans()] == ["GET /items/{item_id}"]


def test_a_collector_that_hangs_cannot_hold_a_shutdown_past_the_timeout(make_service: ServiceFactory) -> None:
    import threading

    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

    release = threading.Event()

    class Hanging(SpanProcessor):
        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return release.wait(30)

    provider = TracerProvider()
    provider.add_span_processor(Hanging())
    service = make_service("fastapi", tracer_provider=provider)
    started = time.monotonic()
    try:
        service.state.telemetry.flush(timeout=0.2)
        assert time.monotonic() - started < 2
    finally:
        release.set()
