"""Stand-ins for what the platform probes from outside (a static site, an external app, an http
upstream): a loopback HTTP server answering 200 to any GET, which the fault injector can stop."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"obs demo stand-in for {self.server.site_name}\n".encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


class StandInSite:
    """A site on 127.0.0.1:``port`` that answers 200 while started."""

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        if self._server is not None:
            return
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _Handler)
        server.daemon_threads = True
        server.site_name = self.name  # type: ignore[attr-defined]
        self._server = server
        self._thread = Thread(target=server.serve_forever, args=(0.05,), name=f"obs-site-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


__all__ = ["StandInSite"]
