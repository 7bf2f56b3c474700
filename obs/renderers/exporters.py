"""Configuration of the third-party exporters Prometheus scrapes: blackbox modules, postgres_exporter
custom queries and settings, redis_exporter settings, node_exporter flags.

Secrets never appear here: the exporters read them from files the deployment mounts. Every metric a
custom query produces must be declared in :mod:`obs.contract`, so rules and dashboards can only
select what really exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from obs import contract
from obs.artifacts import Artifact, RenderContext
from obs.errors import RenderError
from obs.model import Dependency, DependencyKind, Platform

BLACKBOX_PATH = "exporters/blackbox/blackbox.yml"
POSTGRES_QUERIES_PATH = "exporters/postgres/queries.yaml"
BLACKBOX_ARGS_PATH = "exporters/blackbox/prometheus-blackbox-exporter.env"
#: Where the blackbox exporter's Debian unit reads its configuration from.
BLACKBOX_CONFIG_MOUNT = "/etc/prometheus/blackbox.yml"
#: Where the deployment mounts the custom queries (postgres_exporter reads the path from its env).
POSTGRES_QUERIES_MOUNT = "/etc/prometheus-postgres-exporter/queries.yaml"
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"
SECRETS_DIR = "/run/secrets"
#: Transactions open longer than this hold locks and block vacuum: worth a metric of their own.
LONG_TRANSACTION = "5 minutes"
BLACKBOX_BINARY = "prometheus-blackbox-exporter"


@dataclass(frozen=True, slots=True)
class CustomQuery:
    """One postgres_exporter custom query: metric names are ``<namespace>_<column>``."""

    namespace: str
    sql: str
    labels: Mapping[str, str]
    gauges: Mapping[str, str]

    def metric_names(self) -> tuple[str, ...]:
        return tuple(f"{self.namespace}_{column}" for column in self.gauges)

    def as_yaml(self) -> dict[str, Any]:
        columns = [{name: {"usage": "LABEL", "description": text}} for name, text in self.labels.items()]
        columns += [{name: {"usage": "GAUGE", "description": text}} for name, text in self.gauges.items()]
        # master: run once per server, not once per auto-discovered database.
        return {"query": self.sql, "master": True, "metrics": columns}


POSTGRES_QUERIES: tuple[CustomQuery, ...] = (
    CustomQuery(
        namespace="pg_long_running_transactions",
        sql=(
            "SELECT d.datname,\n"
            "       count(a.pid) AS count,\n"
            "       COALESCE(max(EXTRACT(EPOCH FROM now() - a.xact_start)), 0) AS max_age_seconds\n"
            "FROM pg_database d\n"
            "LEFT JOIN pg_stat_activity a\n"
            f"  ON a.datid = d.oid AND a.xact_start < now() - interval '{LONG_TRANSACTION}'\n"
            "WHERE d.datallowconn AND NOT d.datistemplate\n"
            "GROUP BY d.datname\n"
        ),
        labels={"datname": "Database name."},
        gauges={
            "count": f"Transactions open for more than {LONG_TRANSACTION} (0 when none, so alerts never see an absent series).",
            "max_age_seconds": f"Age of the oldest transaction open for more than {LONG_TRANSACTION}, 0 when none.",
        },
    ),
)

def undeclared_metrics(queries: Iterable[CustomQuery] = POSTGRES_QUERIES) -> list[str]:
    known = contract.known_series_names()
    return [name for q in queries for name in q.metric_names() if name not in known]


def postgres_queries() -> dict[str, Any]:
    missing = undeclared_metrics()
    if missing:
        raise RenderError(f"exporters: custom queries produce metrics the contract does not declare: {', '.join(missing)}")
    return {q.namespace: q.as_yaml() for q in POSTGRES_QUERIES}


def blackbox() -> dict[str, Any]:
    ip4 = {"preferred_ip_protocol": "ip4", "ip_protocol_fallback": True}
    return {
        "modules": {
            # The module the generated probes use: any 2xx after redirects, over http or https.
            contract.BLACKBOX_HTTP_MODULE: {
                "prober": "http",
                "timeout": "5s",
                "http": {**ip4, "follow_redirects": True, "valid_status_codes": [], "method": "GET"},
            },
            # Public endpoints: must be https with a certificate that verifies.
            "http_2xx_tls": {
                "prober": "http",
                "timeout": "5s",
                "http": {**ip4, "fail_if_not_ssl": True, "tls_config": {"insecure_skip_verify": False}},
            },
            # Certificate expiry of any TLS port (probe_ssl_earliest_cert_expiry).
            "tls_connect": {"prober": "tcp", "timeout": "5s", "tcp": {**ip4, "tls": True}},
            "tcp_connect": {"prober": "tcp", "timeout": "5s", "tcp": ip4},
        }
    }


#: The probers blackbox_exporter has; its --config.check does not reject other names.
BLACKBOX_PROBERS = frozenset({"http", "tcp", "icmp", "dns", "grpc"})


def blackbox_problems(config: Mapping[str, Any]) -> list[str]:
    return [
        f"module {name}: prober {module.get('prober')!r} is not one of {', '.join(sorted(BLACKBOX_PROBERS))}"
        for name, module in config.get("modules", {}).items()
        if module.get("prober") not in BLACKBOX_PROBERS
    ]


def _env_file(lines: Iterable[tuple[str, str, str]]) -> str:
    """``KEY=value`` lines, each preceded by why (systemd EnvironmentFile / docker --env-file)."""
    out: list[str] = []
    for key, value, why in lines:
        out.append(f"# {why}")
        out.append(f"{key}={value}")
    return "\n".join(out) + "\n"


def postgres_env(dep: Dependency) -> str:
    host, port = dep.address.rsplit(":", 1)
    return _env_file(
        [
            (
                "DATA_SOURCE_URI",
                f"{host}:{port}/postgres?sslmode={dep.sslmode}",
                "No credentials in the URI: they come from the files below.",
            ),
            ("DATA_SOURCE_USER_FILE", f"{SECRETS_DIR}/{dep.name}-exporter-user", "Mounted secret holding the monitoring role's name."),
            ("DATA_SOURCE_PASS_FILE", f"{SECRETS_DIR}/{dep.name}-exporter-password", "Mounted secret holding its password."),
            ("PG_EXPORTER_EXTEND_QUERY_PATH", POSTGRES_QUERIES_MOUNT, "The custom queries rendered beside this file."),
            ("PG_EXPORTER_WEB_LISTEN_ADDRESS", dep.exporter_listen, "Where it listens: its own address, not every interface."),
        ]
    )


def redis_env(dep: Dependency) -> str:
    return _env_file(
        [
            ("REDIS_ADDR", f"redis://{dep.address}", "The Redis instance this exporter watches."),
            (
                "REDIS_PASSWORD_FILE",
                f"{SECRETS_DIR}/{dep.name}-exporter-passwords.json",
                'Mounted secret: JSON map of Redis URI to password, e.g. {"redis://redis:6379": "..."}.',
            ),
            ("REDIS_EXPORTER_WEB_LISTEN_ADDRESS", dep.exporter_listen, "Where it listens: its own address, not every interface."),
            ("REDIS_EXPORTER_INCL_SYSTEM_METRICS", "true", "Total system memory, to judge maxmemory against."),
            ("REDIS_EXPORTER_REDACT_CONFIG_METRICS", "true", "Never export config values that may hold secrets."),
        ]
    )


#: Pseudo and container filesystems whose usage says nothing about disks filling up.
NODE_FS_TYPES_EXCLUDE = (
    "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs"
    "|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tmpfs|tracefs)$"
)
NODE_MOUNTS_EXCLUDE = "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+|var/lib/kubelet/.+)($|/)"


def node_flags() -> tuple[str, ...]:
    return (
        # Batch jobs and cron scripts drop *.prom files here (backups, certificate checks).
        f"--collector.textfile.directory={TEXTFILE_DIR}",
        f"--collector.filesystem.mount-points-exclude={NODE_MOUNTS_EXCLUDE}",
        f"--collector.filesystem.fs-types-exclude={NODE_FS_TYPES_EXCLUDE}",
    )


def node_args_path(target: str) -> str:
    """One flags file per node exporter: each listens on its own address."""
    return f"exporters/node/{target.rsplit(':', 1)[0]}.env"


def _args(flags: Iterable[str], unit: str) -> str:
    for flag in flags:
        if any(ch in flag for ch in ' "\\`'):
            raise RenderError(f"exporters: flag {flag!r} would need shell quoting inside ARGS")
    return _env_file([("ARGS", '"' + " ".join(flags) + '"', f"Flags of /etc/default/{unit} (Debian unit's $ARGS).")])


def node_env(listen: str) -> str:
    return _args([*node_flags(), f"--web.listen-address={listen}"], "prometheus-node-exporter")


def blackbox_env(listen: str) -> str:
    return _args([f"--config.file={BLACKBOX_CONFIG_MOUNT}", f"--web.listen-address={listen}"], "prometheus-blackbox-exporter")


def render(ctx: RenderContext) -> Iterable[Artifact]:
    platform: Platform = ctx.platform
    yield Artifact(BLACKBOX_PATH, blackbox())
    yield Artifact(BLACKBOX_ARGS_PATH, blackbox_env(platform.blackbox_address))
    for target in platform.node_targets:
        yield Artifact(node_args_path(target), node_env(target))
    postgres = [d for d in platform.dependencies if d.kind is DependencyKind.POSTGRES]
    redis = [d for d in platform.dependencies if d.kind is DependencyKind.REDIS]
    if postgres:
        yield Artifact(POSTGRES_QUERIES_PATH, postgres_queries())
    for dep in postgres:
        yield Artifact(f"exporters/postgres/{dep.name}.env", postgres_env(dep))
    for dep in redis:
        yield Artifact(f"exporters/redis/{dep.name}.env", redis_env(dep))


