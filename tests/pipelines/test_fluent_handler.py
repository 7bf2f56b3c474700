"""The Forward log handler on the wire: a real msgpack TCP receiver on 127.0.0.1, the record dict the
JSON formatter writes, drop-and-count instead of blocking, flush on close."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from prometheus_client import CollectorRegistry

from edu_platform import platform as edu
from exporters.fluent import (
    FluentForwardHandler,
    contract_record,
    dropped_counter,
    event_time,
    instrumentation_formatter,
)
from obs import contract
from obs.renderers import elasticsearch as es
from tests.conftest import free_port
from tests.pipelines.conftest import PYTHON_TYPES, log_records
from tests.pipelines.forward_sink import ForwardSink


class SampleJsonFormatter(logging.Formatter):
    """Stands in for the instrumentation's JsonFormatter: writes the record's ``sample`` as a JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record.__dict__["sample"], separators=(",", ":"))


@pytest.fixture
def sink() -> Iterator[ForwardSink]:
    s = ForwardSink()
    yield s
    s.stop()


def make_handler(port: int, **kwargs: Any) -> FluentForwardHandler:
    handler = FluentForwardHandler("127.0.0.1", port, **kwargs)
    handler.setFormatter(SampleJsonFormatter())
    return handler


def log_record(sample: dict[str, Any]) -> logging.LogRecord:
    record = logging.LogRecord("backend.api", logging.INFO, __file__, 1, sample["message"], None, None)
    record.__dict__["sample"] = sample
    return record


def _es_leaf_type(field: str) -> str:
    node: dict[str, Any] = es.mappings(edu)
    parts = field.split(".") if not field.startswith("@") else [field]
    for part in parts[:-1]:
        node = node["properties"][part]
    return str(node["properties"][parts[-1]]["type"])


def test_the_shipped_record_is_the_dict_the_json_formatter_writes(sink: ForwardSink) -> None:
    handler = make_handler(sink.port)
    samples = log_records()
    try:
        for sample in samples:
            handler.handle(log_record(sample))
        events = sink.wait_for(len(samples))
    finally:
        handler.close()
    # One Forward message per tag: order holds within a tag, not across tags.
    def key(r: dict[str, Any]) -> str:
        return json.dumps(r, sort_keys=True)

    assert sorted((e.record for e in events), key=key) == sorted(samples, key=key)
    for event in events:
        assert event.tag == f"obs.{event.record['service.name']}.{event.record['event.dataset']}"
    assert handler.dropped == 0 and handler.sent == len(samples)


def test_every_field_the_pipeline_maps_arrives_with_its_type(sink: ForwardSink) -> None:
    handler = make_handler(sink.port)
    samples = log_records()
    try:
        for sample in samples:
            handler.handle(log_record(sample))
        events = sink.wait_for(len(samples))
    finally:
        handler.close()
    access = [e.record for e in events if e.record["event.dataset"] == "access"]
    assert access, "no access line shipped"
    for record in (e.record for e in events):
        for f in contract.LOG_FIELDS:
            if f.required or (f.access_only and record is access[0]):
                assert f.name in record, f.name
            if f.name in record:
                # msgpack keeps JSON types: an integer status code stays an integer for the long/integer mapping.
                assert isinstance(record[f.name], PYTHON_TYPES[_es_leaf_type(f.name)]), (f.name, record[f.name])


def test_event_time_keeps_nanoseconds_on_the_wire(sink: ForwardSink) -> None:
    handler = make_handler(sink.port)
    record = log_record(log_records()[0])
    record.created = 1_764_189_665.123456
    try:
        handler.handle(record)
        (event,) = sink.wait_for(1)
    finally:
        handler.close()
    assert isinstance(event.raw_time, msgpack.ExtType) and event.raw_time.code == 0
    assert event.time == pytest.approx(1_764_189_665.123456, abs=1e-6)


def test_batches_are_acknowledged_chunk_by_chunk(sink: ForwardSink) -> None:
    handler = make_handler(sink.port, batch_size=10)
    try:
        for _ in range(35):
            handler.handle(log_record(log_records()[1]))
        assert handler.wait_settled(5)
    finally:
        handler.close()
    assert len(sink.events) == 35
    assert len(sink.chunks) >= 4  # at most 10 records per Forward message


def test_a_receiver_that_is_down_costs_a_request_nothing_and_every_drop_is_counted() -> None:
    registry = CollectorRegistry()
    handler = make_handler(free_port(), capacity=20, counter=dropped_counter(registry), close_timeout=0.5)
    record = log_record(log_records()[1])
    durations = []
    try:
        for _ in range(2000):
            start = time.perf_counter()
            handler.handle(record)
            durations.append(time.perf_counter() - start)
    finally:
        handler.close()
    # Blocking would mean waiting for the 2 s connect timeout; a busy shared machine can still add a
    # scheduling hiccup, so the bound on the worst emit is generous and the typical one is tight.
    assert max(durations) < 0.25, f"an emit took {max(durations) * 1000:.1f} ms"
    assert sorted(durations)[len(durations) // 2] < 0.001
    # Everything is lost while nobody listens, and all of it is accounted for.
    assert handler.sent == 0
    assert handler.dropped == 2000
    assert registry.get_sample_value(f"{contract.LOG_RECORDS_DROPPED.name}", {"sink": "fluentd"}) == 2000


def test_a_receiver_that_never_acks_does_not_block_and_unacked_records_count_as_dropped() -> None:
    wedged = ForwardSink(ack=False)
    handler = make_handler(wedged.port, ack_timeout=0.2, close_timeout=0.5)
    try:
        start = time.perf_counter()
        for _ in range(50):
            handler.handle(log_record(log_records()[1]))
        assert time.perf_counter() - start < 0.5
    finally:
        handler.close()
        wedged.stop()
    assert handler.sent == 0
    assert handler.dropped == 50


def test_records_queued_while_the_receiver_is_down_arrive_once_it_is_up() -> None:
    port = free_port()
    handler = make_handler(port, close_timeout=5)
    late: ForwardSink | None = None
    try:
        for _ in range(5):
            handler.handle(log_record(log_records()[2]))
        time.sleep(0.3)  # a few failed attempts
        late = ForwardSink(port=port)
        events = late.wait_for(5, timeout=5)
    finally:
        handler.close()
        if late is not None:
            late.stop()
    assert len(events) == 5
    assert handler.dropped == 0


def test_close_flushes_what_is_queued(sink: ForwardSink) -> None:
    handler = make_handler(sink.port, flush_interval=1.0)
    for _ in range(100):
        handler.handle(log_record(log_records()[0]))
    handler.close()
    assert len(sink.events) == 100
    assert handler.dropped == 0


def test_records_after_close_are_counted_not_sent(sink: ForwardSink) -> None:
    handler = make_handler(sink.port)
    handler.close()
    handler.handle(log_record(log_records()[0]))
    assert handler.dropped == 1


def test_a_record_the_formatter_cannot_write_is_dropped_and_reported(sink: ForwardSink, capsys: pytest.CaptureFixture[str]) -> None:
    handler = FluentForwardHandler("127.0.0.1", sink.port)
    handler.setFormatter(logging.Formatter())  # plain text, not a JSON line
    try:
        handler.handle(logging.LogRecord("x", logging.INFO, __file__, 1, "plain text", None, None))
    finally:
        handler.close()
    assert handler.dropped == 1
    assert "JSONDecodeError" in capsys.readouterr().err


def test_the_instrumentation_formatter_is_the_default_when_installed() -> None:
    handler = FluentForwardHandler("127.0.0.1", free_port())
    try:
        expected = instrumentation_formatter()
        if expected is None:
            assert handler.formatter is None
        else:
            assert type(handler.formatter) is type(expected)
    finally:
        handler.close()


def test_drops_are_counted_on_the_global_registry_by_default() -> None:
    from prometheus_client import REGISTRY

    labels = {"sink": "fluentd"}
    before = REGISTRY.get_sample_value(contract.LOG_RECORDS_DROPPED.name, labels) or 0.0
    handler = make_handler(free_port(), close_timeout=0.1)
    handler.close()
    handler.handle(log_record(log_records()[0]))
    assert REGISTRY.get_sample_value(contract.LOG_RECORDS_DROPPED.name, labels) == before + 1


def test_the_dropped_counter_is_shared_per_registry() -> None:
    registry = CollectorRegistry()
    assert dropped_counter(registry) is dropped_counter(registry)


def test_event_time_carries_seconds_and_nanoseconds() -> None:
    assert event_time(1.5).data == (1).to_bytes(4, "big") + (500_000_000).to_bytes(4, "big")


def test_the_fallback_record_has_every_required_contract_field() -> None:
    record = logging.LogRecord("backend", logging.WARNING, __file__, 1, "mail alice@school.example", None, None)
    out = contract_record(record, "backend", "prod")
    assert {f.name for f in contract.LOG_FIELDS if f.required} <= set(out)
    assert out["log.level"] == "warning"
    assert "alice@school.example" not in out["message"]


def test_the_sink_speaks_the_protocol_of_the_real_fluent_logger_client(sink: ForwardSink) -> None:
    from fluent import sender

    client = sender.FluentSender("obs", host="127.0.0.1", port=sink.port, nanosecond_precision=True)
    try:
        assert client.emit("backend.application", {"message": "hello"})
        (event,) = sink.wait_for(1)
    finally:
        client.close()
    assert (event.tag, event.record) == ("obs.backend.application", {"message": "hello"})


def test_a_forked_worker_ships_through_its_own_sender(sink: ForwardSink) -> None:
    """gunicorn --preload forks after the handler exists: the child must not log into a dead thread."""
    import os

    handler = make_handler(sink.port)
    sample = {**log_records()[1], "message": "from the forked worker"}
    pid = os.fork()
    if pid == 0:  # child: report through the exit code only, never return into pytest
        code = 3
        try:
            handler.handle(log_record(sample))
            handler.close()
            code = 0 if (handler.sent, handler.dropped) == (1, 0) else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    handler.close()
    assert os.waitstatus_to_exitcode(status) == 0
    (event,) = sink.wait_for(1)
    assert event.record == sample


def test_with_the_instrumentation_the_shipped_dict_is_its_json_line(sink: ForwardSink) -> None:
    logs = pytest.importorskip("instrumentation.logs", reason="the instrumentation package is not installed yet")
    handler = FluentForwardHandler("127.0.0.1", sink.port)
    assert isinstance(handler.formatter, logs.JsonFormatter)
    handler.setFormatter(logs.JsonFormatter(service_name="backend", service_version="1.4.2", environment="prod"))
    record = logging.LogRecord("backend.api", logging.WARNING, __file__, 1, "mail %s", ("alice@school.example",), None)
    line = json.loads(handler.format(record))
    try:
        handler.handle(record)
        (event,) = sink.wait_for(1)
    finally:
        handler.close()
    assert event.record == line
    assert event.tag == "obs.backend.application"
    assert "alice@school.example" not in json.dumps(event.record)
