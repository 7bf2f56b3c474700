"""The whole generated stack of one environment, running for real on 127.0.0.1.

:class:`Stack` builds the loopback environment (:mod:`obs.demo.loopback`) into a private run folder,
generates its secrets, scales its timings (:mod:`obs.demo.timescale`) when asked, and starts under
one :class:`~obs.runtime.Supervisor`: the webhook sink and OTLP receiver, stand-ins for probed
sites, PostgreSQL and Redis, the exporters with the generated settings, the demo services, a
Prometheus and an Alertmanager on the generated configuration, and the Grafana/Jaeger stand-in.
Everything stops when the stack is closed, when this process is signalled, or (children) when it
dies. The demo and the end-to-end tests run the same class.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import yaml

from obs.builder import build
from obs.content import load_content
from obs.demo.apps.faults import NO_FAULT, Fault, write_faults
from obs.demo.loopback import (
    LoopbackPorts,
    loopback_platform,
    mounts,
    plan_ports,
    scaled_interval,
    write_secrets,
)
from obs.demo.sites import StandInSite
from obs.demo.timescale import scale_alertmanager, scale_rule_file, seconds
from obs.demo.traffic import Target
from obs.demo.web import DemoWeb
from obs.errors import ObsError
from obs.extras import Extra
from obs.extras import require as require_extra
from obs.loader import Project
from obs.model import DependencyKind, Environment, Platform, Service, ServiceKind
from obs.renderers import exporters
from obs.runtime import (
    AlertmanagerAPI,
    OtlpReceiver,
    PostgresServer,
    PrometheusAPI,
    Supervisor,
    WebhookSink,
    find_binary,
    http_ready,
    require,
    start_alertmanager,
    start_postgres,
    start_prometheus,
    start_redis,
    wait_until,
)
from obs.writer import dump_yaml

#: What the demo's services import beyond obs' own extras.
DEMO_EXTRA = Extra("demo", ("psycopg", "redis", "requests", "fastapi", "uvicorn", "flask", "gunicorn"))

Progress = Callable[[str], None]


class DemoError(ObsError):
    """The platform cannot be run by the demo as it is; says what to change."""


@dataclass(frozen=True, slots=True)
class StackOptions:
    project: Project
    env: str | None = None
    time_scale: float = 1.0
    run_dir: Path | None = None
    #: gunicorn workers of each Flask service.
    workers: int = 3


def _env_file(text: str) -> dict[str, str]:
    """``KEY=value`` lines as systemd's EnvironmentFile reads them (comments skipped, quotes dropped)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = " ".join(shlex.split(value)) if value else ""
    return values


def _mapped(value: str, where: Mapping[str, Path]) -> str:
    for mount, local in where.items():
        value = value.replace(mount, str(local))
    return value


def required_binaries(platform: Platform) -> tuple[str, ...]:
    kinds = {d.kind for d in platform.dependencies}
    names = ["prometheus", "prometheus-alertmanager", "prometheus-node-exporter", "prometheus-blackbox-exporter"]
    if DependencyKind.POSTGRES in kinds:
        names += ["initdb", "postgres", "prometheus-postgres-exporter"]
    if DependencyKind.REDIS in kinds:
        names += ["redis-server", "prometheus-redis-exporter"]
    return tuple(names)


def check_runnable(platform: Platform) -> None:
    """Refuse what the demo cannot run, before anything starts (one line each, with the fix)."""
    problems = [
        f"services[{s.name}].metrics_port: the demo's services serve /metrics on their own port; remove metrics_port to run it"
        for s in platform.instrumented_services
        if s.metrics_port
    ]
    # Platform-wide addresses no environment can move to loopback, of servers the demo does not run.
    if platform.audit_alertmanager_url:
        problems.append("audit_alertmanager_url: the demo runs one Alertmanager, not an audit one beside it; leave it empty to run the demo")
    if platform.smtp_smarthost:
        problems.append("smtp_smarthost: the demo runs no mail server for e-mail receivers; leave it empty to run the demo")
    if problems:
        raise DemoError("; ".join(problems))
    require(*required_binaries(platform))
    require_extra(DEMO_EXTRA, "obs demo")


class Stack:
    """One environment's stack on loopback; use as a context manager (``start()`` on enter)."""

    def __init__(self, options: StackOptions, progress: Progress | None = None) -> None:
        self.options = options
        self.progress = progress or (lambda _line: None)
        self.run_dir = Path(options.run_dir or tempfile.mkdtemp(prefix="obs-demo-")).resolve()
        source = options.project.platform
        self.ports: LoopbackPorts = plan_ports(source)
        env = source.environment(options.env)
        interval = scaled_interval(env.scrape_interval, options.time_scale)
        self.secrets_dir = self.run_dir / "secrets"
        self.platform: Platform = loopback_platform(source, env.name, self.ports, self.secrets_dir, scrape_interval=interval)
        self.env: Environment = self.platform.environments[0]
        #: The platform as the environment sees it: its addresses (what the build rendered from).
        self.here: Platform = self.platform.in_environment(self.env)
        self.build_dir = self.run_dir / "build" / self.env.name
        self.config_dir = self.build_dir  # the folder Prometheus and Alertmanager run from (scaled: a copy)
        self.fault_file = self.run_dir / "faults.json"
        self.faults: dict[str, Fault] = {}
        self.sup = Supervisor(self.run_dir / "processes")
        self.sites: dict[str, StandInSite] = {}
        self.sink: WebhookSink | None = None
        self.otlp: OtlpReceiver | None = None
        self.datastores: dict[str, str] = {}
        self.prometheus = PrometheusAPI(self.ports.url(self.ports.prometheus))
        self.alertmanager = AlertmanagerAPI(self.here.alertmanager_url)

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> Stack:
        self.sup.__enter__()
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.sup.close()

    def start(self) -> None:
        check_runnable(self.platform)
        self.progress(f"building {self.env.name} on 127.0.0.1 into {self.run_dir / 'build'}")
        write_secrets(self.platform, self.ports, self.secrets_dir)
        project = self.options.project
        build(self.platform, self.run_dir / "build", root=project.root, allow_code=project.allow_code)
        if self.options.time_scale != 1:
            self.config_dir = self._scaled_copy(self.options.time_scale)
        write_faults(self.fault_file, {})
        self._start_receivers()
        self._start_datastores()
        self._start_exporters()
        for service in self.platform.instrumented_services:
            self._start_service(service)
        self.progress("starting Prometheus and Alertmanager on the generated configuration")
        start_prometheus(self.sup, self.config_dir / "prometheus" / "prometheus.yml", port=self.ports.prometheus, external_url=self.env.prometheus_url)
        start_alertmanager(self.sup, self.config_dir / "alertmanager" / "alertmanager.yml", port=self.ports.alertmanager, external_url=self.here.alertmanager_url)
        content = load_content(self.platform, self.env, project.root, project.allow_code)
        assert self.otlp is not None
        web = DemoWeb(self.ports.web, self.platform, self.env, content, self.prometheus.base_url, self.otlp, self.run_dir / "web")
        self.sup.on_close("Grafana and Jaeger stand-in", web.close)

    def _scaled_copy(self, factor: float) -> Path:
        """The Prometheus and Alertmanager folders with rules and timings scaled (module :mod:`~obs.demo.timescale`)."""
        scaled = self.run_dir / "scaled"
        shutil.rmtree(scaled, ignore_errors=True)
        shutil.copytree(self.build_dir / "prometheus", scaled / "prometheus")
        range_floor = 4 * int(seconds(self.env.scrape_interval))
        for path in sorted((scaled / "prometheus" / "rules").glob("*.yml")):
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
            path.write_text(dump_yaml(scale_rule_file(document, factor, range_floor)), encoding="utf-8")
        am = yaml.safe_load((self.build_dir / "alertmanager" / "alertmanager.yml").read_text(encoding="utf-8"))
        (scaled / "alertmanager").mkdir(parents=True)
        (scaled / "alertmanager" / "alertmanager.yml").write_text(dump_yaml(scale_alertmanager(am, factor)), encoding="utf-8")
        return scaled

    def _start_receivers(self) -> None:
        # gRPC's fork handlers only print warnings when this process forks servers beside the receiver.
        os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
        self.sink = WebhookSink(self.ports.sink)
        self.sup.on_close("webhook sink", self.sink.close)
        self.otlp = OtlpReceiver(grpc_port=self.ports.otlp_grpc, http_port=self.ports.otlp_http)
        self.sup.on_close("OTLP receiver", self.otlp.close)
        for name, port in self.ports.sites.items():
            site = self.sites[name] = StandInSite(name, port)
            site.start()
            self.sup.on_close(f"stand-in {name}", site.stop)

    def _start_datastores(self) -> None:
        for dep in self.platform.dependencies:
            port = self.ports.datastores.get(dep.name)
            if port is None:
                continue
            self.progress(f"starting {dep.kind.value} {dep.name!r} on 127.0.0.1:{port}")
            if dep.kind is DependencyKind.POSTGRES:
                server: PostgresServer = start_postgres(self.sup, name=dep.name, port=port)
                self.datastores[dep.name] = server.dsn()
            else:
                # maxmemory set, so the memory-use panel and alert have something to divide by.
                redis = start_redis(self.sup, name=dep.name, port=port, extra_args=("--maxmemory", "64mb"))
                self.datastores[dep.name] = redis.url

    # -- exporters, from the generated settings ------------------------------------------------------

    def _exporter_env(self, settings: Mapping[str, str]) -> dict[str, str]:
        where = mounts(self.build_dir, self.secrets_dir, self.run_dir)
        (self.run_dir / "node-textfile").mkdir(exist_ok=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("DATA_SOURCE", "PG_EXPORTER", "REDIS_"))}
        return {**base, **{key: _mapped(value, where) for key, value in settings.items()}}

    def _read(self, rel: str) -> str:
        return (self.build_dir / rel).read_text(encoding="utf-8")

    def _start_exporter(self, name: str, binary: str, rel: str, listen: str) -> None:
        settings = _env_file(self._read(rel))
        env = self._exporter_env(settings)
        args = shlex.split(env.pop("ARGS", ""))
        self.progress(f"starting {name} on {listen} ({rel})")
        self.sup.start(name, [*find_binary(binary), *args], env=env, ready=http_ready(f"http://{listen}/metrics"))

    def _start_exporters(self) -> None:
        for dep in self.here.dependencies:
            if dep.kind is DependencyKind.POSTGRES:
                self._start_exporter(f"{dep.name}-exporter", "prometheus-postgres-exporter", f"exporters/postgres/{dep.name}.env", dep.exporter_listen)
            elif dep.kind is DependencyKind.REDIS:
                self._start_exporter(f"{dep.name}-exporter", "prometheus-redis-exporter", f"exporters/redis/{dep.name}.env", dep.exporter_listen)
        for target in self.here.node_targets:
            self._start_exporter("node-exporter", "prometheus-node-exporter", exporters.node_args_path(target), target)
        self._start_exporter("blackbox-exporter", "prometheus-blackbox-exporter", exporters.BLACKBOX_ARGS_PATH, self.here.blackbox_address)

    # -- services --------------------------------------------------------------------------------

    def service_url(self, name: str) -> str:
        return self.ports.url(self.ports.services[name])

    def _service_env(self, service: Service) -> dict[str, str]:
        deps = {d.name: d for d in self.platform.dependencies}
        uses = [deps[n] for n in service.depends_on if n in deps]
        env = {
            **os.environ,
            "OBS_SERVICE_NAME": service.name,
            "OBS_ENVIRONMENT": self.env.name,
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.here.jaeger_otlp_endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OBS_TRACES_SAMPLE_RATIO": str(self.platform.sampling_ratio(service, self.env)),
            "OTEL_BSP_SCHEDULE_DELAY": "500",
            "OBS_DEMO_FAULTS": str(self.fault_file),
            "OBS_DEMO_UPSTREAMS": ",".join(self.service_url(n) for n in service.depends_on if n in self.ports.services),
        }
        postgres = next((d for d in uses if d.kind is DependencyKind.POSTGRES), None)
        redis = next((d for d in uses if d.kind is DependencyKind.REDIS), None)
        if postgres is not None:
            env["OBS_DEMO_POSTGRES_DSN"] = self.datastores[postgres.name]
        if redis is not None:
            env["OBS_DEMO_REDIS_URL"] = self.datastores[redis.name]
        if service.metrics_token_file:
            env["OBS_METRICS_TOKEN_FILE"] = service.metrics_token_file
        return env

    def _start_service(self, service: Service) -> None:
        port = self.ports.services[service.name]
        env = self._service_env(service)
        if service.kind is ServiceKind.FLASK:
            multiproc = self.sup.data_dir(service.name) / "prometheus-multiproc"
            shutil.rmtree(multiproc, ignore_errors=True)
            multiproc.mkdir(parents=True)
            env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
            conf = Path(__file__).with_name("apps") / "gunicorn_conf.py"
            argv = [sys.executable, "-m", "gunicorn", "-c", str(conf), "-w", str(self.options.workers), "-b", f"127.0.0.1:{port}", "obs.demo.apps.wsgi:app"]
            what = f"gunicorn, {self.options.workers} workers"
        else:
            from instrumentation.servers import UVICORN_LOG_CONFIG_FILE

            argv = [sys.executable, "-m", "uvicorn", "obs.demo.apps.asgi:app", "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-config", str(UVICORN_LOG_CONFIG_FILE)]
            what = "uvicorn"
        self.progress(f"starting {service.kind.value} service {service.name!r} on 127.0.0.1:{port} ({what})")
        self.sup.start(service.name, argv, env=env, ready=http_ready(f"{self.service_url(service.name)}/healthz"), timeout=60)

    def wait_until_scraped(self, timeout: float = 60.0) -> None:
        """Wait until Prometheus scrapes every target of its configuration and has evaluated the
        rules once since (its first scrape comes about 5 s after it starts)."""
        config = yaml.safe_load((self.config_dir / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
        jobs = {job["job_name"] for job in config["scrape_configs"]}

        def all_up() -> bool:
            targets = self.prometheus.targets()
            return {t.job for t in targets} == jobs and all(t.up for t in targets)

        wait_until(all_up, timeout=timeout, what=f"every target of the jobs {', '.join(sorted(jobs))} up")
        time.sleep(2 * seconds(self.env.scrape_interval))

    # -- faults ----------------------------------------------------------------------------------

    @property
    def stoppable(self) -> tuple[str, ...]:
        """Components a fault may stop: datastores, services and stand-in sites."""
        return (*self.datastores, *self.ports.services, *self.sites)

    def stop_component(self, name: str) -> None:
        if name in self.sites:
            self.sites[name].stop()
        elif name in self.datastores or name in self.ports.services:
            self.sup.stop(name)
        else:
            raise DemoError(f"{name!r} cannot be stopped: use one of {', '.join(self.stoppable)}")

    def start_component(self, name: str) -> None:
        if name in self.sites:
            self.sites[name].start()
            return
        process = self.sup[name]
        if not process.running():
            if process.env and "PROMETHEUS_MULTIPROC_DIR" in process.env:
                multiproc = Path(process.env["PROMETHEUS_MULTIPROC_DIR"])
                shutil.rmtree(multiproc, ignore_errors=True)  # a new server starts from empty files
                multiproc.mkdir(parents=True)
            self.sup.restart(name, timeout=60)

    def running(self, name: str) -> bool:
        if name in self.sites:
            return self.sites[name].running
        return self.sup[name].running()

    def set_fault(self, service: str, fault: Fault = NO_FAULT) -> None:
        """Make ``service`` fail or slow down (``NO_FAULT`` heals it)."""
        if service not in self.ports.services:
            raise DemoError(f"{service!r} is not a running service: use one of {', '.join(self.ports.services)}")
        self.faults[service] = fault
        write_faults(self.fault_file, self.faults)

    def traffic_targets(self, rate: float = 10.0) -> list[Target]:
        """Every demo service, as a traffic target of ``rate`` requests per second."""
        return [
            Target(s.name, self.service_url(s.name), any(n in self.ports.services for n in s.depends_on), rate)
            for s in self.platform.instrumented_services
        ]

    def log_path(self, name: str) -> Path:
        return self.sup.log_path(name)


__all__ = ["DEMO_EXTRA", "DemoError", "Stack", "StackOptions", "check_runnable", "required_binaries"]
