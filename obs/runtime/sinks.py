"""In-process stand-ins for the receivers a stack sends to: chat/pager webhooks and Jaeger's OTLP port.

:class:`WebhookSink` records every notification Alertmanager posts, with the receiver taken from
the URL path (``url_for("team-learning-page")``), so a test can tell *who* was notified.
:class:`OtlpReceiver` speaks OTLP traces over gRPC (port 4317's protocol) and HTTP
(``POST /v1/traces``, protobuf, optionally gzip) and records the spans, so an exemplar's trace id
can be looked up. Both bind 127.0.0.1 (free ports unless given), serve from daemon threads, keep a
bounded number of records (the oldest are dropped and counted), and are stopped by ``close()``.
"""

from __future__ import annotations

import gzip
import importlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, Self, TypeVar
from urllib.parse import quote, unquote, urlsplit

R = TypeVar("R")


class _Recorder(Generic[R]):
    """A bounded, thread-safe list of records that a reader can wait on."""

    def __init__(self, what: str, max_records: int) -> None:
        self._what = what
        self._records: deque[R] = deque(maxlen=max_records)
        self._cond = threading.Condition()
        self.dropped = 0
        self.batches = 0

    def add(self, records: list[R]) -> None:
        with self._cond:
            maxlen = self._records.maxlen or 0
            self.dropped += max(0, len(self._records) + len(records) - maxlen)
            self._records.extend(records)
            self.batches += 1
            self._cond.notify_all()

    def snapshot(self) -> list[R]:
        with self._cond:
            return list(self._records)

    def clear(self) -> None:
        with self._cond:
            self._records.clear()

    def wait_for(self, predicate: Callable[[list[R]], bool], timeout: float, describe: Callable[[list[R]], str]) -> list[R]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                records = list(self._records)
                if predicate(records):
                    return records
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self._what}: condition not met within {timeout:g} s; received {describe(records)}")
                self._cond.wait(left)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 resets connections in a burst of notifications


class _LoopbackHTTP:
    """A ThreadingHTTPServer on 127.0.0.1 served from a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int) -> None:
        self.server = _Server(("127.0.0.1", port), handler)
        self.port = int(self.server.server_address[1])
        # A short poll interval makes close() quick (shutdown waits for the loop to look).
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), name=f"obs-sink-{self.port}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


class _QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return

    def _read_body(self) -> bytes:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
            body = gzip.decompress(body)
        return body

    def _reply(self, status: int, body: bytes = b"", content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


# -- webhooks ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notification:
    """One webhook notification: the receiver from the URL path and Alertmanager's JSON payload."""

    receiver: str
    payload: Mapping[str, Any]
    received_at: float

    @property
    def status(self) -> str:
        """``firing`` or ``resolved`` (the group's status)."""
        return str(self.payload.get("status", ""))

    @property
    def alerts(self) -> list[Mapping[str, Any]]:
        return list(self.payload.get("alerts") or [])

    @property
    def alertnames(self) -> tuple[str, ...]:
        return tuple(sorted({str(a.get("labels", {}).get("alertname", "")) for a in self.alerts}))

    @property
    def group_labels(self) -> Mapping[str, str]:
        return dict(self.payload.get("groupLabels") or {})


class WebhookSink:
    """Records every POST as a :class:`Notification`; point each receiver at ``url_for(name)``."""

    def __init__(self, port: int = 0, *, max_notifications: int = 10_000) -> None:
        self._recorder: _Recorder[Notification] = _Recorder("webhook sink", max_notifications)
        self._rejected = 0
        self._rejected_lock = threading.Lock()
        recorder = self._recorder
        sink = self

        class Handler(_QuietHandler):
            def do_POST(self) -> None:
                receiver = unquote(urlsplit(self.path).path.strip("/"))
                try:
                    payload = json.loads(self._read_body() or b"null")
                except (ValueError, OSError):
                    payload = None
                if not isinstance(payload, dict):
                    with sink._rejected_lock:
                        sink._rejected += 1
                    self._reply(400, b"expected a JSON object (an Alertmanager webhook payload)\n")
                    return
                recorder.add([Notification(receiver, payload, time.time())])
                self._reply(200)

        self._http = _LoopbackHTTP(Handler, port)
        self.port = self._http.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_for(self, receiver: str) -> str:
        """The webhook URL whose notifications are recorded with ``receiver``."""
        return f"{self.url}/{quote(receiver, safe='')}"

    @property
    def notifications(self) -> list[Notification]:
        return self._recorder.snapshot()

    @property
    def dropped(self) -> int:
        """Notifications dropped because more than ``max_notifications`` arrived."""
        return self._recorder.dropped

    @property
    def rejected(self) -> int:  # POSTs whose body was not a JSON object (answered 400)
        return self._rejected

    def received(self, *, receiver: str | None = None, alertname: str | None = None, status: str | None = None) -> list[Notification]:
        """The notifications matching every filter given."""
        return [
            n
            for n in self._recorder.snapshot()
            if (receiver is None or n.receiver == receiver)
            and (alertname is None or alertname in n.alertnames)
            and (status is None or n.status == status)
        ]

    def wait_for(self, predicate: Callable[[list[Notification]], bool], timeout: float = 30.0) -> list[Notification]:
        """Block until ``predicate(notifications)`` holds; ``TimeoutError`` lists what did arrive."""
        return self._recorder.wait_for(predicate, timeout, _describe_notifications)

    def clear(self) -> None:
        self._recorder.clear()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _describe_notifications(notifications: list[Notification]) -> str:
    if not notifications:
        return "nothing"
    shown = [f"{n.receiver}:{n.status}:{','.join(n.alertnames)}" for n in notifications[-10:]]
    return f"{len(notifications)} notification(s), last: {'; '.join(shown)}"


# -- OTLP traces ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceivedSpan:
    """One span as received (ids in lower-case hex, as W3C trace context and exemplars write them)."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    service_name: str
    kind: int
    attributes: Mapping[str, Any]
    resource: Mapping[str, Any]
    status_code: int
    start_unix_nano: int
    end_unix_nano: int
    transport: str
    #: Each event as ``{"name": ..., **attributes}`` (an exception is an event named "exception").
    events: tuple[Mapping[str, Any], ...] = ()


def _any_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def _spans_of(request: Any, transport: str) -> list[ReceivedSpan]:
    """The spans of an ``ExportTraceServiceRequest``."""
    spans: list[ReceivedSpan] = []
    for resource_spans in request.resource_spans:
        resource = {kv.key: _any_value(kv.value) for kv in resource_spans.resource.attributes}
        service = str(resource.get("service.name", ""))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        trace_id=span.trace_id.hex(), span_id=span.span_id.hex(), parent_span_id=span.parent_span_id.hex(),
                        name=span.name, service_name=service, kind=int(span.kind),
                        attributes={kv.key: _any_value(kv.value) for kv in span.attributes}, resource=resource,
                        status_code=int(span.status.code), start_unix_nano=int(span.start_time_unix_nano),
                        end_unix_nano=int(span.end_time_unix_nano), transport=transport,
                        events=tuple({"name": e.name, **{kv.key: _any_value(kv.value) for kv in e.attributes}} for e in span.events),
                    )
                )  # fmt: skip
    return spans


class OtlpReceiver:
    """An OTLP trace receiver on loopback: gRPC (``grpc_endpoint``) and HTTP (``http_endpoint``).

    Needs ``grpcio`` and ``opentelemetry-proto`` (both come with ``obs[instrumentation]``'s OTLP
    exporters); they are imported when a receiver is made, not when this module is.
    """

    def __init__(self, *, grpc_port: int = 0, http_port: int = 0, with_grpc: bool = True, max_spans: int = 100_000) -> None:
        service_pb2 = importlib.import_module("opentelemetry.proto.collector.trace.v1.trace_service_pb2")
        self._recorder: _Recorder[ReceivedSpan] = _Recorder("OTLP receiver", max_spans)
        recorder = self._recorder
        response_bytes = service_pb2.ExportTraceServiceResponse().SerializeToString()

        class Handler(_QuietHandler):
            def do_POST(self) -> None:
                path = urlsplit(self.path).path
                content_type = self.headers.get("Content-Type") or ""
                if path != "/v1/traces":
                    self._reply(404, b"only POST /v1/traces is served\n")
                    return
                if "protobuf" not in content_type:
                    self._reply(415, b"send application/x-protobuf\n")
                    return
                try:
                    request = service_pb2.ExportTraceServiceRequest.FromString(self._read_body())
                except Exception:  # a malformed body is the sender's bug: answer 400, keep serving
                    self._reply(400, b"not an ExportTraceServiceRequest\n")
                    return
                recorder.add(_spans_of(request, "http"))
                self._reply(200, response_bytes, "application/x-protobuf")

        self._http = _LoopbackHTTP(Handler, http_port)
        self.http_port = self._http.port
        self.grpc_port = 0
        self._grpc: Any = None
        if with_grpc:
            try:
                self._grpc, self.grpc_port = _start_grpc(recorder, grpc_port)
            except BaseException:
                self._http.close()
                raise

    @property
    def grpc_endpoint(self) -> str:
        """For ``OTEL_EXPORTER_OTLP_ENDPOINT`` with the gRPC protocol (Jaeger's 4317)."""
        if self._grpc is None:
            raise RuntimeError("this OTLP receiver was made with with_grpc=False")
        return f"http://127.0.0.1:{self.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        """For ``OTEL_EXPORTER_OTLP_ENDPOINT`` with ``http/protobuf`` (the exporter adds ``/v1/traces``)."""
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def traces_url(self) -> str:
        """For ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (the full URL)."""
        return f"{self.http_endpoint}/v1/traces"

    @property
    def spans(self) -> list[ReceivedSpan]:
        return self._recorder.snapshot()

    @property
    def requests(self) -> int:  # export requests received over gRPC and HTTP
        return self._recorder.batches

    @property
    def dropped(self) -> int:
        return self._recorder.dropped

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        """The spans of one trace (hex id, any case)."""
        wanted = trace_id.lower()
        return [s for s in self._recorder.snapshot() if s.trace_id == wanted]

    def trace_ids(self) -> set[str]:
        return {s.trace_id for s in self._recorder.snapshot()}

    def wait_for(self, predicate: Callable[[list[ReceivedSpan]], bool], timeout: float = 30.0) -> list[ReceivedSpan]:
        """Block until ``predicate(spans)`` holds; ``TimeoutError`` lists what did arrive."""
        return self._recorder.wait_for(predicate, timeout, _describe_spans)

    def clear(self) -> None:
        self._recorder.clear()

    def close(self) -> None:
        self._http.close()
        if self._grpc is not None:
            self._grpc.stop(grace=None).wait(5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _start_grpc(recorder: _Recorder[ReceivedSpan], port: int) -> tuple[Any, int]:
    grpc = importlib.import_module("grpc")
    service_pb2 = importlib.import_module("opentelemetry.proto.collector.trace.v1.trace_service_pb2")
    service_grpc = importlib.import_module("opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc")

    class TraceService(service_grpc.TraceServiceServicer):  # type: ignore[misc, name-defined]
        def Export(self, request: Any, context: Any) -> Any:
            recorder.add(_spans_of(request, "grpc"))
            return service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="obs-otlp-grpc"))
    service_grpc.add_TraceServiceServicer_to_server(TraceService(), server)
    bound = int(server.add_insecure_port(f"127.0.0.1:{port}"))
    if bound == 0:
        raise OSError(f"OTLP receiver: cannot bind gRPC on 127.0.0.1:{port}")
    server.start()
    return server, bound


def _describe_spans(spans: list[ReceivedSpan]) -> str:
    if not spans:
        return "no span"
    names = sorted({f"{s.service_name}:{s.name}" for s in spans})
    return f"{len(spans)} span(s) in {len({s.trace_id for s in spans})} trace(s): {', '.join(names[:20])}"


__all__ = ["Notification", "OtlpReceiver", "ReceivedSpan", "WebhookSink"]
