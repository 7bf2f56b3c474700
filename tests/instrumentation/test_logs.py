"""Logs: JSON lines with the contract's ECS fields for access lines and application records,
the trace id of the request's span, redaction by default, a reusable formatter."""

from __future__ import annotations

import io
import json
import logging
import sys
import time
from typing import Any

import pytest

from instrumentation.logs import ACCESS_LOGGER, AccessFields, JsonFormatter, build_record, write_access_line
from obs.contract import ECS_VERSION, LOG_FIELDS, REDACTED, TRACE_ID_FIELD
from tests.instrumentation.conftest import Service, ServiceFactory

PY_TYPES = {"date": str, "keyword": str, "text": str, "long": int, "integer": int, "float": float, "ip": str}


def assert_contract_fields(line: dict[str, Any], access: bool) -> None:
    for f in LOG_FIELDS:
        if f.required or (access and f.access_only):
            assert f.name in line, f"{f.name} missing from {line}"
        if not access and f.access_only:
            assert f.name not in line, f"{f.name} is an access-only field"
        if f.name in line:
            assert isinstance(line[f.name], PY_TYPES[f.type]), f"{f.name}={line[f.name]!r} is not {f.type}"
    assert set(line) <= {f.name for f in LOG_FIELDS}, "only fields the contract declares"


def test_each_request_writes_an_access_line_with_every_contract_field(service: Service) -> None:
    service.get("/items/42?token=abc")
    (line,) = [x for x in service.log_lines() if x["event.dataset"] == "access"]
    assert_contract_fields(line, access=True)
    span = service.spans()[0]
    assert line[TRACE_ID_FIELD] == format(span.context.trace_id, "032x")
    assert line["span.id"] == format(span.context.span_id, "016x")
    assert line["log.logger"] == ACCESS_LOGGER
    assert line["http.route"] == service.item_template
    assert line["http.request.method"] == "GET"
    assert line["http.response.status_code"] == 200
    assert line["url.path"] == "/items/42", "no query string"
    assert 0 < line["event.duration"] < 10**10, "nanoseconds"
    assert line["ecs.version"] == ECS_VERSION
    assert (line["service.name"], line["service.version"], line["service.environment"]) == ("backend", "1.4.2", "test")
    assert line["@timestamp"].endswith("Z") and len(line["@timestamp"]) == len("2026-11-26T20:41:05.123Z")


def test_application_records_are_json_with_the_request_trace_id_and_redacted(service: Service) -> None:
    resp = service.get("/log")
    (line,) = [x for x in service.log_lines() if x["event.dataset"] == "application"]
    assert_contract_fields(line, access=False)
    assert line["message"] == f"course loaded for {REDACTED}"
    assert line["log.level"] == "warning"
    assert line[TRACE_ID_FIELD] == json.loads(resp.body)["trace_id"] == format(service.spans()[0].context.trace_id, "032x")


def test_a_failed_request_logs_the_error_type_and_redacted_message(service: Service) -> None:
    service.get("/boom")
    (line,) = [x for x in service.log_lines() if x["event.dataset"] == "access"]
    assert line["http.response.status_code"] == 500
    assert line["error.type"] == "RuntimeError"
    assert line["error.message"] == f"failed for {REDACTED}"


def test_the_access_log_can_be_switched_off(make_service: ServiceFactory, framework: str) -> None:
    service = make_service(framework, access_log=False)
    service.get("/items/1")
    assert [x for x in service.log_lines() if x["event.dataset"] == "access"] == []


def test_unmatched_requests_log_the_fixed_route_value_and_a_redacted_path(service: Service) -> None:
    service.get("/reset/eve@school.example")
    (line,) = [x for x in service.log_lines() if x["event.dataset"] == "access"]
    assert line["http.route"] == "__unmatched__"
    assert line["url.path"] == f"/reset/{REDACTED}"


def _record(msg: str = "course %s loaded", args: tuple[Any, ...] = ("42",), **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("backend.api", logging.INFO, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_the_formatter_builds_with_no_arguments_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-otel")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging,service.version=2.0")
    line = json.loads(JsonFormatter().format(_record()))
    assert_contract_fields(line, access=False)
    assert (line["service.name"], line["service.environment"], line["service.version"]) == ("from-otel", "staging", "2.0")


def test_the_line_is_the_dict_so_shippers_can_send_either() -> None:
    formatter = JsonFormatter("backend", "1", "prod")
    record = _record('quote " and é and tab\t', ())
    assert json.loads(formatter.format(record)) == formatter.build_record(record)
    assert formatter.format(record) == json.dumps(
        formatter.build_record(record), ensure_ascii=False, separators=(",", ":")
    ), "compact: no spaces after separators"
    assert build_record(record, formatter) == formatter.build_record(record)


ACCESS_CASES = {
    "ok, sampled": AccessFields("GET", "/items/{item_id}", 200, 1_234_567, "/items/42", "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"),
    "unsampled": AccessFields("POST", "__unmatched__", 404, 1, "/nowhere", None, None),
    "error": AccessFields("PUT", "/x", 500, 10**9, "/x", "a" * 32, "b" * 16, "ValueError", 'bad "value" é'),
    "error without message": AccessFields("GET", "/x", 500, 5, "/x", None, None, "KeyError", None),
    "escapes": AccessFields("_OTHER", '/q/"{name}"', 200, 0, "/q/\u2028\t\n\u0001é漢", None, None),
    "trace id without span id": AccessFields("GET", "/x", 200, 5, "/x", "c" * 32, None),
    "ids someone else made": AccessFields("GET", "/x", 200, 5, "/x", 'a"\\b', "\n"),
}  # fmt: skip


@pytest.mark.parametrize("version", ["1.4.2", ""])
@pytest.mark.parametrize("fields", ACCESS_CASES.values(), ids=ACCESS_CASES.keys())
def test_access_lines_take_a_fast_path_with_exactly_the_generic_encoding(fields: AccessFields, version: str) -> None:
    """Access lines skip the generic encoder (the hot path); the text must not differ by a byte."""
    formatter = JsonFormatter('svc "quoted" é', version, "prod\n")
    record = logging.LogRecord(ACCESS_LOGGER, logging.INFO, __file__, 1, f"{fields.method} {fields.route} {fields.status}", (), None)
    record.obs_http = fields
    generic = formatter._encoder.encode(formatter.build_record(record))
    assert formatter.format(record) == generic
    assert json.loads(generic) == formatter.build_record(record)


@pytest.mark.parametrize(
    "created",
    [1_700_000_000.0, 1_700_000_000.001, 1_700_000_000.0015, 1_700_000_000.5, 1_700_000_000.999, 1_700_000_000.9999999,
     1_764_201_599.9995, 0.25, 86_399.123],
)  # fmt: skip
def test_timestamps_carry_the_milliseconds_logging_gives_the_record(created: float) -> None:
    """The milliseconds are looked up in a table on the hot path: the same digits as the record's
    ``msecs`` (truncated, never rounded up into the next second), at every edge of a second."""
    record = logging.LogRecord(ACCESS_LOGGER, logging.INFO, __file__, 1, "m", (), None)
    record.created = created
    msecs = int((created - int(created)) * 1000)  # LogRecord.__init__'s formula
    expected = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(created))) + f".{msecs:03d}Z"
    formatter = JsonFormatter("svc", "1", "prod")
    assert formatter.build_record(record)["@timestamp"] == expected
    line = json.loads(formatter.format_access(created, None, ACCESS_CASES["ok, sampled"]))
    assert line["@timestamp"] == expected
    assert formatter._timestamp(created + 1.0).startswith(time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(int(created) + 1)))


@pytest.mark.parametrize("fields", ACCESS_CASES.values(), ids=ACCESS_CASES.keys())
def test_an_access_line_ends_with_what_the_handler_asks_for(fields: AccessFields) -> None:
    formatter = JsonFormatter("svc", "1", "prod")
    assert formatter.format_access(5.5, None, fields, "\r\n") == formatter.format_access(5.5, None, fields) + "\r\n"
    assert formatter.format_access(5.5, None, fields).endswith("}")


def test_the_encoded_middles_a_formatter_keeps_change_no_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path keeps the encoded part each (message, method, route, status) shares; lines read
    from it must be the lines built afresh, and a formatter never keeps more than its cap."""
    from instrumentation import logs

    monkeypatch.setattr(logs, "ACCESS_MIDDLES_MAX", 3)
    formatter = JsonFormatter("svc", "1", "prod")
    cases = [
        *ACCESS_CASES.values(),
        ACCESS_CASES["ok, sampled"]._replace(duration_ns=7, url_path="/items/43"),
        ACCESS_CASES["ok, sampled"]._replace(status=201),
        ACCESS_CASES["ok, sampled"]._replace(route="/items/{id}"),
    ]
    for fields in cases * 2:
        record = logging.LogRecord(ACCESS_LOGGER, logging.INFO, __file__, 1, f"{fields.method} {fields.route} {fields.status}", (), None)
        record.obs_http = fields
        line = formatter.format(record)
        assert line == formatter._encoder.encode(formatter.build_record(record))
        assert formatter.format_access(record.created, None, fields) == line, "None: the usual message"
    assert len(formatter._access_middles) == 3


def test_a_subclass_that_changes_the_dict_is_not_bypassed_by_the_fast_path() -> None:
    class Tagged(JsonFormatter):
        def build_record(self, record: logging.LogRecord) -> dict[str, Any]:
            return {**super().build_record(record), "labels.team": "learning"}

    record = logging.LogRecord(ACCESS_LOGGER, logging.INFO, __file__, 1, "GET /x 200", (), None)
    record.obs_http = ACCESS_CASES["ok, sampled"]
    assert json.loads(Tagged("backend", "1", "prod").format(record))["labels.team"] == "learning"


def test_audit_records_are_filed_under_their_class() -> None:
    line = JsonFormatter("s", "", "prod").build_record(_record(obs_dataset="audit"))
    assert line["event.dataset"] == "audit"
    assert "service.version" not in line, "an unknown version is left out, not written empty"


def test_exceptions_in_records_give_error_fields_redacted() -> None:
    try:
        raise ValueError("bad token=abc123 for frank@school.example")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    line = JsonFormatter("s", "1", "prod").build_record(record)
    assert line["error.type"] == "ValueError"
    assert "abc123" not in line["error.message"] and "frank@" not in line["error.message"]
    trace = line["error.stack_trace"]
    assert trace.startswith("Traceback (most recent call last):") and "test_logs.py" in trace
    assert trace.rstrip().endswith(f"ValueError: bad {REDACTED} for {REDACTED}")
    assert "abc123" not in trace and "frank@" not in trace, "the quoted source line is redacted too"


def test_a_record_without_an_exception_has_no_stack_trace() -> None:
    assert "error.stack_trace" not in JsonFormatter("s", "1", "prod").build_record(_record())


def test_an_unknown_log_class_is_refused() -> None:
    with pytest.raises(ValueError, match="dataset"):
        JsonFormatter("s", "1", "prod", dataset="debug")


# --- the direct path for access lines -----------------------------------------------------------

SAMPLE_ACCESS = AccessFields("GET", "/items/{item_id}", 200, 1_234_567, "/items/42", "a" * 32, "b" * 16)


def _access_logger(*handlers: logging.Handler) -> logging.Logger:
    logger = logging.Logger(ACCESS_LOGGER)  # outside the manager: no parent, nothing global touched
    for handler in handlers:
        logger.addHandler(handler)
    return logger


def _json_handler() -> tuple[logging.StreamHandler[io.StringIO], io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("backend", "1.4.2", "prod"))
    return handler, stream


def test_the_direct_path_writes_the_line_logging_would_write(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_764_189_665.123)
    handler, stream = _json_handler()
    assert write_access_line(_access_logger(handler), "GET /items/{item_id} 200", SAMPLE_ACCESS)
    record = logging.LogRecord(ACCESS_LOGGER, logging.INFO, __file__, 0, "GET /items/{item_id} 200", (), None)
    record.created = 1_764_189_665.123
    record.obs_http = SAMPLE_ACCESS
    assert stream.getvalue() == handler.format(record) + "\n"


class _Subclass(logging.StreamHandler):  # type: ignore[type-arg]
    pass


def _fallback_cases() -> dict[str, Any]:
    def logger_filter(logger: logging.Logger, handler: logging.Handler) -> None:
        logger.addFilter(lambda r: True)

    def handler_filter(logger: logging.Logger, handler: logging.Handler) -> None:
        handler.addFilter(lambda r: True)

    def other_handler(logger: logging.Logger, handler: logging.Handler) -> None:
        logger.addHandler(_Subclass(io.StringIO()))

    def other_formatter(logger: logging.Logger, handler: logging.Handler) -> None:
        handler.setFormatter(type("Mine", (JsonFormatter,), {})("backend", "1", "prod"))

    def no_handlers(logger: logging.Logger, handler: logging.Handler) -> None:
        logger.removeHandler(handler)

    def disabled(logger: logging.Logger, handler: logging.Handler) -> None:
        logger.disabled = True

    return {
        "a filter on the logger": logger_filter,
        "a filter on the handler": handler_filter,
        "another handler type": other_handler,
        "another formatter": other_formatter,
        "no handler (lastResort)": no_handlers,
        "a disabled logger": disabled,
    }


@pytest.mark.parametrize("change", _fallback_cases().values(), ids=_fallback_cases().keys())
def test_anything_that_could_observe_the_record_takes_the_standard_path(change: Any) -> None:
    handler, stream = _json_handler()
    logger = _access_logger(handler)
    change(logger, handler)
    assert write_access_line(logger, "GET / 200", SAMPLE_ACCESS) is False
    assert stream.getvalue() == "", "nothing written twice"


def test_a_custom_record_factory_takes_the_standard_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logging, "_logRecordFactory", lambda *a, **k: logging.LogRecord(*a, **k))
    handler, _ = _json_handler()
    assert write_access_line(_access_logger(handler), "GET / 200", SAMPLE_ACCESS) is False


def test_handlers_above_info_are_skipped_as_logging_skips_them() -> None:
    info, info_stream = _json_handler()
    quiet, quiet_stream = _json_handler()
    quiet.setLevel(logging.WARNING)
    assert write_access_line(_access_logger(info, quiet), "GET / 200", SAMPLE_ACCESS)
    assert info_stream.getvalue() and quiet_stream.getvalue() == ""


def test_a_failing_stream_is_reported_by_the_handler_and_never_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError("disk full")

    handler = logging.StreamHandler(Broken())
    handler.setFormatter(JsonFormatter("backend", "1", "prod"))
    reported: list[logging.LogRecord] = []
    monkeypatch.setattr(handler, "handleError", reported.append)
    assert write_access_line(_access_logger(handler), "GET / 200", SAMPLE_ACCESS)
    assert len(reported) == 1 and reported[0].obs_http == SAMPLE_ACCESS  # type: ignore[attr-defined]


def test_a_filter_on_the_access_logger_still_sees_every_request(service: Service) -> None:
    seen: list[logging.LogRecord] = []
    access = logging.getLogger(ACCESS_LOGGER)

    def keep(record: logging.LogRecord) -> bool:
        seen.append(record)
        return True

    access.addFilter(keep)
    try:
        service.get("/items/1")
    finally:
        access.removeFilter(keep)
    assert [r.getMessage() for r in seen] == [f"GET {service.item_template} 200"]
    assert len([x for x in service.log_lines() if x["event.dataset"] == "access"]) == 1
