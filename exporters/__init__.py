"""Exporters a service uses to ship what the instrumentation records.

- ``exporters.otlp``: OTLP span exporter (gRPC or HTTP/protobuf) behind a bounded batch processor.
- ``exporters.prometheus``: ``/metrics`` exposition (text or OpenMetrics), bearer token,
  multiprocess aggregation, separate-port server, gunicorn ``child_exit`` hook.
- ``exporters.fluent``: a non-blocking Fluentd Forward-protocol log handler.

Submodules are imported on demand: this package imports nothing, so shipping logs does not pull
the tracing SDK and the other way round.
"""
