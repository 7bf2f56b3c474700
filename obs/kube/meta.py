"""What the API server rejects that no schema says: names, label syntax, port names, sizes.

The rules are those of k8s.io/apimachinery's validation (DNS-1123 names, qualified label keys,
IANA service names for container ports) and the limits people meet on a real cluster: a ConfigMap
holds at most 1 MiB, and ``kubectl apply`` (client side) keeps the whole object in an annotation
limited to 256 KiB, which is where large Grafana dashboards usually fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from obs.kube.schemas import Problem, format_path

_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = re.compile(rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_PORT_NAME = re.compile(r"[-a-z0-9]+")

#: kubectl apply (client side) stores the object in this annotation; annotations total at most 256 KiB.
LAST_APPLIED_LIMIT = 262_144
#: etcd's request limit as the API server applies it to ConfigMap and Secret data.
CONFIG_DATA_LIMIT = 1_048_576

_WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def name_problem(kind: str, name: str) -> str | None:
    """Why ``name`` cannot name a ``kind``, or None."""
    if kind == "Namespace":
        ok, rule = len(name) <= 63 and re.fullmatch(_DNS1123_LABEL, name), "a DNS-1123 label (lower case letters, digits, '-'; at most 63)"
    elif kind == "Service":
        ok, rule = len(name) <= 63 and _DNS1035_LABEL.fullmatch(name), "a DNS-1035 label (starts with a letter; lower case letters, digits, '-'; at most 63)"
    else:
        ok, rule = len(name) <= 253 and _DNS1123_SUBDOMAIN.fullmatch(name), "a DNS-1123 subdomain (lower case letters, digits, '-', '.'; at most 253)"
    return None if ok else f"{name!r} is not {rule}"


def key_problem(key: str) -> str | None:
    """Why ``key`` is not a label or annotation key (``[prefix/]name``), or None."""
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix)):
        return f"key {key!r}: prefix {prefix!r} is not a DNS-1123 subdomain"
    if len(name) > 63 or not _QUALIFIED_NAME.fullmatch(name):
        return f"key {key!r}: name part must be at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric"
    return None


def label_value_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"label value {value!r} must be a string (quote it in YAML)"
    if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        return f"label value {value!r} must be at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric"
    return None


def port_name_problem(name: str) -> str | None:
    """IANA_SVC_NAME, what container port names (and so ServiceMonitor ports) must be."""
    ok = (
        0 < len(name) <= 15
        and _PORT_NAME.fullmatch(name)
        and re.search("[a-z]", name)
        and not name.startswith("-")
        and not name.endswith("-")
        and "--" not in name
    )
    return None if ok else f"port name {name!r} must be 1 to 15 lower case letters, digits and single inner '-', with a letter"


def _metadata(obj: Mapping[str, Any]) -> Iterator[Problem]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        yield "metadata", "required field is missing"
        return
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        yield "metadata.name", "required field is missing (kubectl apply needs a name)"
    elif problem := name_problem(str(obj.get("kind")), name):
        yield "metadata.name", problem
    namespace = meta.get("namespace")
    if isinstance(namespace, str) and (problem := name_problem("Namespace", namespace)):
        yield "metadata.namespace", problem
    for field in ("labels", "annotations"):
        values = meta.get(field)
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            path = format_path(("metadata", field, key))
            if problem := key_problem(str(key)):
                yield path, problem
            if field == "labels" and (problem := label_value_problem(value)):
                yield path, problem
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        size = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
        if size > LAST_APPLIED_LIMIT:
            yield "metadata.annotations", f"{size} bytes; annotations may hold at most {LAST_APPLIED_LIMIT}"


def _container_ports(obj: Mapping[str, Any]) -> Iterator[Problem]:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    pod_spec, prefix = (spec, ("spec",)) if obj.get("kind") == "Pod" else (spec.get("template", {}).get("spec"), ("spec", "template", "spec"))
    if not isinstance(pod_spec, dict):
        return
    for field in ("initContainers", "containers"):
        for i, container in enumerate(pod_spec.get(field) or []):
            for j, port in enumerate((container or {}).get("ports") or []):
                name = (port or {}).get("name")
                if isinstance(name, str) and (problem := port_name_problem(name)):
                    yield format_path((*prefix, field, i, "ports", j, "name")), problem


def _config_data(obj: Mapping[str, Any]) -> Iterator[Problem]:
    size = 0
    for field in ("data", "binaryData", "stringData"):
        values = obj.get(field)
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            if len(key) > 253 or not _CONFIG_KEY.fullmatch(key) or key in (".", "..") or key.startswith(".."):
                yield format_path((field, key)), f"key {key!r} must be letters, digits, '-', '_' or '.' (a file name)"
            size += len(str(key)) + len(str(value).encode())
    if size > CONFIG_DATA_LIMIT:
        yield "data", f"{size} bytes; a {obj.get('kind')} holds at most {CONFIG_DATA_LIMIT}: split it"


def object_problems(obj: Mapping[str, Any]) -> list[Problem]:
    """Every problem of ``obj`` that the API server or ``kubectl apply`` reports and no schema catches."""
    problems = list(_metadata(obj))
    if obj.get("kind") in _WORKLOAD_KINDS or obj.get("kind") == "Pod":
        problems.extend(_container_ports(obj))
    if obj.get("kind") in ("ConfigMap", "Secret"):
        problems.extend(_config_data(obj))
    size = len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode())
    if size > LAST_APPLIED_LIMIT:
        problems.append(
            (
                "<root>",
                f"{size} bytes: kubectl apply keeps the object in its last-applied-configuration annotation, at most {LAST_APPLIED_LIMIT} bytes (split it, or apply with --server-side)",
            )
        )
    return problems


__all__ = ["CONFIG_DATA_LIMIT", "LAST_APPLIED_LIMIT", "key_problem", "label_value_problem", "name_problem", "object_problems", "port_name_problem"]
