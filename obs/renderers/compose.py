"""A Docker Compose file per environment that runs the whole generated stack on one Docker host.

Prometheus, Alertmanager, Grafana, Jaeger v2, the OpenTelemetry Collector, Elasticsearch,
Logstash, Kibana, Fluentd and the exporters each mount the files the other groups write beside
this one (``../prometheus/prometheus.yml``, ...). Nothing here is a second copy of something
another module decides: paths come from the other renderers' artifacts, hostnames and ports from
the model's URLs and addresses and from the rendered configs (the Prometheus scrape targets, the
collectors' listen endpoints), and every credential file a config names becomes a Compose secret
read from ``$OBS_SECRETS_DIR``. A scrape target with no service to answer it fails the render.

What the stack cannot run (the platform's own services, the databases the exporters watch) is
listed under ``x-obs-application-targets``: those containers join the network named
``obs-<platform>-<env>`` under the host names the model gives them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlparse

import yaml

from obs.artifacts import Artifact, RenderContext, Rendered
from obs.errors import RenderError
from obs.formats.conventions import OTLP_GRPC_PORT, OTLP_HTTP_PORT
from obs.grafana import provisioning
from obs.images import IMAGES
from obs.model import Compose, Dependency, DependencyKind, Environment, Platform
from obs.renderers import (
    alertmanager,
    elasticsearch,
    exporters,
    fluentd,
    jaeger,
    kibana,
    logstash,
    otel_collector,
    prometheus,
)

COMPOSE_PATH = "compose/docker-compose.yaml"
SCHEMA = "compose-spec"
NETWORK = "obs"
#: Where the user keeps the secret files; required, so a missing folder stops ``docker compose``.
SECRETS_DIR_VAR = "OBS_SECRETS_DIR"
SECRETS_SOURCE = f"${{{SECRETS_DIR_VAR}:?set {SECRETS_DIR_VAR} to the folder holding the secret files, see docs/compose.md}}"
APPLICATION_TARGETS_KEY = "x-obs-application-targets"
LIMITATIONS_KEY = "x-obs-limitations"
#: Host paths outside the build that a service may mount (node_exporter reads the host's filesystems).
HOST_PATHS: frozenset[str] = frozenset({"/"})
#: Ports of servers the model has no URL for: the images' own defaults.
GRAFANA_DEFAULT_PORT = 3000
KIBANA_PORT = 5601
ELASTICSEARCH_DEFAULT_PORT = 9200
#: Where each image reads its configuration (the images' conventions, not obs's).
PROMETHEUS_DIR = "/etc/prometheus"
ALERTMANAGER_CONFIG = "/etc/alertmanager/alertmanager.yml"
GRAFANA_PROVISIONING = "/etc/grafana/provisioning"
JAEGER_CONFIG = "/etc/jaeger/config.yaml"
COLLECTOR_CONFIG = "/etc/otelcol-contrib/config.yaml"
LOGSTASH_CONFIG_DIR = "/usr/share/logstash/config"
FLUENTD_CONFIG = "/fluentd/etc/fluent.conf"
BLACKBOX_CONFIG = "/etc/blackbox_exporter/config.yml"
SETUP_DIR = "/setup"
GRAFANA_ADMIN_SECRET = "grafana-admin-password"

_LISTEN = re.compile(r"^(?:0\.0\.0\.0|\$\{env:HOSTNAME\}):(\d+)$")
_ENV_LINE = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")


def _url_host_port(url: str, default_port: int) -> tuple[str, int]:
    parsed = urlparse(url)
    if not parsed.hostname:
        raise RenderError(f"compose: {url!r} has no host name")
    return parsed.hostname, parsed.port or (default_port if parsed.scheme == "http" else 443)


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise RenderError(f"compose: {address!r} is not host:port")
    return host, int(port)


#: Days Prometheus keeps beyond the longest SLO window (its default, 15 days, is shorter than a 28-
#: or 30-day window: sum_over_time over the window would cover half of it, without any sign).
RETENTION_MARGIN_DAYS = 5
#: Prometheus's own default retention, kept when no SLO needs more.
DEFAULT_RETENTION_DAYS = 15


def prometheus_retention_days(platform: Platform) -> int:
    """Days of TSDB retention: the longest SLO window plus a margin, at least Prometheus's default."""
    windows = [slo.window_seconds for service in platform.services for slo in service.slos]
    longest = -(-max(windows, default=0) // 86400)  # whole days, rounded up
    return max(DEFAULT_RETENTION_DAYS, longest + RETENTION_MARGIN_DAYS)


def _bind(path: str, target: str) -> dict[str, Any]:
    """A read-only bind mount of a file or folder another group writes (``path`` is relative to
    the environment's output folder; the compose file sits one level down)."""
    return {"type": "bind", "source": f"../{path}", "target": target, "read_only": True}


def _volume(name: str, target: str) -> dict[str, Any]:
    return {"type": "volume", "source": name, "target": target}


def _healthy(*names: str) -> dict[str, Any]:
    return {name: {"condition": "service_healthy"} for name in names}


def _completed(*names: str) -> dict[str, Any]:
    return {name: {"condition": "service_completed_successfully"} for name in names}


def _after_index_templates() -> dict[str, Any]:
    """What a log writer (logstash, fluentd) waits for: Elasticsearch, and the templates in it. A
    stream written before its template is made from the built-in logs-*-* template (dynamic
    mappings, a policy that never deletes) and stays so."""
    return {**_healthy("elasticsearch"), **_completed("elasticsearch-setup")}


def _started(*names: str) -> dict[str, Any]:
    return {name: {"condition": "service_started"} for name in names}


def _collect(config: Any, pick: Callable[[Any, Any], str | None]) -> set[str]:
    """What ``pick(key, value)`` returns for every mapping entry anywhere in ``config`` (None: skip)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                picked = pick(key, value)
                if picked is not None:
                    found.add(picked)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(config)
    return found


def _listen_ports(config: Any) -> list[int]:
    """Ports a collector-style config listens on (``endpoint: ${env:HOSTNAME}:<port>`` anywhere in it)."""

    def port(key: Any, value: Any) -> str | None:
        m = _LISTEN.match(value) if key == "endpoint" and isinstance(value, str) else None
        return m.group(1) if m else None

    return sorted(int(p) for p in _collect(config, port))


def credential_files(config: Any) -> list[str]:
    """Absolute paths a Prometheus/Alertmanager config reads secrets from (every ``*_file`` key)."""

    def path(key: Any, value: Any) -> str | None:
        is_file_key = isinstance(key, str) and key.endswith("_file")
        return value if is_file_key and isinstance(value, str) and value.startswith("/") else None

    return sorted(_collect(config, path))


def env_file_secrets(text: str) -> list[str]:
    """Absolute paths an exporter's env file reads secrets from (``*_FILE=/path``)."""
    out = []
    for line in text.splitlines():
        m = _ENV_LINE.match(line.strip())
        if m and m.group(1).endswith("_FILE") and m.group(2).startswith("/"):
            out.append(m.group(2))
    return out


def scrape_addresses(prom_config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(job, host:port) for every address Prometheus really connects to: the static targets, or
    the ``__address__`` a relabel rule puts in their place (the blackbox exporter for probes)."""
    out: list[tuple[str, str]] = []
    for job in prom_config.get("scrape_configs") or []:
        name = str(job.get("job_name"))
        replaced = [
            r["replacement"]
            for r in job.get("relabel_configs") or []
            if r.get("target_label") == "__address__" and not r.get("source_labels") and "replacement" in r
        ]
        if replaced:
            out.append((name, str(replaced[-1])))
            continue
        for static in job.get("static_configs") or []:
            out.extend((name, str(t)) for t in static.get("targets") or [])
    return out


@dataclass(frozen=True, slots=True)
class _Secrets:
    """Compose secrets by name, each a file in $OBS_SECRETS_DIR mounted at the path a config reads."""

    by_name: dict[str, str]

    def mount(self, *paths: str) -> list[dict[str, str]]:
        refs = []
        for path in sorted(set(paths)):
            name = PurePosixPath(path).name
            known = self.by_name.setdefault(name, path)
            if known != path:
                raise RenderError(
                    f"compose: two credential files are named {name!r} ({known}, {path}); rename one"
                )
            refs.append({"source": name, "target": path})
        return refs


class _Stack:
    """Builds the services from the model and the other groups' artifacts."""

    def __init__(self, platform: Platform, env: Environment, files: Mapping[str, Any]) -> None:
        self.platform = platform
        self.env = env
        self.files = files
        self.secrets = _Secrets({})
        self.volumes: set[str] = set()
        self.services: dict[str, dict[str, Any]] = {}
        self.limitations: list[str] = []
        self.es_host, self.es_port = _url_host_port(platform.elasticsearch_url, ELASTICSEARCH_DEFAULT_PORT)
        self.prom_config: dict[str, Any] = files[prometheus.CONFIG_PATH]

    def need(self, path: str) -> Any:
        if path not in self.files:
            raise RenderError(f"compose: no group renders {path!r} any more; the compose file mounts it")
        return self.files[path]

    def volume(self, name: str, target: str) -> dict[str, Any]:
        self.volumes.add(name)
        return _volume(name, target)

    def add(
        self,
        name: str,
        image_key: str,
        *,
        aliases: Iterable[str] = (),
        expose: Iterable[int] = (),
        **spec: Any,
    ) -> None:
        service: dict[str, Any] = {"image": IMAGES[image_key], "restart": "unless-stopped", **spec}
        others = sorted({a for a in aliases if a != name})
        service["networks"] = {NETWORK: {"aliases": others}} if others else [NETWORK]
        ports = sorted(set(expose))
        if ports:
            service["expose"] = [str(p) for p in ports]
        self.services[name] = service

    def https_note(self, what: str, url: str, also: str = "") -> None:
        if urlparse(url).scheme == "https":
            self.limitations.append(
                f"{what} is {url}: the generated configs reach it over TLS on port {_url_host_port(url, 0)[1]}{also}, "
                "which this stack does not terminate; put a TLS proxy in front of it under that name, "
                "or build a platform whose URL is http:// for a local stack"
            )

    # --- metrics ---------------------------------------------------------------------------------

    def prometheus_port(self) -> int:
        own = [a for job, a in scrape_addresses(self.prom_config) if job == "prometheus"]
        if not own:
            raise RenderError("compose: the Prometheus config does not scrape Prometheus itself (job prometheus)")
        return _host_port(own[0])[1]

    def add_prometheus(self) -> None:
        port = self.prometheus_port()
        config_path = PurePosixPath(prometheus.CONFIG_PATH)
        mounts = [_bind(prometheus.CONFIG_PATH, f"{PROMETHEUS_DIR}/{config_path.name}")]
        # One mount per folder of rule files (prometheus.yml may list the files one by one).
        for rules_dir in dict.fromkeys(PurePosixPath(p).parent for p in self.prom_config.get("rule_files") or []):
            mounts.append(_bind(str(config_path.parent / rules_dir), f"{PROMETHEUS_DIR}/{rules_dir}"))
        mounts.append(self.volume("prometheus-data", "/prometheus"))
        self.add(
            "prometheus",
            "prometheus",
            command=[
                f"--config.file={PROMETHEUS_DIR}/{config_path.name}",
                "--storage.tsdb.path=/prometheus",
                f"--storage.tsdb.retention.time={prometheus_retention_days(self.platform)}d",
                # Its own address on the obs network (the model's prometheus_address), not every interface.
                f"--web.listen-address={self.platform.prometheus_address}",
                # Grafana's datasources link exemplars to traces: Prometheus must keep them.
                "--enable-feature=exemplar-storage",
                # The alerts' generatorURL and the links in notifications open for the people who get them.
                *([f"--web.external-url={self.env.prometheus_url}"] if self.env.prometheus_url else []),
            ],
            volumes=mounts,
            secrets=self.secrets.mount(*credential_files(self.prom_config)),
            ports=[f"{port}:{port}"],
            expose=[port],
        )

    def add_alertmanager(self) -> None:
        host, port = _url_host_port(self.platform.alertmanager_url, 9093)
        config = self.need(alertmanager.CONFIG_PATH)
        self.add(
            "alertmanager",
            "alertmanager",
            aliases=[host],
            command=[
                f"--config.file={ALERTMANAGER_CONFIG}",
                "--storage.path=/alertmanager",
                f"--web.listen-address={host}:{port}",
                # One Alertmanager: no gossip port on every interface.
                "--cluster.listen-address=",
                # Links in notifications (silence, the alert's page) use the address people reach.
                f"--web.external-url={self.platform.alertmanager_url}",
            ],
            volumes=[
                _bind(alertmanager.CONFIG_PATH, ALERTMANAGER_CONFIG),
                self.volume("alertmanager-data", "/alertmanager"),
            ],
            secrets=self.secrets.mount(*credential_files(config)),
            ports=[f"{port}:{port}"],
            expose=[port],
        )

    def add_grafana(self, prometheus_port: int) -> None:
        parsed = urlparse(self.platform.grafana_url)
        port = parsed.port if parsed.scheme == "http" and parsed.port else GRAFANA_DEFAULT_PORT
        datasources = provisioning.datasources(self.platform, self.env)
        own = provisioning.prometheus_url(self.platform, self.env)
        environment: dict[str, str] = {
            "GF_SERVER_HTTP_PORT": str(port),
            "GF_SERVER_ROOT_URL": self.platform.grafana_url,
            "GF_SECURITY_ADMIN_PASSWORD__FILE": f"/run/secrets/{GRAFANA_ADMIN_SECRET}",
        }
        for var in sorted(set(provisioning.env_references(yaml.safe_dump(datasources)))):
            if f"${var}" == own:
                environment[var] = f"http://prometheus:{prometheus_port}"
            elif var.startswith("OBS_PROMETHEUS_URL_"):
                # Another environment's Prometheus: the user's, or a name that fails loudly when queried.
                other = var.removeprefix("OBS_PROMETHEUS_URL_").lower().replace("_", "-")
                environment[var] = f"${{{var}:-http://prometheus-{other}.invalid:{prometheus_port}}}"
            else:
                environment[var] = f"${{{var}:-}}"
        self.secrets.by_name.setdefault(GRAFANA_ADMIN_SECRET, f"/run/secrets/{GRAFANA_ADMIN_SECRET}")
        ds_path, dash_path = provisioning.DATASOURCES_PATH, provisioning.DASHBOARD_PROVIDERS_PATH
        prefix = "grafana/provisioning/"
        self.add(
            "grafana",
            "grafana",
            aliases=[parsed.hostname or "grafana"] if parsed.scheme == "http" else [],
            environment=environment,
            volumes=[
                _bind(ds_path, f"{GRAFANA_PROVISIONING}/{ds_path.removeprefix(prefix)}"),
                _bind(dash_path, f"{GRAFANA_PROVISIONING}/{dash_path.removeprefix(prefix)}"),
                _bind(provisioning.DASHBOARDS_DIR, provisioning.DASHBOARDS_MOUNT),
                self.volume("grafana-data", "/var/lib/grafana"),
            ],
            secrets=[{"source": GRAFANA_ADMIN_SECRET, "target": GRAFANA_ADMIN_SECRET}],
            ports=[f"{port}:{port}"],
            expose=[port],
            depends_on=_started("prometheus", "alertmanager"),
        )

    # --- traces ----------------------------------------------------------------------------------

    def add_jaeger(self) -> None:
        host, _ = _url_host_port(self.platform.jaeger_url, 16686)
        config = self.need(jaeger.CONFIG_PATH)
        self.need(jaeger.STRATEGIES_PATH)
        query = int(config["extensions"]["jaeger_query"]["http"]["endpoint"].rsplit(":", 1)[1])
        endpoint, _ = otel_collector.jaeger_endpoint(self.platform)
        aliases = [host]
        if not self.platform.jaeger_otlp_endpoint:
            # The collector's OTLP export follows jaeger_url's scheme too: TLS to <host>:4317, where
            # Jaeger here listens in plaintext; until then spans wait in the collector's disk queue.
            self.https_note(
                "jaeger_url", self.platform.jaeger_url, f" and the collector exports spans to {endpoint} over TLS"
            )
        else:
            self.https_note("jaeger_url", self.platform.jaeger_url)
            self.https_note("jaeger_otlp_endpoint", self.platform.jaeger_otlp_endpoint)
            otlp_host, otlp_port = _host_port(endpoint)
            if otlp_host not in aliases:
                aliases.append(otlp_host)
            if otlp_port != OTLP_GRPC_PORT:
                self.limitations.append(
                    f"jaeger_otlp_endpoint is {self.platform.jaeger_otlp_endpoint}: Jaeger here receives OTLP/gRPC on "
                    f"port {OTLP_GRPC_PORT} only, so the collector's spans wait in its disk queue; "
                    f"build a platform whose endpoint uses port {OTLP_GRPC_PORT} for a local stack"
                )
        self.add(
            "jaeger",
            "jaeger",
            aliases=aliases,
            command=["--config", JAEGER_CONFIG],
            volumes=[
                _bind(jaeger.CONFIG_PATH, JAEGER_CONFIG),
                _bind(jaeger.STRATEGIES_PATH, jaeger.STRATEGIES_MOUNT),
            ],
            ports=[f"{query}:{query}"],
            expose=_listen_ports(config),
            depends_on=_healthy("elasticsearch"),
        )

    def add_collector(self) -> None:
        config = self.need(otel_collector.CONFIG_PATH)
        self.add(
            "otel-collector",
            "otel-collector",
            command=[f"--config={COLLECTOR_CONFIG}"],
            # The image runs as uid 10001; the queue volume is created root-owned.
            user="0:0",
            volumes=[
                _bind(otel_collector.CONFIG_PATH, COLLECTOR_CONFIG),
                self.volume("otelcol-queue", otel_collector.QUEUE_DIR),
            ],
            # Services send OTLP to the collector hop (tail sampling, redaction); Jaeger's own OTLP ports stay inside.
            ports=[f"{OTLP_GRPC_PORT}:{OTLP_GRPC_PORT}", f"{OTLP_HTTP_PORT}:{OTLP_HTTP_PORT}"],
            expose=_listen_ports(config),
            depends_on=_started("jaeger"),
        )

    # --- logs ------------------------------------------------------------------------------------

    def add_elasticsearch(self) -> None:
        self.https_note("elasticsearch_url", self.platform.elasticsearch_url)
        port = self.es_port
        health = f"http://localhost:{port}/_cluster/health?wait_for_status=yellow&timeout=5s"
        self.add(
            "elasticsearch",
            "elasticsearch",
            aliases=[self.es_host],
            environment={
                "cluster.name": f"{self.platform.name}-{self.env.name}",
                "discovery.type": "single-node",
                "http.port": str(port),
                # The generated pipelines write over plain http without credentials.
                "xpack.security.enabled": "false",
                "ES_JAVA_OPTS": "-Xms1g -Xmx1g",
            },
            volumes=[self.volume("elasticsearch-data", "/usr/share/elasticsearch/data")],
            ports=[f"{port}:{port}"],
            expose=[port],
            healthcheck={
                "test": ["CMD-SHELL", f"curl -fsS '{health}' >/dev/null"],
                "interval": "10s",
                "timeout": "10s",
                "retries": 30,
            },
        )

    def es_url(self) -> str:
        return self.platform.elasticsearch_url.rstrip("/")

    def add_elasticsearch_setup(self) -> None:
        """One-shot: PUT the component templates, then the ILM policies, then the index templates."""
        apis = (
            (elasticsearch.COMPONENT_DIR, "_component_template"),
            (elasticsearch.ILM_DIR, "_ilm/policy"),
            (elasticsearch.INDEX_TEMPLATE_DIR, "_index_template"),
        )
        mounts, steps = [], []
        for folder, api in apis:
            for path in sorted(p for p in self.files if p.startswith(folder + "/") and p.endswith(".json")):
                target = f"{SETUP_DIR}/{path}"
                mounts.append(_bind(path, target))
                steps.append(
                    f"curl -fsS -X PUT -H 'Content-Type: application/json' --data-binary '@{target}' "
                    f"'{self.es_url()}/{api}/{PurePosixPath(path).stem}'"
                )
        if not steps:
            raise RenderError("compose: the elasticsearch group renders no templates to apply")
        self.add(
            "elasticsearch-setup",
            "setup",
            restart="no",
            entrypoint=["sh", "-ec"],
            command=[" && ".join(steps)],
            volumes=mounts,
            depends_on=_healthy("elasticsearch"),
        )

    def add_kibana(self) -> None:
        self.need(kibana.SAVED_OBJECTS_PATH)
        self.add(
            "kibana",
            "kibana",
            environment={"ELASTICSEARCH_HOSTS": f'["{self.es_url()}"]', "SERVER_PORT": str(KIBANA_PORT)},
            ports=[f"{KIBANA_PORT}:{KIBANA_PORT}"],
            expose=[KIBANA_PORT],
            depends_on=_healthy("elasticsearch"),
            healthcheck={
                "test": ["CMD-SHELL", f"curl -fsS http://localhost:{KIBANA_PORT}/api/status >/dev/null"],
                "interval": "10s",
                "timeout": "10s",
                "retries": 30,
            },
        )
        target = f"{SETUP_DIR}/{kibana.SAVED_OBJECTS_PATH}"
        self.add(
            "kibana-setup",
            "setup",
            restart="no",
            entrypoint=["sh", "-ec"],
            command=[
                f"curl -fsS -X POST -H 'kbn-xsrf: true' --form 'file=@{target}' "
                f"'http://kibana:{KIBANA_PORT}/api/saved_objects/_import?overwrite=true'"
            ],
            volumes=[_bind(kibana.SAVED_OBJECTS_PATH, target)],
            depends_on=_healthy("kibana"),
        )

    def add_logstash(self) -> None:
        self.need(logstash.SETTINGS_PATH)
        mounts = [
            _bind(
                logstash.SETTINGS_PATH, f"{LOGSTASH_CONFIG_DIR}/{PurePosixPath(logstash.SETTINGS_PATH).name}"
            ),
            _bind(
                logstash.PIPELINES_PATH,
                f"{LOGSTASH_CONFIG_DIR}/{PurePosixPath(logstash.PIPELINES_PATH).name}",
            ),
        ]
        # Each pipeline's config file, where pipelines.yml says Logstash reads it.
        for pipeline in self.need(logstash.PIPELINES_PATH):
            wanted = PurePosixPath(pipeline["path.config"])
            (rendered,) = [
                p for p in self.files if p.startswith("logstash/") and PurePosixPath(p).name == wanted.name
            ]
            mounts.append(_bind(rendered, str(wanted)))
        mounts.append(self.volume("logstash-data", "/usr/share/logstash/data"))
        ports = [logstash.BEATS_PORT, logstash.TCP_PORT]
        self.add(
            "logstash",
            "logstash",
            environment={"LS_JAVA_OPTS": "-Xms512m -Xmx512m"},
            volumes=mounts,
            ports=[f"{p}:{p}" for p in ports],
            expose=ports,
            depends_on=_after_index_templates(),
        )

    def add_fluentd(self) -> None:
        self.need(fluentd.CONFIG_PATH)
        port = fluentd.FORWARD_PORT
        self.add(
            "fluentd",
            "fluentd",
            volumes=[
                _bind(fluentd.CONFIG_PATH, FLUENTD_CONFIG),
                # Buffers, positions, rejected and unrouted records: kept across restarts.
                self.volume("fluentd-data", str(PurePosixPath(fluentd.BUFFER_DIR).parent)),
            ],
            ports=[f"{port}:{port}", f"{port}:{port}/udp"],
            expose=[port],
            depends_on=_after_index_templates(),
        )

    # --- exporters -------------------------------------------------------------------------------

    def dependency_aliases(self, dep: Dependency) -> list[str]:
        """Every host an environment's scrape targets name for the dependency's exporter."""
        return [_host_port(t)[0] for t in self.platform.scrape_targets(dep, self.env)]

    def add_exporters(self) -> None:
        # Exporter per dependency kind: the env-file folder, the image role, and extra mounts.
        kinds = {
            DependencyKind.POSTGRES: (
                "postgres", "postgres-exporter", [_bind(exporters.POSTGRES_QUERIES_PATH, exporters.POSTGRES_QUERIES_MOUNT)]
            ),
            DependencyKind.REDIS: ("redis", "redis-exporter", []),
        }  # fmt: skip
        for dep in self.platform.dependencies:
            if dep.kind not in kinds:
                continue
            folder, role, volumes = kinds[dep.kind]
            env_path = f"exporters/{folder}/{dep.name}.env"
            host, port = _host_port(dep.exporter_address)
            extra: dict[str, Any] = {"volumes": volumes} if volumes else {}
            self.add(
                host,
                role,
                aliases=self.dependency_aliases(dep),
                env_file=[f"../{env_path}"],
                secrets=self.secrets.mount(*env_file_secrets(self.need(env_path))),
                expose=[port],
                **extra,
            )
        hosts: dict[str, set[int]] = {}
        for target in self.platform.node_targets:
            host, port = _host_port(target)
            hosts.setdefault(host, set()).add(port)
        for host, ports in sorted(hosts.items()):
            if len(ports) != 1:
                raise RenderError(
                    f"compose: node_targets name {host} on ports {sorted(ports)}; one exporter listens on one"
                )
            (port,) = ports
            self.add(
                host,
                "node-exporter",
                command=[*exporters.node_flags(), "--path.rootfs=/host", f"--web.listen-address={host}:{port}"],
                pid="host",
                volumes=[
                    {
                        "type": "bind",
                        "source": "/",
                        "target": "/host",
                        "read_only": True,
                        "bind": {"propagation": "rslave"},
                    },
                    # Batch jobs drop *.prom files here (the textfile collector).
                    self.volume("node-textfiles", exporters.TEXTFILE_DIR),
                ],
                expose=[port],
            )
        host, port = _host_port(self.platform.blackbox_address)
        self.need(exporters.BLACKBOX_PATH)
        self.add(
            host,
            "blackbox-exporter",
            command=[f"--config.file={BLACKBOX_CONFIG}", f"--web.listen-address={host}:{port}"],
            volumes=[_bind(exporters.BLACKBOX_PATH, BLACKBOX_CONFIG)],
            expose=[port],
        )

    # --- the file --------------------------------------------------------------------------------

    def note_local_application_targets(self) -> None:
        for job, targets in self.application_targets().items():
            local = [t for t in targets if _host_port(t)[0] in ("localhost", "127.0.0.1", "::1")]
            if local:
                self.limitations.append(
                    f"job {job} scrapes {', '.join(local)}: inside the Prometheus container that is Prometheus "
                    "itself; run the service on the obs network and override the target with its name"
                )

    def application_targets(self) -> dict[str, list[str]]:
        return {
            s.name: list(self.platform.scrape_targets(s, self.env))
            for s in self.platform.instrumented_services
        }

    def document(self) -> dict[str, Any]:
        self.add_prometheus()
        prom_port = int(self.services["prometheus"]["expose"][0])
        self.add_alertmanager()
        self.add_grafana(prom_port)
        self.add_elasticsearch()
        self.add_elasticsearch_setup()
        self.add_kibana()
        self.add_logstash()
        self.add_fluentd()
        self.add_jaeger()
        self.add_collector()
        self.add_exporters()
        self.note_local_application_targets()
        doc: dict[str, Any] = {
            "services": self.services,
            "networks": {NETWORK: {"name": f"obs-{self.platform.name}-{self.env.name}"}},
            "volumes": {name: {} for name in sorted(self.volumes)},
            "secrets": {name: {"file": f"{SECRETS_SOURCE}/{name}"} for name in sorted(self.secrets.by_name)},
            APPLICATION_TARGETS_KEY: self.application_targets(),
        }
        if self.limitations:
            doc[LIMITATIONS_KEY] = self.limitations
        return doc


def document(platform: Platform, env: Environment, rendered: Rendered) -> dict[str, Any]:
    """The compose file for ``env``, mounting the finished files of the groups it runs."""
    files = {a.path: a.content for artifacts in rendered.values() for a in artifacts}
    doc = _Stack(platform, env, files).document()
    problems = unresolved_targets(doc, files[prometheus.CONFIG_PATH])
    if problems:
        raise RenderError(
            "compose: Prometheus scrapes hosts no compose service answers:\n" + "\n".join(problems)
        )
    return doc


def render(ctx: RenderContext, rendered: Rendered) -> Iterable[Artifact]:
    # Only an environment that runs on Compose gets a compose file (Kubernetes ones get kubernetes/).
    if not isinstance(ctx.env.runtime, Compose):
        return
    yield Artifact(COMPOSE_PATH, document(ctx.platform, ctx.env, rendered))


# --- checks ---------------------------------------------------------------------------------------


def service_names(doc: Mapping[str, Any]) -> dict[str, str]:
    """Every name a service answers to on the network (its name and its aliases) → the service."""
    names: dict[str, str] = {}
    for name, service in (doc.get("services") or {}).items():
        names[name] = name
        networks = service.get("networks")
        if isinstance(networks, dict):
            for net in networks.values():
                for alias in (net or {}).get("aliases") or []:
                    names[alias] = name
    return names


def unresolved_targets(doc: Mapping[str, Any], prom_config: Mapping[str, Any]) -> list[str]:
    """Scrape addresses that neither a compose service (by name or alias, on a port it exposes)
    nor a declared application target answers; ``localhost`` is the Prometheus service itself."""
    names = service_names(doc)
    services = doc.get("services") or {}
    apps = {t for targets in (doc.get(APPLICATION_TARGETS_KEY) or {}).values() for t in targets}
    problems = []
    for job, address in scrape_addresses(prom_config):
        if address in apps:
            continue
        host, _, port = address.rpartition(":")
        service = "prometheus" if host == "localhost" else names.get(host)
        if service is None or service not in services:
            problems.append(f"job {job}: {address}: no compose service or alias is named {host!r}")
            continue
        exposed = [str(p) for p in services[service].get("expose") or []]
        if port not in exposed:
            problems.append(
                f"job {job}: {address}: service {service} listens on {', '.join(exposed) or 'no port'}, not {port}"
            )
    return problems


__all__ = [
    "COMPOSE_PATH",
    "IMAGES",
    "credential_files",
    "document",
    "env_file_secrets",
    "render",
    "scrape_addresses",
    "unresolved_targets",
]
