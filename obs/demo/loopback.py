"""An environment of the platform on 127.0.0.1, derived by obs from the model: every address of the
environment set to a free loopback port, nothing rewritten by hand.

:func:`plan_ports` gives every listener of the stack a free port (:class:`LoopbackPorts`);
:func:`loopback_platform` returns the platform with one environment, the chosen one as it runs on
this host: runtime ``local``, each service's scrape target, each probe URL, each dependency's
address, exporter address and listen address (PostgreSQL without TLS), the node and blackbox
exporters, Prometheus, Alertmanager, Grafana and Jaeger (served by the demo's web stand-in), the
OTLP endpoint (the demo's receiver) and Elasticsearch (not run: its address only keeps the
pipelines' configuration on loopback). Platform-wide values that name files or receivers (team
secrets, the metrics token, the audit webhook and the heartbeat) point into the run folder and at
the demo's webhook sink. The build renders every group from it as from any other environment.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from obs.model import (
    ComponentOverride,
    Dependency,
    DependencyKind,
    Environment,
    Local,
    Platform,
    Service,
    Team,
    format_duration,
    parse_duration,
)
from obs.renderers import exporters
from obs.runtime import free_port

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class LoopbackPorts:
    """The port of every listener the demo starts, chosen free on 127.0.0.1."""

    services: Mapping[str, int]
    #: Probed services and http dependencies: the demo's stand-in site for each.
    sites: Mapping[str, int]
    datastores: Mapping[str, int]
    exporters: Mapping[str, int]
    node: int
    blackbox: int
    prometheus: int
    alertmanager: int
    sink: int
    otlp_grpc: int
    otlp_http: int
    #: The demo's Grafana and Jaeger stand-in (dashboards as previews, traces from the receiver).
    web: int
    #: Not listened on: Elasticsearch is not run (no Debian package); its address stays on loopback.
    elasticsearch: int = field(default_factory=free_port)

    def url(self, port: int) -> str:
        return f"http://{LOOPBACK}:{port}"

    @property
    def sink_url(self) -> str:
        return self.url(self.sink)


def plan_ports(platform: Platform) -> LoopbackPorts:
    """A free loopback port for every listener of ``platform``'s stack."""
    return LoopbackPorts(
        services={s.name: free_port() for s in platform.instrumented_services},
        sites={
            **{s.name: free_port() for s in platform.probed_services},
            **{d.name: free_port() for d in platform.dependencies if d.kind is DependencyKind.HTTP},
        },
        datastores={d.name: free_port() for d in platform.dependencies if d.kind.exporter},
        exporters={d.name: free_port() for d in platform.dependencies if d.kind.exporter},
        node=free_port(),
        blackbox=free_port(),
        prometheus=free_port(),
        alertmanager=free_port(),
        sink=free_port(),
        otlp_grpc=free_port(),
        otlp_http=free_port(),
        web=free_port(),
    )


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _override(platform: Platform, env: Environment, name: str, ports: LoopbackPorts) -> ComponentOverride:
    """The environment's override of one component, its addresses moved to loopback."""
    old = env.overrides.get(name, ComponentOverride())
    # Kubernetes-only fields mean nothing to plain processes; the sampling ratio is kept.
    base = replace(old, selector={}, port_name="", autoscaling=None, targets=())
    component = next(c for c in platform.components() if c.name == name)
    if isinstance(component, Service):
        targets = (f"{LOOPBACK}:{ports.services[name]}",) if name in ports.services else ()
        probe = ports.url(ports.sites[name]) + _path_of(platform.probe_url(component, env)) if name in ports.sites else base.probe_url
        return replace(base, targets=targets, probe_url=probe)
    if component.kind is DependencyKind.HTTP:
        return replace(base, address=ports.url(ports.sites[name]) + _path_of(old.address or component.address))
    exporter = f"{LOOPBACK}:{ports.exporters[name]}"
    sslmode = "disable" if component.kind is DependencyKind.POSTGRES else ""
    return replace(base, address=f"{LOOPBACK}:{ports.datastores[name]}", exporter_address=exporter, exporter_listen=exporter, sslmode=sslmode)


def loopback_environment(platform: Platform, env: Environment, ports: LoopbackPorts, scrape_interval: str | None = None) -> Environment:
    """``env`` on 127.0.0.1: runtime ``local`` and every address of the environment on a port of ``ports``."""
    web = ports.url(ports.web)
    return replace(
        env,
        runtime=Local(),
        overrides={c.name: _override(platform, env, c.name, ports) for c in platform.components()},
        scrape_interval=scrape_interval or env.scrape_interval,
        prometheus_url=ports.url(ports.prometheus),
        prometheus_replicas=1,
        grafana_url=web,
        jaeger_url=web,
        jaeger_otlp_endpoint=ports.url(ports.otlp_grpc),
        alertmanager_url=ports.url(ports.alertmanager),
        elasticsearch_url=ports.url(ports.elasticsearch),
        node_targets=(f"{LOOPBACK}:{ports.node}",),
        blackbox_address=f"{LOOPBACK}:{ports.blackbox}",
        prometheus_address=f"{LOOPBACK}:{ports.prometheus}",
        metrics_store=None,
    )


# -- secrets --------------------------------------------------------------------------------------


def chat_receiver_url(ports: LoopbackPorts, team: str) -> str:
    """Where a team's chat messages go: the sink, recorded as receiver ``<team>-chat``."""
    return f"{ports.sink_url}/{team}-chat"


def _team_files(team: Team, secrets_dir: Path) -> Team:
    return replace(
        team,
        pager_key_file=str(secrets_dir / f"{team.name}-pager-key") if team.pager_key_file else "",
        chat_webhook_url_file=str(secrets_dir / f"{team.name}-slack-api-url") if team.chat_channel else "",
    )


def _service_files(service: Service, secrets_dir: Path) -> Service:
    if not service.metrics_token_file:
        return service
    return replace(service, metrics_token_file=str(secrets_dir / f"{service.name}-metrics-token"))


def loopback_platform(platform: Platform, env_name: str | None, ports: LoopbackPorts, secrets_dir: Path, *, scrape_interval: str | None = None) -> Platform:
    """``platform`` with one environment, ``env_name`` (default: the first) on loopback.

    The files the configuration names (team secrets, metrics tokens, the Elasticsearch password) are
    in ``secrets_dir``; the audit webhook, the pager and the heartbeat post to the sink. The platform's metrics
    store, if any, is left out: nothing the demo starts writes to it.
    """
    env = platform.environment(env_name)
    here = loopback_environment(platform, env, ports, scrape_interval)
    es_password = str(secrets_dir / "elasticsearch-password") if platform.elasticsearch_password_file else ""
    return replace(
        platform,
        environments=(here,),
        teams=tuple(_team_files(t, secrets_dir) for t in platform.teams),
        services=tuple(_service_files(s, secrets_dir) for s in platform.services),
        alert_webhook_url=f"{ports.sink_url}/alert-log",
        # Pages, too, reach the sink (receiver "pager") rather than PagerDuty.
        pagerduty_url=f"{ports.sink_url}/pager",
        heartbeat_url=f"{ports.sink_url}/heartbeat" if platform.heartbeat_url else "",
        elasticsearch_password_file=es_password,
        metrics_store=None,
    )


def write_secrets(platform: Platform, ports: LoopbackPorts, secrets_dir: Path) -> dict[str, Path]:
    """Generate every secret file ``platform`` (a :func:`loopback_platform`) names, mode 0600.

    Pager keys and tokens are random; a chat webhook URL file holds the sink's URL for that team;
    the exporters' files (what a deployment mounts in ``/run/secrets``) hold the datastores' login.
    Returns name → path.
    """
    secrets_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(secrets_dir, 0o700)
    files: dict[str, str] = {}
    for team in platform.teams:
        if team.pager_key_file:
            files[team.pager_key_file] = secrets.token_hex(16)
        if team.chat_webhook_url_file:
            files[team.chat_webhook_url_file] = chat_receiver_url(ports, team.name)
    for service in platform.services:
        if service.metrics_token_file:
            files[service.metrics_token_file] = secrets.token_urlsafe(24)
    if platform.elasticsearch_password_file:
        files[platform.elasticsearch_password_file] = secrets.token_urlsafe(24)
    for dep in platform.dependencies:
        files.update(_exporter_secrets(dep, secrets_dir))
    written: dict[str, Path] = {}
    for name, text in files.items():
        path = Path(name)
        path.write_text(text, encoding="utf-8")  # no newline: some readers keep it in the value
        os.chmod(path, 0o600)
        written[path.name] = path
    return written


#: The PostgreSQL account the exporter and the demo apps log in as (the private server trusts loopback).
POSTGRES_USER = "postgres"


def _exporter_secrets(dep: Dependency, secrets_dir: Path) -> dict[str, str]:
    """The files the generated exporter settings name under /run/secrets, for ``dep``."""
    if dep.kind is DependencyKind.POSTGRES:
        return {
            str(secrets_dir / f"{dep.name}-exporter-user"): POSTGRES_USER,
            str(secrets_dir / f"{dep.name}-exporter-password"): secrets.token_urlsafe(16),
        }
    if dep.kind is DependencyKind.REDIS:
        return {str(secrets_dir / f"{dep.name}-exporter-passwords.json"): json.dumps({f"redis://{dep.address}": ""})}
    return {}


def mounts(build_env: Path, secrets_dir: Path, run_dir: Path) -> dict[str, Path]:
    """Where the paths the exporter settings name (a deployment's mounts) are in this run."""
    return {
        exporters.SECRETS_DIR: secrets_dir,
        exporters.POSTGRES_QUERIES_MOUNT: build_env / exporters.POSTGRES_QUERIES_PATH,
        exporters.BLACKBOX_CONFIG_MOUNT: build_env / exporters.BLACKBOX_PATH,
        exporters.TEXTFILE_DIR: run_dir / "node-textfile",
    }


def scaled_interval(interval: str, time_scale: float) -> str:
    """``interval`` divided by ``time_scale``, at least 1s (Prometheus' finest useful scrape)."""
    return format_duration(max(1, round(parse_duration(interval) / time_scale)))


__all__ = [
    "LOOPBACK",
    "POSTGRES_USER",
    "LoopbackPorts",
    "chat_receiver_url",
    "loopback_environment",
    "loopback_platform",
    "mounts",
    "plan_ports",
    "scaled_interval",
    "write_secrets",
]
