"""Where an environment runs: Docker Compose on one host (local development), a Kubernetes
namespace watched by the Prometheus Operator or a plain Prometheus, or plain processes on one
host (the Debian packages' way, and ``obs demo``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

from obs.model._base import Problems, _freeze_map, doc, key_of

#: RFC 1123 label: what Kubernetes accepts as a namespace name.
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
#: A Kubernetes label value (empty allowed).
_K8S_LABEL_VALUE = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?", re.ASCII)
#: A Kubernetes label key: optional DNS prefix, then a name.
_K8S_LABEL_KEY = re.compile(r"(?:[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?/)?[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?", re.ASCII)
#: An IANA_SVC_NAME: what a container port's name may be.
_PORT_NAME = re.compile(r"(?=.*[a-z])[a-z0-9](?:[a-z0-9-]{0,13}[a-z0-9])?", re.ASCII)


def check_labels(labels: Mapping[str, str], path: str, problems: Problems) -> None:
    for key, value in labels.items():
        if not isinstance(key, str) or not _K8S_LABEL_KEY.fullmatch(key):
            problems.add(f"{path}[{key_of(key)}]", f"{key!r} is not a Kubernetes label key", "e.g. 'app' or 'app.kubernetes.io/name'")
        if not isinstance(value, str) or not _K8S_LABEL_VALUE.fullmatch(value):
            problems.add(f"{path}[{key_of(key)}]", f"{value!r} is not a Kubernetes label value", "letters, digits, '-', '_', '.', at most 63")


def check_port_name(value: str, path: str, problems: Problems) -> None:
    if not isinstance(value, str) or not _PORT_NAME.fullmatch(value):
        problems.add(path, f"{value!r} is not a port name", "lower-case letters, digits and '-', at most 15, e.g. 'http' or 'metrics'")


@dataclass(frozen=True, slots=True)
class Compose:
    """The whole stack on one Docker host (``docker compose up``): local development."""

    type: ClassVar[str] = "compose"


@dataclass(frozen=True, slots=True)
class Kubernetes:
    """A namespace of a Kubernetes cluster, where Prometheus finds every pod of each service."""

    type: ClassVar[str] = "kubernetes"
    namespace: str = doc("The namespace the platform runs in, e.g. 'toolboxai-production'.", schema={"pattern": r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"})
    cluster: str = doc("Cluster name: the `cluster` external label that keeps clusters apart in a shared store.", default="")
    namespace_labels: Mapping[str, str] = doc("Labels of the Namespace, e.g. {environment: production}.", default_factory=dict)
    selector_label: str = doc("Pod label whose value is the service's name (how a service's pods are found).", default="app")
    port_name: str = doc("Container port name Prometheus scrapes on every pod.", default="http")
    prometheus: Literal["operator", "plain"] = doc(
        "operator: ServiceMonitor/PodMonitor/Probe/PrometheusRule objects for kube-prometheus-stack; "
        "plain: kubernetes_sd_configs in prometheus.yml.",
        default="operator",
    )
    stack_release: str = doc(
        "The `release` label kube-prometheus-stack selects monitors and rules by (its Helm release name).",
        default="kube-prometheus-stack",
    )
    stack_namespace: str = doc(
        "The namespace Prometheus, Alertmanager and Grafana run in (kube-prometheus-stack's, or plain "
        "Prometheus's): the Alertmanager configuration Secret and the Grafana ConfigMaps go there, where "
        "the operator and Grafana's sidecar read them.",
        default="monitoring",
        schema={"pattern": r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"},
    )

    def __post_init__(self) -> None:
        problems = Problems()
        if not isinstance(self.namespace, str) or not _DNS_LABEL.fullmatch(self.namespace):
            problems.add("runtime.namespace", f"{self.namespace!r} is not a namespace name", "lower-case letters, digits and '-', e.g. 'edu-prod'")
        if self.cluster and (not isinstance(self.cluster, str) or not _K8S_LABEL_VALUE.fullmatch(self.cluster)):
            problems.add("runtime.cluster", f"{self.cluster!r} is not a cluster name", "e.g. 'eu-west-1-prod'")
        object.__setattr__(self, "namespace_labels", _freeze_map(self.namespace_labels))
        check_labels(self.namespace_labels, "runtime.namespace_labels", problems)
        if not isinstance(self.selector_label, str) or not _K8S_LABEL_KEY.fullmatch(self.selector_label):
            problems.add("runtime.selector_label", f"{self.selector_label!r} is not a label key", "e.g. 'app'")
        check_port_name(self.port_name, "runtime.port_name", problems)
        if self.prometheus not in ("operator", "plain"):
            problems.add("runtime.prometheus", f"{self.prometheus!r} is not operator or plain", "use operator (kube-prometheus-stack) or plain")
        if not isinstance(self.stack_namespace, str) or not _DNS_LABEL.fullmatch(self.stack_namespace):
            problems.add("runtime.stack_namespace", f"{self.stack_namespace!r} is not a namespace name", "e.g. 'monitoring'")
        if not isinstance(self.stack_release, str) or not _K8S_LABEL_VALUE.fullmatch(self.stack_release) or not self.stack_release:
            problems.add("runtime.stack_release", f"{self.stack_release!r} is not a release name", "e.g. 'kube-prometheus-stack'")
        problems.done()


@dataclass(frozen=True, slots=True)
class Local:
    """Plain processes on one host (systemd units of the Debian packages, or ``obs demo``): every
    address is the environment's own, loopback included; no composite output is written."""

    type: ClassVar[str] = "local"


Runtime = Compose | Kubernetes | Local
RUNTIMES: tuple[type[Compose] | type[Kubernetes] | type[Local], ...] = (Compose, Kubernetes, Local)

__all__ = ["RUNTIMES", "Compose", "Kubernetes", "Local", "Runtime", "check_labels", "check_port_name"]

