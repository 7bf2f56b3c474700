"""OTLP span export for the instrumentation: gRPC or HTTP/protobuf, behind a bounded batch processor.

The batch processor is what keeps a dead collector from hurting requests: ``on_end`` only appends
to a queue of at most ``max_queue_size`` spans (older ones are dropped, and counted, when it is
full), and the export, with its retries bounded by ``timeout``, runs on the processor's own thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Literal, cast

from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter

from .span_batch import CountingBatchSpanProcessor, SpanCounts

OtlpProtocol = Literal["grpc", "http/protobuf"]
TRACES_PATH = "/v1/traces"


def traces_url(endpoint: str) -> str:
    """The HTTP exporter's URL: a base endpoint (``http://collector:4318``) gets ``/v1/traces``."""
    stripped = endpoint.rstrip("/")
    return stripped if stripped.endswith(TRACES_PATH) else stripped + TRACES_PATH


def build_span_exporter(
    endpoint: str,
    protocol: OtlpProtocol = "http/protobuf",
    *,
    timeout: float = 5.0,
    headers: Mapping[str, str] | None = None,
) -> SpanExporter:
    """An OTLP span exporter for Jaeger (4317 gRPC / 4318 HTTP) or an OpenTelemetry Collector."""
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        # The gRPC exporter wants host:port; the scheme only says whether TLS is used.
        insecure = not endpoint.startswith("https://")
        target = endpoint.split("://", 1)[-1].rstrip("/")
        return GrpcExporter(endpoint=target, insecure=insecure, timeout=timeout, headers=dict(headers or {}))
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        return HttpExporter(endpoint=traces_url(endpoint), timeout=timeout, headers=dict(headers or {}))
    raise ValueError(f"OTLP protocol must be 'grpc' or 'http/protobuf', got {protocol!r}")


def console_span_processor() -> SpanProcessor:
    """``OTEL_TRACES_EXPORTER=console``: each span as one JSON line on stdout (the SDK's console
    exporter indents its JSON over many lines, which no log pipeline reads as one record)."""
    import os

    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    stdout = cast(IO[str], _CurrentStdout())  # what the exporter calls of it: write and flush
    exporter = ConsoleSpanExporter(out=stdout, formatter=lambda span: span.to_json(indent=None) + os.linesep)
    return SimpleSpanProcessor(exporter)


class _CurrentStdout:
    """``sys.stdout`` as it is when a span is written (a server may replace it after start-up)."""

    def write(self, text: str) -> int:
        import sys

        return sys.stdout.write(text)

    def flush(self) -> None:
        import sys

        sys.stdout.flush()


def build_span_processor(
    exporter: SpanExporter,
    *,
    max_queue_size: int = 2048,
    max_export_batch_size: int = 512,
    schedule_delay_millis: float = 1000,
    export_timeout_millis: float = 10_000,
    counts: SpanCounts | None = None,
) -> CountingBatchSpanProcessor:
    """A batch processor with a bounded queue (memory stays flat when the endpoint is down) that
    counts the spans it exports and drops (``exporters.span_batch``)."""
    return CountingBatchSpanProcessor(
        exporter,
        max_queue_size=max_queue_size,
        max_export_batch_size=min(max_export_batch_size, max_queue_size),
        schedule_delay_millis=schedule_delay_millis,
        export_timeout_millis=export_timeout_millis,
        counts=counts,
    )


__all__ = ["OtlpProtocol", "build_span_exporter", "build_span_processor", "console_span_processor", "traces_url"]
