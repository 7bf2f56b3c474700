"""Kubernetes: ``kubernetes/``, the folder an environment that runs on Kubernetes is applied from.

``kubectl apply -f build/<env>/kubernetes/`` and ``kubectl apply -k build/<env>/kubernetes/`` take
it as it is: one object per file (``00-namespace.yaml`` sorts first, so the namespace exists before
what goes in it), and the kustomization is the file ``Kustomization``, one of the three names
kustomize reads and the one ``kubectl apply -f`` skips (it reads ``*.yaml``, ``*.yml`` and
``*.json`` only, and would try to create a ``kustomization.yaml`` as an object). Helm values for
the charts that read these objects sit in ``helm/``, which ``kubectl apply -f`` (without ``-R``)
does not descend into.

In the application namespace: the Namespace with its labels; how Prometheus finds every pod (a
PodMonitor per instrumented service, a ServiceMonitor per exporter obs runs, a Probe per probed
URL, all with ``job``/``service``/``team`` set as on Compose); the rules as PrometheusRule objects,
one per rule file, carrying exactly the groups promtool tests; the exporters obs runs (postgres,
redis, blackbox) as locked-down Deployments with their Services and configuration; a
HorizontalPodAutoscaler per autoscaled service. In the stack's namespace, where the operator and
Grafana's sidecar read them: the Alertmanager configuration Secret and the Grafana datasource and
dashboard ConfigMaps (one per dashboard, in its team's folder).

With ``prometheus: plain`` the Prometheus Operator's kinds are left out: the Prometheus
configuration (pod discovery, :mod:`obs.scrape`) and the rule files come as ConfigMaps instead.

Everything is packaged from the finished artifacts of the other groups; nothing is rendered twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import PurePosixPath
from typing import Any

from obs import contract
from obs.artifacts import Artifact, RenderContext, Rendered
from obs.errors import RenderError
from obs.grafana import provisioning
from obs.images import IMAGES
from obs.kube import objects as k
from obs.kube.alertmanager import mounted_secrets
from obs.kube.base import SecretKey
from obs.kube.stack import adapter_chart_values, grafana_values, remote_write_spec, stack_values
from obs.model import Dependency, DependencyKind, Kubernetes, Service
from obs.renderers import alertmanager, exporters, prometheus
from obs.rules.rulefile import RULES_DIR
from obs.scaleout import agent_mode, replica_label
from obs.scrape import (
    EXPORTER_PORT_NAME,
    PROBE_JOB,
    cluster_address,
    deploys_blackbox,
    deploys_exporter,
    exporter_workload,
    pod_selector,
    port_name,
    probe_targets,
    prober_address,
    stack_fullname,
)
from obs.writer import dump_json, dump_yaml, header

DIR = "kubernetes"
KUSTOMIZATION_PATH = f"{DIR}/Kustomization"
NAMESPACE_PATH = f"{DIR}/00-namespace.yaml"
HELM_DIR = f"{DIR}/helm"
STACK_VALUES_PATH = f"{HELM_DIR}/kube-prometheus-stack.yaml"
GRAFANA_VALUES_PATH = f"{HELM_DIR}/grafana.yaml"
ADAPTER_VALUES_PATH = f"{HELM_DIR}/prometheus-adapter.yaml"
#: The per-pod request rate prometheus-adapter serves to the HorizontalPodAutoscalers.
#: Not ``<counter>_per_second``: prometheus-adapter's default rules already serve that name for
#: every ``*_total`` counter, and two rules serving one name make the adapter's answer ambiguous.
REQUESTS_PER_SECOND = "obs_requests_per_second"
REQUEST_COUNTER = contract.HTTP_SERVER_REQUESTS.name
#: Where the operator mounts the Secrets of a Prometheus's ``spec.secrets``.
PROMETHEUS_SECRETS_DIR = "/etc/prometheus/secrets"
CHECKSUM_ANNOTATION = "checksum/config"
#: Plain Prometheus: the ConfigMap of its rule files is ``<platform>-<env>`` and this.
PLAIN_RULES_SUFFIX = "-prometheus-rules"
BLACKBOX_CONFIG_DIR = "/etc/blackbox_exporter"
_EXPORTER_IMAGES = {DependencyKind.POSTGRES: IMAGES["postgres-exporter"], DependencyKind.REDIS: IMAGES["redis-exporter"]}


def _port(address: str) -> int:
    return int(address.rpartition(":")[2])


def object_path(obj: Mapping[str, Any]) -> str:
    """``kubernetes/<kind>-<name>.yaml``: one object per file, named so a listing reads like ``kubectl get``."""
    return f"{DIR}/{str(obj['kind']).lower()}-{obj['metadata']['name']}.yaml"


def token_secret(path: str) -> SecretKey:
    """The Secret a PodMonitor reads the metrics bearer token from, named by the service's token file.

    ``/etc/prometheus/secrets/<secret>/<key>`` (where the operator mounts a Prometheus's Secrets)
    is that Secret's key; any other path is a Secret named after the file, key ``token``.
    """
    parts = PurePosixPath(path).parts
    if len(parts) == 6 and PurePosixPath(*parts[:4]) == PurePosixPath(PROMETHEUS_SECRETS_DIR):
        return SecretKey(parts[4], parts[5])
    return SecretKey(PurePosixPath(path).name.lower().replace("_", "-"), "token")


def env_lines(text: str) -> dict[str, str]:
    """``KEY=value`` lines of an environment file (comments and blank lines skipped)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value
    return out


def quantity(value: float) -> str:
    """A Kubernetes quantity: ``50``, or ``12500m`` for 12.5."""
    return str(int(value)) if float(value).is_integer() else f"{round(value * 1000)}m"


def _checksum(*texts: str) -> str:
    return hashlib.sha256("\0".join(texts).encode()).hexdigest()


@dataclass
class _Folder:
    """The objects of one environment's folder, and the Helm values beside them."""

    ctx: RenderContext
    rendered: Rendered
    runtime: Kubernetes
    objects: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.files = {a.path: a.content for artifacts in self.rendered.values() for a in artifacts}
        platform, env = self.ctx.platform, self.ctx.env
        self.prefix = f"{platform.name}-{env.name}"
        self.labels = {"app.kubernetes.io/part-of": platform.name, "app.kubernetes.io/managed-by": "obs"}
        self.selected_by = k.stack_labels(self.runtime.stack_release)
        self.operator = self.runtime.prometheus == "operator"

    def need(self, path: str) -> Any:
        if path not in self.files:
            raise RenderError(f"kubernetes: {path} was not rendered, so it cannot be packaged")
        return self.files[path]

    # --- what Prometheus scrapes ---------------------------------------------------------------

    def monitors(self) -> Iterator[dict[str, Any]]:
        platform, env, ns = self.ctx.platform, self.ctx.env, self.runtime.namespace
        interval, labels, selected_by = env.scrape_interval, self.labels, self.selected_by
        for service in platform.instrumented_services:
            token = token_secret(service.metrics_token_file) if service.metrics_token_file else None
            yield k.pod_monitor(
                service.name, ns, selector=pod_selector(service, env), port=port_name(service, env), path=service.metrics_path,
                interval=interval, target_labels=_job_labels(service.name, service.name, service.team), bearer_token=token,
                labels=labels, selected_by=selected_by,
            )  # fmt: skip
        for dep in platform.dependencies:
            if not dep.kind.exporter:
                continue
            target = _job_labels(dep.name, dep.name, dep.team)
            if deploys_exporter(dep, env):
                yield k.service_monitor(
                    dep.name, ns, selector=k.selector_labels(exporter_workload(dep)), port=EXPORTER_PORT_NAME, interval=interval,
                    target_labels=target, labels=labels, selected_by=selected_by,
                )  # fmt: skip
            else:  # the team's own exporter pods, found by the environment's selector
                yield k.pod_monitor(
                    dep.name, ns, selector=pod_selector(dep, env), port=port_name(dep, env), interval=interval,
                    target_labels=target, labels=labels, selected_by=selected_by,
                )  # fmt: skip
        prober = prober_address(platform, env)
        for url, name, team in probe_targets(platform, env):
            yield k.probe(
                f"{PROBE_JOB}-{name}", ns, prober_url=prober, module=contract.BLACKBOX_HTTP_MODULE, targets=[url], job_name=PROBE_JOB,
                interval=interval, target_labels={contract.SERVICE_LABEL: name, contract.TEAM_LABEL: team}, labels=labels, selected_by=selected_by,
            )  # fmt: skip

    def rule_files(self) -> list[tuple[str, dict[str, Any]]]:
        """(name, content) of the rule files this environment's Prometheus evaluates (its
        ``rule_files``: every file, or the local ones when a metrics store's ruler runs the rest),
        as the rules group wrote them for promtool."""
        return evaluated_rule_files(self.need(prometheus.CONFIG_PATH), self.files)

    def rules(self) -> Iterator[dict[str, Any]]:
        ns = self.runtime.namespace
        for name, content in self.rule_files():
            yield k.prometheus_rule(f"{self.ctx.platform.name}-{name}", ns, content["groups"], labels=self.labels, selected_by=self.selected_by)

    def plain_prometheus(self) -> Iterator[dict[str, Any]]:
        """Plain Prometheus: its configuration and rule files as ConfigMaps (mount the rules at
        ``rules/`` beside ``prometheus.yml``, where its ``rule_files`` look)."""
        ns = self.runtime.stack_namespace
        config = dump_yaml(self.need(prometheus.CONFIG_PATH))
        yield _config_map(f"{self.prefix}-prometheus", ns, {"prometheus.yml": config}, self.labels)
        rules = {f"{name}.yml": dump_yaml(content) for name, content in self.rule_files()}
        yield _config_map(f"{self.prefix}{PLAIN_RULES_SUFFIX}", ns, rules, self.labels)

    # --- Alertmanager and Grafana, in the stack's namespace ------------------------------------

    def alertmanager_secret(self) -> dict[str, Any]:
        return k.alertmanager_secret(self.prefix, self.runtime.stack_namespace, dump_yaml(self.need(alertmanager.CONFIG_PATH)), labels=self.labels)

    def receiver_secrets(self) -> list[str]:
        try:
            return mounted_secrets(self.need(alertmanager.CONFIG_PATH))
        except ValueError as exc:
            raise RenderError(f"kubernetes: {exc}") from None

    def datasources_text(self) -> str:
        return dump_yaml(self.need(provisioning.DATASOURCES_PATH))

    def grafana(self) -> Iterator[dict[str, Any]]:
        ns = self.runtime.stack_namespace
        yield k.grafana_datasources_configmap(f"{self.prefix}-grafana-datasources", ns, {f"obs-{self.prefix}.yaml": self.datasources_text()}, labels=self.labels)
        root = PurePosixPath(provisioning.DASHBOARDS_DIR)
        for path, content in sorted(self.files.items()):
            file = PurePosixPath(path)
            if file.suffix == ".json" and file.parent.parent == root:
                # One ConfigMap per dashboard: kubectl apply keeps a copy in a 256 KiB annotation.
                team, uid = file.parent.name, file.stem
                yield k.grafana_dashboards_configmap(f"{self.prefix}-dashboard-{uid}", ns, {file.name: dump_json(content)}, folder=team, labels=self.labels)

    # --- exporters -----------------------------------------------------------------------------

    def exporter(self, dep: Dependency) -> Iterator[dict[str, Any]]:
        ns, name = self.runtime.namespace, exporter_workload(dep)
        settings = env_lines(self.need(f"exporters/{dep.kind.value}/{dep.name}.env"))
        port = _port(dep.exporter_address)
        for key in settings:
            if key.endswith("WEB_LISTEN_ADDRESS"):
                # A pod has its own network: listen on every interface of it (the Service's name is
                # not an address of the pod, it cannot be bound).
                settings[key] = f":{port}"
        secret_dir = exporters.SECRETS_DIR + "/"
        secret_keys = sorted(PurePosixPath(v).name for v in settings.values() if v.startswith(secret_dir))
        config_maps: dict[str, str] = {}
        checksum = ""
        if dep.kind is DependencyKind.POSTGRES:
            queries = dump_yaml(self.need(exporters.POSTGRES_QUERIES_PATH))
            yield _config_map(f"{name}-queries", ns, {PurePosixPath(exporters.POSTGRES_QUERIES_MOUNT).name: queries}, self.labels)
            config_maps[f"{name}-queries"] = str(PurePosixPath(exporters.POSTGRES_QUERIES_MOUNT).parent)
            checksum = _checksum(queries)
        yield k.exporter_deployment(
            name, ns, image=_EXPORTER_IMAGES[dep.kind], port=port, port_name=EXPORTER_PORT_NAME, env=settings,
            config_maps=config_maps, secrets={name: exporters.SECRETS_DIR} if secret_keys else {},
            pod_annotations={CHECKSUM_ANNOTATION: checksum} if checksum else {}, labels=self.labels,
        )  # fmt: skip
        yield k.exporter_service(name, ns, port=port, port_name=EXPORTER_PORT_NAME, labels=self.labels)

    def blackbox(self) -> Iterator[dict[str, Any]]:
        platform, ns = self.ctx.platform, self.runtime.namespace
        host, _, port_text = platform.blackbox_address.rpartition(":")
        config = dump_yaml(self.need(exporters.BLACKBOX_PATH))
        yield _config_map(host, ns, {"blackbox.yml": config}, self.labels)
        yield k.exporter_deployment(
            host, ns, image=IMAGES["blackbox-exporter"], port=int(port_text), port_name=EXPORTER_PORT_NAME, probe_path="/-/healthy",
            args=[f"--config.file={BLACKBOX_CONFIG_DIR}/blackbox.yml", f"--web.listen-address=:{port_text}"],
            config_maps={host: BLACKBOX_CONFIG_DIR}, pod_annotations={CHECKSUM_ANNOTATION: _checksum(config)}, labels=self.labels,
        )  # fmt: skip
        yield k.exporter_service(host, ns, port=int(port_text), port_name=EXPORTER_PORT_NAME, labels=self.labels)

    # --- autoscaling ---------------------------------------------------------------------------

    def autoscaled(self) -> list[tuple[Service, Any]]:
        out = []
        for service in self.ctx.platform.services:
            override = self.ctx.env.overrides.get(service.name)
            scaling = (override.autoscaling if override else None) or service.autoscaling
            if scaling is not None:
                if scaling.requests_per_pod is not None and not service.kind.instrumented:
                    raise RenderError(
                        f"kubernetes: services[{service.name}].autoscaling.requests_per_pod: a {service.kind} service exports no "
                        "request counter to scale on; remove requests_per_pod (CPU only) or instrument the service"
                    )
                out.append((service, scaling))
        return out

    def autoscalers(self) -> Iterator[dict[str, Any]]:
        for service, scaling in self.autoscaled():
            per_pod = scaling.requests_per_pod
            yield k.horizontal_pod_autoscaler(
                service.name, self.runtime.namespace, deployment=service.name, min_replicas=scaling.min_replicas,
                max_replicas=scaling.max_replicas, cpu_utilization=scaling.cpu_percent,
                pods_metric=REQUESTS_PER_SECOND if per_pod is not None else None, pods_target=quantity(per_pod or 1), labels=self.labels,
            )  # fmt: skip

    def adapter_values(self) -> dict[str, Any] | None:
        if not any(s.requests_per_pod is not None for _, s in self.autoscaled()):
            return None
        if self.operator:
            host, port = f"{stack_fullname(self.runtime.stack_release)}-prometheus.{self.runtime.stack_namespace}.svc", 9090
        else:
            address = cluster_address(self.ctx.platform.prometheus_address, self.runtime.stack_namespace)
            host, port = address.rpartition(":")[0], _port(address)
        window = "2m"  # four scrapes at 30s: a rate over fewer points jumps with every scrape
        return adapter_chart_values(f"http://{host}", [k.adapter_rate_rule(REQUEST_COUNTER, REQUESTS_PER_SECOND, window=window)], port=port)

    # --- the folder ----------------------------------------------------------------------------

    def all_objects(self) -> list[dict[str, Any]]:
        platform, env = self.ctx.platform, self.ctx.env
        out: list[dict[str, Any]] = []
        if self.operator:
            out += self.monitors()
            out += self.rules()
        else:
            out += self.plain_prometheus()
        self.receiver_secrets()  # every secret file where the operator mounts Secrets, or stop here
        out.append(self.alertmanager_secret())
        out += self.grafana()
        for dep in platform.dependencies:
            if deploys_exporter(dep, env):
                out += self.exporter(dep)
        if probe_targets(platform, env) and deploys_blackbox(platform):
            out += self.blackbox()
        out += self.autoscalers()
        return out

    def values(self) -> Iterator[Artifact]:
        datasource_vars = provisioning.env_references(self.datasources_text())
        env_secret = f"{self.prefix}-grafana-env" if datasource_vars else ""
        if self.operator:
            config = self.need(prometheus.CONFIG_PATH)
            settings = config.get("global") or {}
            platform, env = self.ctx.platform, self.ctx.env
            yield Artifact(
                STACK_VALUES_PATH,
                stack_values(
                    alertmanager_secret=self.alertmanager_secret()["metadata"]["name"],
                    receiver_secrets=self.receiver_secrets(),
                    # A value read from the environment at start (an HA pair's replica name) is the
                    # operator's to set: it labels each replica itself.
                    external_labels={k: v for k, v in (settings.get("external_labels") or {}).items() if "$" not in str(v)},
                    scrape_interval=settings.get("scrape_interval", ""),
                    evaluation_interval=settings.get("evaluation_interval", ""),
                    grafana_env_secret=env_secret,
                    prometheus_url=env.prometheus_url,
                    alertmanager_url=platform.alertmanager_url,
                    replicas=env.prometheus_replicas,
                    replica_label=replica_label(platform.metrics_store),
                    remote_write=[remote_write_spec(entry, token_secret) for entry in config.get("remote_write") or ()],
                    agent_mode=agent_mode(platform),
                ),
            )
        else:
            yield Artifact(GRAFANA_VALUES_PATH, grafana_values(env_secret=env_secret))
        adapter = self.adapter_values()
        if adapter is not None:
            yield Artifact(ADAPTER_VALUES_PATH, adapter)

    def artifacts(self) -> Iterator[Artifact]:
        runtime = self.runtime
        namespace = k.namespace(runtime.namespace, {**self.labels, **runtime.namespace_labels})
        yield Artifact(NAMESPACE_PATH, namespace)
        paths: dict[str, dict[str, Any]] = {}
        for obj in self.all_objects():
            path = object_path(obj)
            if path in paths:
                raise RenderError(f"kubernetes: two objects want {path} ({obj['kind']} {obj['metadata']['name']}): rename one of the components")
            paths[path] = obj
        for path, obj in sorted(paths.items()):
            yield Artifact(path, obj)
        resources = [PurePosixPath(p).name for p in (NAMESPACE_PATH, *sorted(paths))]
        source = f"platform {self.ctx.platform.name!r}, environment {self.ctx.env.name!r}"
        # No suffix, so the writer adds no header: the comment is part of the text.
        yield Artifact(KUSTOMIZATION_PATH, f"# {header(source)}\n" + dump_yaml(k.kustomization(resources)))
        yield from self.values()


def evaluated_rule_files(config: Mapping[str, Any], files: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(name, content) of the rule files of ``files`` (path -> content) that the Prometheus
    configuration ``config`` loads (its ``rule_files`` globs, relative to ``prometheus/``)."""
    base = PurePosixPath(prometheus.CONFIG_PATH).parent
    globs = [str(base / pattern) for pattern in config.get("rule_files") or []]
    return sorted(
        (PurePosixPath(path).stem, content)
        for path, content in files.items()
        if PurePosixPath(path).parent == PurePosixPath(RULES_DIR) and any(fnmatchcase(path, g) for g in globs)
    )


def _job_labels(job: str, service: str, team: str) -> dict[str, str]:
    """The labels every target of a job gets, as the Compose configuration gives them."""
    return {"job": job, contract.SERVICE_LABEL: service, contract.TEAM_LABEL: team}


def _config_map(name: str, namespace: str, data: Mapping[str, str], labels: Mapping[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": k.object_meta(name, namespace, labels), "data": dict(sorted(data.items()))}


def render(ctx: RenderContext, rendered: Rendered) -> Iterable[Artifact]:
    """The Kubernetes folder of an environment that runs on Kubernetes; nothing for the others."""
    if not isinstance(ctx.env.runtime, Kubernetes):
        return
    yield from _Folder(ctx, rendered, ctx.env.runtime).artifacts()


def object_files(artifacts: Sequence[Artifact]) -> list[Artifact]:
    """The artifacts that are Kubernetes objects (not the kustomization, not Helm values)."""
    return [a for a in artifacts if PurePosixPath(a.path).parent == PurePosixPath(DIR) and a.path.endswith(".yaml")]


__all__ = [
    "ADAPTER_VALUES_PATH",
    "DIR",
    "PLAIN_RULES_SUFFIX",
    "GRAFANA_VALUES_PATH",
    "KUSTOMIZATION_PATH",
    "NAMESPACE_PATH",
    "REQUESTS_PER_SECOND",
    "STACK_VALUES_PATH",
    "env_lines",
    "evaluated_rule_files",
    "object_files",
    "object_path",
    "quantity",
    "render",
    "token_secret",
]
