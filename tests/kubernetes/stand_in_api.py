"""A stand-in Kubernetes API on 127.0.0.1 for ``kubectl apply --dry-run=client``: enough for kubectl
to map every kind obs writes to its resource and find that none of the objects exists yet.

kubectl asks ``/api`` and ``/apis`` and each group version's resource list (discovery), then
GETs each object by name; a 404 makes it print ``<kind>/<name> created (dry run)`` without
sending anything. ``requests`` records every request line.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: group version -> (plural, kind, namespaced) of what obs writes, as a 1.37 API server serves them.
SERVED: Mapping[str, tuple[tuple[str, str, bool], ...]] = {
    "v1": (("namespaces", "Namespace", False), ("configmaps", "ConfigMap", True), ("secrets", "Secret", True), ("services", "Service", True)),
    "apps/v1": (("deployments", "Deployment", True),),
    "autoscaling/v2": (("horizontalpodautoscalers", "HorizontalPodAutoscaler", True),),
    "monitoring.coreos.com/v1": (
        ("podmonitors", "PodMonitor", True),
        ("servicemonitors", "ServiceMonitor", True),
        ("probes", "Probe", True),
        ("prometheusrules", "PrometheusRule", True),
    ),
}


def _resources(group_version: str) -> dict[str, Any]:
    resources = [
        {"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind, "verbs": ["create", "get", "list", "patch", "update", "delete"]}
        for plural, kind, namespaced in SERVED[group_version]
    ]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


def _groups() -> dict[str, Any]:
    groups = []
    for group_version in SERVED:
        if "/" in group_version:
            name, version = group_version.split("/")
            entry = {"groupVersion": group_version, "version": version}
            groups.append({"name": name, "versions": [entry], "preferredVersion": entry})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


class StandInAPI:
    """``with StandInAPI() as api: subprocess.run(["kubectl", "--server", api.url, ...])``."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> StandInAPI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        path = path.split("?", 1)[0]
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": self.url.removeprefix("http://")}]}
        if path == "/apis":
            return 200, _groups()
        for group_version in SERVED:
            if path in (f"/api/{group_version}", f"/apis/{group_version}"):
                return 200, _resources(group_version)
        return 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": f"{path} not found"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                api.requests.append(f"GET {self.path}")
                status, body = api.answer(self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


__all__ = ["SERVED", "StandInAPI"]
