"""Prometheus exposition for an instrumented service.

- Content negotiation: the OpenMetrics format (which carries exemplars) when the scraper asks for
  it, the classic text format otherwise (prometheus_client's own ``choose_encoder``).
- No ``_created`` series for obs's own families (the contract's ``OBS_METRICS``): Prometheus stores
  each as a series of its own, one per label set, and nothing obs renders reads them. Dropped here,
  on obs's exposition path, rather than with prometheus_client's process-wide
  ``disable_created_metrics()``: the registry may be the application's (the global one), whose own
  metrics keep what the application chose.
- Multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set, gunicorn or ``uvicorn --workers``): every
  scrape reads all workers' files through a fresh registry, as prometheus_client documents; a
  gunicorn ``child_exit`` hook (``child_exit`` below) removes a dead worker's live gauges.
- An optional bearer token, read from a string, a file (re-read per scrape, so a rotated secret
  is picked up) or an environment variable, compared in constant time.
- A separate-port server for services that must not expose ``/metrics`` on their public port.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric

_log = logging.getLogger("obs.exporters.prometheus")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The multiprocess directory, when prometheus_client runs in multiprocess mode."""
    return os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower()) or None


def scrape_registry(registry: CollectorRegistry | None = None) -> CollectorRegistry:
    """The registry one scrape reads: in multiprocess mode a fresh aggregate of every worker's
    files, with the exemplars the workers kept beside them (``exporters.exemplars``)."""
    directory = multiprocess_dir()
    if directory:
        fresh = CollectorRegistry()
        fresh.register(_MultiProcessWithExemplars(directory))
        return fresh
    return registry if registry is not None else REGISTRY


class _MultiProcessWithExemplars:
    """prometheus_client's ``MultiProcessCollector``, the duration histogram's buckets carrying the
    newest exemplar any worker has for them."""

    def __init__(self, directory: str) -> None:
        from prometheus_client import multiprocess

        self.directory = directory
        self.collector = multiprocess.MultiProcessCollector(None, path=directory)  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        from obs.contract import HTTP_SERVER_DURATION

        from .exemplars import with_exemplars

        return with_exemplars(
            self.collector.collect(),  # type: ignore[no-untyped-call]
            HTTP_SERVER_DURATION.name, HTTP_SERVER_DURATION.labels, self.directory
        )


def _obs_families() -> frozenset[str]:
    from obs.contract import OBS_METRICS

    # prometheus_client names a counter's family without ``_total``: the name it was given.
    return frozenset(m.prometheus_client_name for m in OBS_METRICS if m.type in ("counter", "histogram"))


class _WithoutCreated:
    """A registry's families, obs's own without their ``_created`` samples."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.families = _obs_families()

    def collect(self) -> Iterable[Metric]:
        for family in self.registry.collect():
            if family.name in self.families:
                family.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield family


def exposition(registry: CollectorRegistry | None = None, accept: str | None = None) -> tuple[bytes, str]:
    """(body, content type) for a scrape with this ``Accept`` header."""
    encoder, content_type = choose_encoder(accept or "")
    scraped = CollectorRegistry()
    scraped.register(_WithoutCreated(scrape_registry(registry)))
    return encoder(scraped), content_type


@dataclass(frozen=True, slots=True)
class BearerToken:
    """The expected scrape token: a literal, a file path, or an environment variable name."""

    value: str | None = None
    path: str | None = None
    env: str | None = None

    def expected(self) -> str | None:
        if self.value:
            return self.value
        if self.path:
            with open(self.path, encoding="utf-8") as fh:
                return fh.read().strip() or None
        if self.env:
            return os.environ.get(self.env) or None
        return None

    @property
    def configured(self) -> bool:
        return bool(self.value or self.path or self.env)


def authorized(authorization: str | None, token: BearerToken | None) -> bool:
    """Whether an ``Authorization`` header carries the token (constant-time comparison)."""
    if token is None or not token.configured:
        return True
    try:
        expected = token.expected()
    except OSError:
        _log.error("metrics token file %s cannot be read: refusing scrapes", token.path)
        return False
    if not expected:
        return False  # a configured but empty token must not open the endpoint
    scheme, _, provided = (authorization or "").partition(" ")
    # compare_digest on bytes: constant time for equal lengths, and no early exit on the content.
    return scheme.lower() == "bearer" and hmac.compare_digest(provided.strip().encode(), expected.encode())


@dataclass(frozen=True, slots=True)
class MetricsResponse:
    status: int
    content_type: str
    body: bytes

    @property
    def reason(self) -> str:
        return {200: "OK", 401: "Unauthorized", 405: "Method Not Allowed", 500: "Internal Server Error"}[self.status]

    def headers(self) -> list[tuple[str, str]]:
        out = [("Content-Type", self.content_type), ("Content-Length", str(len(self.body)))]
        if self.status == 401:
            out.append(("WWW-Authenticate", 'Bearer realm="metrics"'))
        return out


class MetricsEndpoint:
    """What ``GET /metrics`` answers, independent of the server (ASGI, WSGI or the separate port)."""

    def __init__(self, registry: CollectorRegistry | None = None, token: BearerToken | None = None) -> None:
        self.registry = registry
        self.token = token

    def respond(self, method: str, accept: str | None, authorization: str | None) -> MetricsResponse:
        if method not in ("GET", "HEAD"):
            return MetricsResponse(405, "text/plain; charset=utf-8", b"method not allowed\n")
        if not authorized(authorization, self.token):
            return MetricsResponse(401, "text/plain; charset=utf-8", b"unauthorized\n")
        body, content_type = exposition(self.registry, accept)
        return MetricsResponse(200, content_type, b"" if method == "HEAD" else body)


class _Handler(BaseHTTPRequestHandler):
    endpoint: MetricsEndpoint  # set on the per-server subclass

    def _serve(self) -> None:
        try:
            resp = self.endpoint.respond(self.command, self.headers.get("Accept"), self.headers.get("Authorization"))
        except Exception:  # a failing collector must not kill the server thread
            _log.exception("metrics exposition failed")
            resp = MetricsResponse(500, "text/plain; charset=utf-8", b"exposition failed\n")
        self.send_response(resp.status)
        for name, value in resp.headers():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(resp.body)

    do_GET = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:  # scrapes are not access-logged
        return


class MetricsServer:
    """``/metrics`` on its own port, in a daemon thread; ``close()`` stops it."""

    def __init__(self, port: int, addr: str = "0.0.0.0", endpoint: MetricsEndpoint | None = None) -> None:
        handler = type("ObsMetricsHandler", (_Handler,), {"endpoint": endpoint or MetricsEndpoint()})
        self.httpd = ThreadingHTTPServer((addr, port), handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="obs-metrics", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def start_metrics_server(
    port: int,
    addr: str = "0.0.0.0",
    registry: CollectorRegistry | None = None,
    token: BearerToken | None = None,
) -> MetricsServer:
    """Serve ``/metrics`` on ``addr:port`` (``port=0`` picks a free one; see ``.port``).

    With gunicorn in multiprocess mode, start it once in the master (``when_ready`` hook), not in
    each worker: the workers would race for the port.
    """
    return MetricsServer(port, addr, MetricsEndpoint(registry, token))


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn ``child_exit`` hook: drop a dead worker's live gauges from the aggregate.

    In ``gunicorn.conf.py``: ``from exporters.prometheus import child_exit``.
    """
    directory = multiprocess_dir()
    if directory:
        from prometheus_client import multiprocess

        from .exemplars import remove_exemplar_file

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
        remove_exemplar_file(directory, worker.pid)


__all__ = [
    "BearerToken",
    "MetricsEndpoint",
    "MetricsResponse",
    "MetricsServer",
    "authorized",
    "child_exit",
    "exposition",
    "multiprocess_dir",
    "scrape_registry",
    "start_metrics_server",
]
