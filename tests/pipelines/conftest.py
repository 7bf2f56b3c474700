"""Fixtures for the pipeline tests: rendered output, and log records as the instrumentation writes them."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edu_platform import platform as edu
from obs import contract
from obs.builder import build

PIPELINE_GROUPS = ["fluentd", "logstash", "elasticsearch", "kibana", "jaeger", "otel-collector", "exporters"]
ENVIRONMENTS = [e.name for e in edu.environments]

#: One realistic value per contract field, of the field's type. A field added to the contract without
#: a value here fails `test_samples_cover_the_contract`, so the pipeline tests grow with the contract.
SAMPLE_VALUES: dict[str, Any] = {
    "@timestamp": "2026-11-26T20:41:05.123Z",
    "log.level": "info",
    "log.logger": "backend.api",
    "message": "GET /api/courses/{course_id} 200",
    "ecs.version": contract.ECS_VERSION,
    "event.dataset": "access",
    "service.name": "backend",
    "service.version": "1.4.2",
    "service.environment": "prod",
    "trace.id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "span.id": "00f067aa0ba902b7",
    "http.request.method": "GET",
    "http.route": "/api/courses/{course_id}",
    "http.response.status_code": 200,
    "event.duration": 12_345_678,
    "url.path": "/api/courses/42",
    "error.type": "TimeoutError",
    "error.message": "upstream timed out",
    "error.stack_trace": 'Traceback (most recent call last):\n  File "/app/api.py", line 12, in sync\nTimeoutError: upstream timed out',
}
PYTHON_TYPES = {"date": str, "keyword": str, "text": str, "long": int, "integer": int, "float": float, "ip": str}


def _instrumentation_records() -> list[dict[str, Any]] | None:
    """Lines from the real JSON formatter, when the instrumentation package is installed: an
    application line, an audit line, an access line of a failed request, and a logged exception."""
    try:
        from instrumentation.logs import ACCESS_LOGGER, AccessFields, JsonFormatter  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        formatter = JsonFormatter(service_name="backend", service_version="1.4.2", environment="prod")
    except TypeError:
        # A constructor that changed: test_samples says so loudly rather than skipping.
        return None

    def record(name: str, level: int, msg: str, args: tuple[Any, ...] = (), **attrs: Any) -> logging.LogRecord:
        rec = logging.LogRecord(name, level, __file__, 1, msg, args, None)
        rec.created = 1_764_189_665.123  # fixed, so every call gives the same lines
        rec.__dict__.update(attrs)
        return rec

    try:
        raise TimeoutError("upstream timed out for alice@school.example")
    except TimeoutError:
        import sys

        failed = record("backend.api", logging.ERROR, "sync failed")
        failed.exc_info = sys.exc_info()
    access = AccessFields(
        method="GET",
        route="/api/courses/{course_id}",
        status=500,
        duration_ns=12_345_678,
        url_path="/api/courses/42",
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        span_id="00f067aa0ba902b7",
        error_type="TimeoutError",
        error_message="upstream timed out",
    )
    records = [
        record("backend.api", logging.INFO, "course %s loaded", ("42",)),
        record("backend.audit", logging.INFO, "grade changed by %s", ("teacher@school.example",), obs_dataset="audit"),
        record(ACCESS_LOGGER, logging.INFO, "GET /api/courses/{course_id} 500", obs_http=access),
        failed,
    ]
    return [json.loads(formatter.format(r)) for r in records]


def contract_records() -> list[dict[str, Any]]:
    """One record per log class: access lines carry the access-only fields, others do not."""
    records = []
    for log_class in contract.LOG_CLASSES:
        rec = {
            f.name: SAMPLE_VALUES[f.name]
            for f in contract.LOG_FIELDS
            if (log_class == "access" or not f.access_only) and not f.name.startswith("error.")
        }
        rec["event.dataset"] = log_class
        records.append(rec)
    failed = {f.name: SAMPLE_VALUES[f.name] for f in contract.LOG_FIELDS}
    failed["http.response.status_code"] = 500
    failed["log.level"] = "error"
    records.append(failed)
    return records


def log_records() -> list[dict[str, Any]]:
    return (_instrumentation_records() or []) + contract_records()


def log_lines() -> list[str]:
    """The JSON lines as a service writes them to stdout."""
    return [json.dumps(r, separators=(",", ":")) for r in log_records()]


#: Text with every kind of personal data the redaction rules know, plus each rule's own examples.
PERSONAL_DATA_SAMPLES: list[str] = [
    "password reset sent to alice.smith@school.example",
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl rejected",
    "GET /api/login?user=bob&password=hunter2&next=/home",
    "connecting to postgresql://app:s3cret@db:5432/app failed",
    "parent phone +44 20 7946 0958 updated",
    "token=abc.def.ghi api_key=XYZ123 session=deadbeef",
    *(example for rule in contract.REDACTION_RULES for example in rule.examples),
]


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every pipeline group built for every environment of the built-in platform."""
    out = tmp_path_factory.mktemp("build") / "out"
    build(edu, out, groups=PIPELINE_GROUPS)
    return out


def golden_files(built: Path, group_dir: str) -> Iterator[tuple[str, Path]]:
    for env in ENVIRONMENTS:
        for path in sorted((built / env / group_dir).rglob("*")):
            if path.is_file():
                yield f"{env}/{path.relative_to(built / env / group_dir)}", path
