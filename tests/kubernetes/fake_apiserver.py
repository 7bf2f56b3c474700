"""A stand-in Kubernetes API server on 127.0.0.1, enough for a scraper's ``kubernetes_sd_configs``.

What clients ask, for the roles ``pod``, ``service``, ``endpoints`` and ``endpointslice``:

- Prometheus 2.42 (read from its v2.42.0 source; client-go 0.26.1 informers): a list
  ``?limit=500&resourceVersion=0`` then a watch
  ``?allowWatchBookmarks=true&resourceVersion=<listed>&timeoutSeconds=<300..600>&watch=true``, both
  with ``labelSelector``/``fieldSelector`` from the job's ``selectors``; role ``endpointslice``
  first reads ``/version`` (discovery.k8s.io/v1 from Kubernetes 1.21 on). It asks for protobuf and
  decodes JSON answers by their Content-Type.
- VictoriaMetrics 1.79 (observed): a plain list, then
  ``?watch=1&allowWatchBookmarks=true&timeoutSeconds=1620&resourceVersion=<listed>``.

Lists carry a ``resourceVersion``; a watch from it streams chunked JSON lines
(``{"type": "ADDED", "object": {...}}``) and stays open until the pod set changes, the client's
``timeoutSeconds`` pass or the server stops; ``resourceVersion=0`` starts with the current objects.
``labelSelector`` (``a=b,c=d``) is honoured. ``/version``, ``/api``, ``/apis`` and the group
resource lists answer too.

A test sets the pods of an app (``set_pods("prod", "backend", pods)``): each new pod is an ADDED
event, each changed one MODIFIED, each gone one DELETED, and the app's Service gets matching
Endpoints and EndpointSlice objects. ``requests`` records every request line.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

KUBERNETES_VERSION = {"major": "1", "minor": "37", "gitVersion": "v1.37.0", "platform": "linux/amd64"}
CORE = "/api/v1"
DISCOVERY = "/apis/discovery.k8s.io/v1"
# (API prefix, resource plural) -> kind; the list kind is the kind + "List".
RESOURCES = {
    (CORE, "pods"): "Pod",
    (CORE, "services"): "Service",
    (CORE, "endpoints"): "Endpoints",
    (CORE, "namespaces"): "Namespace",
    (CORE, "nodes"): "Node",
    (DISCOVERY, "endpointslices"): "EndpointSlice",
}
_CLUSTER_SCOPED = {"namespaces", "nodes"}
# How long a watch waits for news before it checks whether it should end.
_WATCH_POLL = 0.2


@dataclass(frozen=True, slots=True)
class FakePod:
    """One pod of an app: its IP and the container port Prometheus should scrape."""

    name: str
    ip: str
    port: int
    port_name: str = "http"
    phase: str = "Running"
    extra_labels: tuple[tuple[str, str], ...] = ()


@dataclass(slots=True)
class _Event:
    version: int
    resource: tuple[str, str]
    type: str
    obj: dict[str, Any]


@dataclass(slots=True)
class _State:
    version: int = 1
    objects: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = field(default_factory=dict)
    events: list[_Event] = field(default_factory=list)


def _matches(obj: dict[str, Any], selector: str) -> bool:
    labels = obj.get("metadata", {}).get("labels", {})
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key.rstrip("=!")) != value.lstrip("="):
            return False
    return True


class FakeKubernetes:
    """``with FakeKubernetes() as api: api.set_pods(...); ... api.url``."""

    def __init__(self) -> None:
        self._state = _State()
        self._changed = threading.Condition()
        self._stopping = threading.Event()
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeKubernetes:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """End every watch, stop serving and close the socket."""
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- what the test controls -----------------------------------------------------------------

    def _put(self, resource: tuple[str, str], obj: dict[str, Any] | None, key: tuple[str, str]) -> None:
        """Store (or with None delete) one object and record the event; the caller holds the lock."""
        objects = self._state.objects.setdefault(resource, {})
        old = objects.get(key)
        if obj is None:
            if old is None:
                return
            del objects[key]
            self._state.version += 1
            gone = {**old, "metadata": {**old["metadata"], "resourceVersion": str(self._state.version)}}
            self._state.events.append(_Event(self._state.version, resource, "DELETED", gone))
            return
        if old is not None and {**old, "metadata": {**old["metadata"], "resourceVersion": ""}} == {
            **obj,
            "metadata": {**obj["metadata"], "resourceVersion": ""},
        }:
            return
        self._state.version += 1
        obj["metadata"]["resourceVersion"] = str(self._state.version)
        objects[key] = obj
        self._state.events.append(_Event(self._state.version, resource, "MODIFIED" if old else "ADDED", obj))

    def add_namespace(self, name: str) -> None:
        with self._changed:
            self._put((CORE, "namespaces"), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "uid": f"ns-{name}"}}, ("", name))
            self._changed.notify_all()

    def set_pods(self, namespace: str, app: str, pods: Sequence[FakePod], *, service_port: int | None = None) -> None:
        """The pods labelled ``app=<app>`` in ``namespace`` are now exactly ``pods``; the Service
        ``<app>`` (created on first use) and its Endpoints and EndpointSlice follow them."""
        with self._changed:
            pod_objects = {(namespace, p.name): _pod(namespace, app, p) for p in pods}
            for key in [k for k, o in self._state.objects.get((CORE, "pods"), {}).items() if k[0] == namespace and _matches(o, f"app={app}")]:
                if key not in pod_objects:
                    self._put((CORE, "pods"), None, key)
            for key, obj in pod_objects.items():
                self._put((CORE, "pods"), obj, key)
            port_name = pods[0].port_name if pods else "http"
            port = service_port or (pods[0].port if pods else 80)
            self._put((CORE, "services"), _service(namespace, app, port_name, port), (namespace, app))
            self._put((CORE, "endpoints"), _endpoints(namespace, app, pods), (namespace, app))
            self._put((DISCOVERY, "endpointslices"), _endpoint_slice(namespace, app, pods), (namespace, f"{app}-slice"))
            self._changed.notify_all()

    # -- what the server answers ----------------------------------------------------------------

    def _list(self, resource: tuple[str, str], namespace: str | None, selector: str) -> tuple[int, list[dict[str, Any]]]:
        with self._changed:
            items = [
                o
                for (ns, _), o in sorted(self._state.objects.get(resource, {}).items())
                if (namespace is None or ns == namespace) and _matches(o, selector)
            ]
            return self._state.version, items

    def _watch(self, resource: tuple[str, str], namespace: str | None, selector: str, since: int, deadline: float) -> Iterator[dict[str, Any]]:
        """Events after ``since`` as they happen, until ``deadline`` or the server stops."""
        if since == 0:  # "any version": the current objects first, as the API server does
            since, items = self._list(resource, namespace, selector)
            yield from ({"type": "ADDED", "object": o} for o in items)
        while not self._stopping.is_set() and time.monotonic() < deadline:
            with self._changed:
                news = [e for e in self._state.events if e.version > since and e.resource == resource]
                if not news:
                    self._changed.wait(_WATCH_POLL)
                    continue
            since = news[-1].version
            for event in news:
                ns = event.obj["metadata"].get("namespace", "")
                if (namespace is None or ns == namespace) and _matches(event.obj, selector):
                    yield {"type": event.type, "object": event.obj}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test reads api.requests instead of stderr

            def do_GET(self) -> None:
                api.requests.append(self.path)
                # The client may go away mid-answer (a scraper stopping): nothing is left to answer.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    api._answer(self)

        return Handler

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        static = _discovery(url.path, self.url)
        if static is not None:
            _send_json(handler, 200, static)
            return
        route = _route(url.path)
        if route is None:
            _send_json(handler, 404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": f"{url.path} not found"})
            return
        resource, namespace = route
        selector = query.get("labelSelector", "")
        if query.get("watch") in ("true", "1"):
            since = int(query.get("resourceVersion") or 0)
            timeout = float(query.get("timeoutSeconds") or 300)
            self._stream(handler, self._watch(resource, namespace, selector, since, time.monotonic() + timeout))
            return
        version, items = self._list(resource, namespace, selector)
        kind = RESOURCES[resource]
        api_version = "v1" if resource[0] == CORE else "discovery.k8s.io/v1"
        _send_json(handler, 200, {"kind": f"{kind}List", "apiVersion": api_version, "metadata": {"resourceVersion": str(version)}, "items": items})

    def _stream(self, handler: BaseHTTPRequestHandler, events: Iterator[dict[str, Any]]) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        handler.wfile.flush()
        for event in events:
            line = json.dumps(event).encode() + b"\n"
            handler.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            handler.wfile.flush()
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()


def _send_json(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def _route(path: str) -> tuple[tuple[str, str], str | None] | None:
    """(resource, namespace or None for all) of a list/watch path."""
    for prefix in (CORE, DISCOVERY):
        if not path.startswith(prefix + "/"):
            continue
        parts = path[len(prefix) + 1 :].strip("/").split("/")
        if len(parts) == 3 and parts[0] == "namespaces" and (prefix, parts[2]) in RESOURCES:
            return (prefix, parts[2]), parts[1]
        if len(parts) == 1 and (prefix, parts[0]) in RESOURCES:
            return (prefix, parts[0]), None
    return None


def _resource_list(prefix: str, group_version: str) -> dict[str, Any]:
    resources = [
        {"name": plural, "singularName": kind.lower(), "namespaced": plural not in _CLUSTER_SCOPED, "kind": kind, "verbs": ["get", "list", "watch"]}
        for (p, plural), kind in RESOURCES.items()
        if p == prefix
    ]
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


def _discovery(path: str, url: str) -> dict[str, Any] | None:
    version = {"groupVersion": "discovery.k8s.io/v1", "version": "v1"}
    group = {"name": "discovery.k8s.io", "versions": [version], "preferredVersion": version}
    answers: dict[str, dict[str, Any]] = {
        "/version": KUBERNETES_VERSION,
        "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": url.removeprefix("http://")}]},
        "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [group]},
        CORE: _resource_list(CORE, "v1"),
        DISCOVERY: _resource_list(DISCOVERY, "discovery.k8s.io/v1"),
    }
    return answers.get(path.rstrip("/") or "/")


def _meta(namespace: str, name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}", "labels": labels, "creationTimestamp": "2026-01-01T00:00:00Z", "resourceVersion": ""}


def _pod(namespace: str, app: str, pod: FakePod) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": _meta(namespace, pod.name, {"app": app, **dict(pod.extra_labels)}),
        "spec": {
            "nodeName": "node-1",
            "containers": [{"name": app, "image": f"{app}:1", "ports": [{"name": pod.port_name, "containerPort": pod.port, "protocol": "TCP"}]}],
        },
        "status": {
            "phase": pod.phase,
            "hostIP": "127.0.0.1",
            "podIP": pod.ip,
            "podIPs": [{"ip": pod.ip}],
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": app, "ready": True, "restartCount": 0, "image": f"{app}:1", "imageID": "", "containerID": f"containerd://{pod.name}"}],
        },
    }


def _service(namespace: str, app: str, port_name: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(namespace, app, {"app": app}),
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "selector": {"app": app}, "ports": [{"name": port_name, "port": port, "targetPort": port_name, "protocol": "TCP"}]},
    }


def _target(namespace: str, pod: FakePod) -> dict[str, str]:
    return {"kind": "Pod", "name": pod.name, "namespace": namespace, "uid": f"uid-{namespace}-{pod.name}"}


def _endpoints(namespace: str, app: str, pods: Sequence[FakePod]) -> dict[str, Any]:
    subsets = []
    for port in sorted({(p.port_name, p.port) for p in pods}):
        addresses = [{"ip": p.ip, "nodeName": "node-1", "targetRef": _target(namespace, p)} for p in pods if (p.port_name, p.port) == port]
        subsets.append({"addresses": addresses, "ports": [{"name": port[0], "port": port[1], "protocol": "TCP"}]})
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": _meta(namespace, app, {"app": app}), "subsets": subsets}


def _endpoint_slice(namespace: str, app: str, pods: Sequence[FakePod]) -> dict[str, Any]:
    ports = sorted({(p.port_name, p.port) for p in pods})
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": _meta(namespace, f"{app}-slice", {"app": app, "kubernetes.io/service-name": app}),
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": [p.ip], "conditions": {"ready": True, "serving": True, "terminating": False}, "nodeName": "node-1", "targetRef": _target(namespace, p)}
            for p in pods
        ],
        "ports": [{"name": name, "port": port, "protocol": "TCP"} for name, port in ports],
    }
