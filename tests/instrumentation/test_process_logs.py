"""The rest of the process's lines go through the app's JSON formatter while it is instrumented:
the servers' loggers (query strings dropped from request targets, their access loggers off while
obs writes the access log), uncaught thread exceptions and Python warnings; ``uninstrument``
gives everything back."""

from __future__ import annotations

import io
import json
import logging
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from instrumentation.servers import TargetQueryFilter, uvicorn_log_config
from tests.instrumentation.conftest import ServiceFactory


@pytest.fixture
def server_handler() -> Iterator[tuple[logging.Handler, io.StringIO]]:
    """A handler on ``uvicorn`` as uvicorn configures it: plain text, its own stream, not propagated."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    plain = logging.Formatter("%(levelname)s: %(message)s")
    handler.setFormatter(plain)
    uvicorn = logging.getLogger("uvicorn")
    access = logging.getLogger("uvicorn.access")
    access_handler = logging.StreamHandler(stream)
    uvicorn.addHandler(handler)
    access.addHandler(access_handler)
    uvicorn.propagate = access.propagate = False
    uvicorn.setLevel(logging.INFO)
    access.setLevel(logging.INFO)
    yield handler, stream
    uvicorn.removeHandler(handler)
    access.removeHandler(access_handler)
    uvicorn.propagate = access.propagate = True


def test_a_servers_records_become_json_lines_without_query_strings(
    make_service: ServiceFactory, framework: str, server_handler: tuple[logging.Handler, io.StringIO]
) -> None:
    handler, stream = server_handler
    plain = handler.formatter
    service = make_service(framework)
    logging.getLogger("uvicorn.error").error(
        "Error handling request %s", "/login?password=hunter2&email=kid@school.example"
    )
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/1.1" %d', "10.0.0.1", "GET", "/a?token=x", 200)
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["message"] == "Error handling request /login"
    assert (record["log.logger"], record["service.name"]) == ("uvicorn.error", "backend")
    assert logging.getLogger("uvicorn.access").disabled, "obs writes the access log"
    from instrumentation import uninstrument

    uninstrument(service.app)
    assert handler.formatter is plain
    assert not logging.getLogger("uvicorn.access").disabled
    assert not any(isinstance(f, TargetQueryFilter) for f in logging.getLogger("uvicorn.error").filters)


def test_with_its_access_log_off_obs_leaves_the_servers_on_without_query_strings(
    make_service: ServiceFactory, server_handler: tuple[logging.Handler, io.StringIO]
) -> None:
    _, stream = server_handler
    make_service("fastapi", access_log=False)
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/1.1" %d', "10.0.0.1", "GET", "/a?token=x", 200)
    (line,) = stream.getvalue().splitlines()
    assert json.loads(line)["message"] == '10.0.0.1 - "GET /a HTTP/1.1" 200'


def _records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_an_uncaught_thread_exception_is_a_redacted_json_record(make_service: ServiceFactory) -> None:
    service = make_service("flask")

    def crash() -> None:
        raise ValueError("lost token=abc123 of kid@school.example")

    thread = threading.Thread(target=crash, name="worker-7")
    thread.start()
    thread.join()
    (record,) = [r for r in service.log_lines() if r["log.logger"] == "obs.uncaught"]
    assert record["message"] == "uncaught exception in thread worker-7"
    assert record["error.type"] == "ValueError"
    assert "abc123" not in json.dumps(record) and "kid@school" not in json.dumps(record)


def test_python_warnings_are_json_records(make_service: ServiceFactory) -> None:
    service = make_service("fastapi")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("deprecated call for kid@school.example", DeprecationWarning, stacklevel=1)
    (record,) = [r for r in service.log_lines() if r["log.logger"] == "py.warnings"]
    assert "DeprecationWarning" in record["message"] and "kid@school" not in record["message"]


def test_uninstrument_gives_the_thread_hook_and_warnings_back(make_service: ServiceFactory) -> None:
    before = threading.excepthook
    service = make_service("fastapi")
    assert threading.excepthook is not before
    from instrumentation import uninstrument

    uninstrument(service.app)
    assert threading.excepthook is before
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn("back to the warnings module", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["back to the warnings module"]


def test_the_uvicorn_log_config_makes_every_uvicorn_logger_json() -> None:
    import logging.config

    config = uvicorn_log_config()
    stream = io.StringIO()
    config["handlers"]["default"]["stream"] = stream
    logging.config.dictConfig(config)
    try:
        logging.getLogger("uvicorn.error").warning("Invalid request /x?password=hunter2 for kid@school.example")
        record = json.loads(stream.getvalue())
        assert record["message"] == "Invalid request /x for [REDACTED]"
        assert record["log.logger"] == "uvicorn.error"
    finally:
        for name in ("uvicorn", "uvicorn.access"):
            logger = logging.getLogger(name)
            logger.handlers.clear()
            logger.propagate = True
