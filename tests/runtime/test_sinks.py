"""The in-process receivers: the webhook sink records who was notified, the OTLP receiver records
the spans the real OpenTelemetry exporters send over gRPC and HTTP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from obs.runtime.sinks import OtlpReceiver, ReceivedSpan, WebhookSink


def alertmanager_payload(alertname: str, status: str = "firing", receiver: str = "team-learning-page") -> dict[str, Any]:
    """The shape of Alertmanager 0.25's webhook body (version 4)."""
    return {
        "version": "4", "status": status, "receiver": receiver, "groupKey": f'{{}}:{{alertname="{alertname}"}}',
        "groupLabels": {"alertname": alertname}, "commonLabels": {"alertname": alertname, "severity": "page"},
        "commonAnnotations": {}, "externalURL": "http://127.0.0.1:9093", "truncatedAlerts": 0,
        "alerts": [{"status": status, "labels": {"alertname": alertname, "severity": "page"}, "annotations": {"summary": "s"}}],
    }  # fmt: skip


def post(url: str, body: bytes, content_type: str = "application/json", encoding: str = "") -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    if encoding:
        request.add_header("Content-Encoding", encoding)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def webhook() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


@pytest.mark.parametrize("receiver", ["team-learning-page", "platform/ticket", "on call ü"])
def test_the_receiver_is_the_url_path(webhook: WebhookSink, receiver: str) -> None:
    assert post(webhook.url_for(receiver), json.dumps(alertmanager_payload("HighErrorRate")).encode()) == 200
    [notification] = webhook.wait_for(lambda ns: len(ns) == 1, timeout=5)
    assert notification.receiver == receiver
    assert (notification.status, notification.alertnames) == ("firing", ("HighErrorRate",))
    assert notification.group_labels == {"alertname": "HighErrorRate"}
    assert notification.payload["receiver"] == "team-learning-page"  # Alertmanager's own name is kept too


def test_filters_select_by_receiver_alert_and_status(webhook: WebhookSink) -> None:
    for receiver, alertname, status in [("page", "SLOBurn", "firing"), ("ticket", "RedisDown", "firing"), ("page", "SLOBurn", "resolved")]:
        post(webhook.url_for(receiver), json.dumps(alertmanager_payload(alertname, status)).encode())
    webhook.wait_for(lambda ns: len(ns) == 3, timeout=5)
    assert [n.status for n in webhook.received(receiver="page", alertname="SLOBurn")] == ["firing", "resolved"]
    assert [n.receiver for n in webhook.received(status="firing")] == ["page", "ticket"]
    assert webhook.received(alertname="Watchdog") == []


def test_concurrent_posts_are_all_recorded(webhook: WebhookSink) -> None:
    body = json.dumps(alertmanager_payload("HighErrorRate")).encode()
    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(lambda n: post(webhook.url_for(f"r{n % 4}"), body), range(200)))
    assert codes == [200] * 200
    notifications = webhook.wait_for(lambda ns: len(ns) == 200, timeout=10)
    assert {n.receiver for n in notifications} == {"r0", "r1", "r2", "r3"}


def test_a_body_that_is_not_a_json_object_is_refused_and_counted(webhook: WebhookSink) -> None:
    assert post(webhook.url_for("page"), b"not json") == 400
    assert post(webhook.url_for("page"), b"[1, 2]") == 400
    assert (webhook.rejected, webhook.notifications) == (2, [])


def test_wait_for_times_out_with_what_did_arrive(webhook: WebhookSink) -> None:
    post(webhook.url_for("ticket"), json.dumps(alertmanager_payload("RedisDown")).encode())
    webhook.wait_for(lambda ns: len(ns) == 1, timeout=5)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"webhook sink: condition not met within 0.3 s; received 1 notification\(s\), last: ticket:firing:RedisDown"):
        webhook.wait_for(lambda ns: any(n.receiver == "page" for n in ns), timeout=0.3)
    assert time.monotonic() - started < 2


def test_the_oldest_notifications_are_dropped_past_the_bound() -> None:
    with WebhookSink(max_notifications=3) as sink:
        for n in range(5):
            post(sink.url_for(f"r{n}"), json.dumps(alertmanager_payload("A")).encode())
        assert [n.receiver for n in sink.notifications] == ["r2", "r3", "r4"]
        assert sink.dropped == 2


def test_close_frees_the_port() -> None:
    sink = WebhookSink()
    url = sink.url_for("page")
    sink.close()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, data=b"{}", timeout=2)


# -- OTLP ------------------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as otlp:
        yield otlp


def export_one_span(exporter: Any, service: str) -> tuple[str, str]:
    """Send one server span through a real exporter; return its (trace id, span id) in hex."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import SpanKind

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("test").start_as_current_span(
        "GET /courses/{cid}", kind=SpanKind.SERVER, attributes={"http.route": "/courses/{cid}", "http.response.status_code": 200}
    ) as span:
        span.add_event("cache miss", {"cache.key": "course:7"})
        context = span.get_span_context()
    provider.shutdown()
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"


@pytest.mark.parametrize("transport", ["grpc", "http", "http-gzip"])
def test_spans_from_the_real_exporters_are_recorded(receiver: OtlpReceiver, transport: str) -> None:
    if transport == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        exporter: Any = GrpcExporter(endpoint=receiver.grpc_endpoint, insecure=True)
    else:
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        compression = Compression.Gzip if transport == "http-gzip" else Compression.NoCompression
        exporter = HttpExporter(endpoint=receiver.traces_url, compression=compression)
    trace_id, span_id = export_one_span(exporter, "backend")
    receiver.wait_for(lambda spans: len(spans) == 1, timeout=10)
    assert receiver.trace(trace_id.upper()) == receiver.spans
    [span] = receiver.spans
    assert isinstance(span, ReceivedSpan)
    assert (span.trace_id, span.span_id, span.parent_span_id) == (trace_id, span_id, "")
    assert (span.name, span.service_name, span.kind, span.transport) == ("GET /courses/{cid}", "backend", 2, transport.split("-")[0])
    assert span.attributes == {"http.route": "/courses/{cid}", "http.response.status_code": 200}
    assert span.end_unix_nano >= span.start_unix_nano > 0
    assert span.events == ({"name": "cache miss", "cache.key": "course:7"},)
    assert receiver.trace_ids() == {trace_id} and receiver.requests == 1


@pytest.mark.parametrize(
    ("path", "content_type", "status"),
    [("/v1/traces", "application/json", 415), ("/v1/metrics", "application/x-protobuf", 404), ("/v1/traces", "application/x-protobuf", 400)],
)
def test_http_requests_it_cannot_take_are_refused(receiver: OtlpReceiver, path: str, content_type: str, status: int) -> None:
    assert post(receiver.http_endpoint + path, b"\xff\xff\xff not protobuf", content_type) == status
    assert receiver.spans == [] and receiver.requests == 0


def test_an_http_only_receiver_has_no_grpc_endpoint() -> None:
    with OtlpReceiver(with_grpc=False) as otlp:
        assert otlp.grpc_port == 0
        with pytest.raises(RuntimeError, match="with_grpc=False"):
            _ = otlp.grpc_endpoint
        with pytest.raises(TimeoutError, match=r"OTLP receiver: condition not met within 0.1 s; received no span"):
            otlp.wait_for(lambda spans: bool(spans), timeout=0.1)
