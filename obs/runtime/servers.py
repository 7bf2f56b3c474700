"""Launchers for the real servers a stack runs, each on 127.0.0.1 with a private folder, under a
:class:`~obs.runtime.processes.Supervisor`.

Every launcher takes the supervisor and the paths of its configuration files, finds its binary (or
raises :class:`~obs.runtime.binaries.BinaryNotFoundError` naming the Debian package), starts the
server on ``port`` (a free one when not given), waits until it answers, and returns a
:class:`Server` handle with its address and URL. Listen addresses are always explicit
``127.0.0.1:PORT``: nothing a test or the demo starts is reachable from outside the machine.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from obs.runtime.binaries import find_binary
from obs.runtime.processes import ManagedProcess, ProcessError, Supervisor
from obs.runtime.readiness import http_ready, ready_when

LOOPBACK = "127.0.0.1"

#: node_exporter collectors that work unprivileged in a container (no udev, systemd, hwmon, RAPL...)
#: and cover every node metric of the contract (filesystem, memory, CPU, load, vmstat, pressure,
#: network, disks).
NODE_COLLECTORS = ("cpu", "diskstats", "filesystem", "loadavg", "meminfo", "netdev", "pressure", "stat", "time", "uname", "vmstat")


@dataclass(frozen=True, slots=True)
class Server:
    """A started server: ``address`` is ``127.0.0.1:PORT``, ``url`` what a client connects to."""

    name: str
    process: ManagedProcess
    port: int
    url: str

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.process.data_dir

    @property
    def log_path(self) -> Path:
        return self.process.log_path


@dataclass(frozen=True, slots=True)
class PostgresServer(Server):
    """PostgreSQL with trust authentication for ``user`` on loopback and a unix socket in ``socket_dir``."""

    socket_dir: Path
    user: str

    def dsn(self, database: str = "postgres") -> str:
        """A libpq URL over TCP without TLS (the private server has no certificate)."""
        return f"postgresql://{self.user}@{LOOPBACK}:{self.port}/{database}?sslmode=disable"


def _port(port: int | None) -> int:
    return port if port is not None else Supervisor.free_port()


def _http_server(
    sup: Supervisor, name: str, argv: Sequence[str], port: int, ready_path: str, timeout: float,
    env: Mapping[str, str] | None = None,
) -> Server:  # fmt: skip
    url = f"http://{LOOPBACK}:{port}"
    process = sup.start(name, argv, ready=http_ready(url + ready_path), timeout=timeout, env=env)
    return Server(name, process, port, url)


# -- Prometheus, Alertmanager ---------------------------------------------------------------------


def start_prometheus(
    sup: Supervisor, config: Path, *, name: str = "prometheus", port: int | None = None, external_url: str | None = None,
    agent: bool = False, resend_delay: str = "1s", retention: str | None = None, log_level: str = "info",
    extra_args: Sequence[str] = (), timeout: float = 30.0,
) -> Server:  # fmt: skip
    """Prometheus with lifecycle API (``/-/reload``) and exemplar storage.

    ``agent`` runs it in agent mode (scrape and ``remote_write`` only: no rules, no local queries).
    ``resend_delay`` is how soon a still-firing alert is sent to Alertmanager again. The first
    scrape comes about 5 s after start (Prometheus' fixed discovery update period).
    """
    port = _port(port)
    data = sup.data_dir(name)
    argv = [
        *find_binary("prometheus"), f"--config.file={config}", f"--web.listen-address={LOOPBACK}:{port}",
        "--web.enable-lifecycle", f"--web.external-url={external_url or f'http://{LOOPBACK}:{port}/'}",
        f"--log.level={log_level}",
    ]  # fmt: skip
    if agent:
        argv += ["--enable-feature=agent,exemplar-storage", f"--storage.agent.path={data / 'agent'}"]
    else:
        argv += ["--enable-feature=exemplar-storage", f"--storage.tsdb.path={data / 'tsdb'}", f"--rules.alert.resend-delay={resend_delay}"]
        argv += [f"--storage.tsdb.retention.time={retention}"] if retention else []
    return _http_server(sup, name, [*argv, *extra_args], port, "/-/ready", timeout)


def start_alertmanager(
    sup: Supervisor, config: Path, *, name: str = "alertmanager", port: int | None = None,
    external_url: str | None = None, log_level: str = "info", extra_args: Sequence[str] = (), timeout: float = 30.0,
) -> Server:  # fmt: skip
    """Alertmanager without clustering: an empty ``--cluster.listen-address`` binds no gossip port,
    and a lone clustered Alertmanager delays notifications by its peer settle time."""
    port = _port(port)
    argv = [
        *find_binary("prometheus-alertmanager"), f"--config.file={config}", f"--storage.path={sup.data_dir(name)}",
        f"--web.listen-address={LOOPBACK}:{port}", "--cluster.listen-address=",
        f"--web.external-url={external_url or f'http://{LOOPBACK}:{port}/'}", f"--log.level={log_level}", *extra_args,
    ]  # fmt: skip
    return _http_server(sup, name, argv, port, "/-/ready", timeout)


# -- VictoriaMetrics ------------------------------------------------------------------------------


def start_victoria_metrics(
    sup: Supervisor, *, name: str = "victoria-metrics", port: int | None = None, retention_period: str = "1d",
    latency_offset: str = "1s", extra_args: Sequence[str] = (), timeout: float = 30.0,
) -> Server:  # fmt: skip
    """Single-node VictoriaMetrics: ``remote_write`` at ``<url>/api/v1/write``, PromQL at ``<url>/api/v1/query``.

    ``latency_offset`` (VictoriaMetrics' default is 30 s) is how old a sample must be before queries
    see it: a demo or a test reads what was written seconds ago.
    """
    port = _port(port)
    argv = [
        *find_binary("victoria-metrics"), f"-httpListenAddr={LOOPBACK}:{port}", f"-storageDataPath={sup.data_dir(name)}",
        f"-retentionPeriod={retention_period}", f"-search.latencyOffset={latency_offset}", *extra_args,
    ]  # fmt: skip
    return _http_server(sup, name, argv, port, "/health", timeout)


def start_vmalert(
    sup: Supervisor, rules: Sequence[Path], *, datasource_url: str, notifier_urls: Sequence[str],
    remote_write_url: str | None = None, remote_read_url: str | None = None, evaluation_interval: str = "1s",
    external_url: str | None = None, name: str = "vmalert", port: int | None = None,
    extra_args: Sequence[str] = (), timeout: float = 30.0,
) -> Server:  # fmt: skip
    """vmalert evaluating Prometheus-format rule files against ``datasource_url``, notifying Alertmanagers.

    ``remote_write_url`` stores recording-rule results and alert state (``ALERTS``,
    ``ALERTS_FOR_STATE``); ``remote_read_url`` restores that state after a restart.
    """
    if not rules:
        raise ProcessError(f"{name}: no rule file given (vmalert needs at least one -rule)")
    port = _port(port)
    argv = [
        *find_binary("vmalert"), *(f"-rule={path}" for path in rules), f"-datasource.url={datasource_url}",
        *(f"-notifier.url={url}" for url in notifier_urls), f"-evaluationInterval={evaluation_interval}",
        f"-httpListenAddr={LOOPBACK}:{port}", f"-external.url={external_url or f'http://{LOOPBACK}:{port}'}",
    ]  # fmt: skip
    argv += [f"-remoteWrite.url={remote_write_url}"] if remote_write_url else []
    argv += [f"-remoteRead.url={remote_read_url}"] if remote_read_url else []
    return _http_server(sup, name, [*argv, *extra_args], port, "/health", timeout)


# -- PostgreSQL, Redis ----------------------------------------------------------------------------


def _traversable_by(path: Path, uid: int, gids: set[int]) -> bool:
    """Whether a process of ``uid`` could reach ``path`` (execute permission on every ancestor)."""
    for folder in [path, *path.parents]:
        try:
            st = folder.stat()
        except OSError:
            return False
        if st.st_uid == uid:
            needed = stat.S_IXUSR
        elif st.st_gid in gids:
            needed = stat.S_IXGRP
        else:
            needed = stat.S_IXOTH
        if not st.st_mode & needed:
            return False
    return True


def _postgres_folder(sup: Supervisor, name: str, account: pwd.struct_passwd | None) -> Path:
    """The private folder of a PostgreSQL server: ``<run_dir>/<name>`` when the server's account can
    reach it and its socket path fits in 107 bytes, else a short one in the temp folder (linked from
    ``<run_dir>/<name>``, removed on close)."""
    folder = sup.run_dir / name
    reachable = account is None or _traversable_by(sup.run_dir, account.pw_uid, {account.pw_gid, *os.getgrouplist(account.pw_name, account.pw_gid)})
    if reachable and len(str(folder)) <= 80:
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder_outside = Path(tempfile.mkdtemp(prefix="obs-pg-"))
        os.chmod(folder_outside, 0o700)
        if folder.is_symlink():  # left by an earlier run of this name; its target is gone
            folder.unlink()
        if not folder.exists():
            folder.symlink_to(folder_outside, target_is_directory=True)
        sup.on_close(f"{name} folder", lambda: shutil.rmtree(folder_outside, ignore_errors=True))
        folder = folder_outside
    if account is not None:
        os.chown(folder, account.pw_uid, account.pw_gid)
    return folder


def _postmaster_ready(data: Path) -> bool:
    """``postmaster.pid``'s status line (the one ``pg_ctl -w`` reads) says ``ready``."""
    try:
        lines = (data / "postmaster.pid").read_text().splitlines()
    except OSError:
        return False
    return len(lines) >= 8 and lines[7].strip() == "ready"


def _postgres_account() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise ProcessError("PostgreSQL refuses to run as root and there is no 'postgres' account: apt-get install -y postgresql creates it") from None


def start_postgres(
    sup: Supervisor, *, name: str = "postgres", port: int | None = None, user: str = "postgres",
    settings: Mapping[str, str] | None = None, timeout: float = 60.0,
) -> PostgresServer:  # fmt: skip
    """A throw-away PostgreSQL: ``initdb`` into a private folder (trust authentication, no fsync),
    listening on 127.0.0.1:PORT and on a unix socket in that folder.

    As root, it runs as the ``postgres`` account (PostgreSQL refuses root) and the folder is owned by
    it. The postmaster is the supervised process itself (not forked away by ``pg_ctl start``), so it
    gets the parent-death signal; it is stopped with SIGINT, PostgreSQL's fast shutdown (what
    ``pg_ctl stop -m fast`` sends). ``settings`` are extra ``-c name=value`` server settings.
    """
    initdb, postgres = find_binary("initdb"), find_binary("postgres")
    port = _port(port)
    account = _postgres_account() if os.geteuid() == 0 else None
    run_as = account.pw_name if account is not None else None
    folder = _postgres_folder(sup, name, account)
    data = folder / "data"
    log_path = sup.log_path(name)
    if not (data / "PG_VERSION").exists():
        with log_path.open("ab") as log:
            done = subprocess.run(
                [*initdb, "-D", str(data), "-U", user, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, user=run_as, cwd=folder, timeout=120,
            )  # fmt: skip
        if done.returncode != 0:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
            raise ProcessError(f"{name}: initdb failed with code {done.returncode}; last lines of {log_path}:\n{tail}")
    options = {"listen_addresses": LOOPBACK, "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", **(settings or {})}
    argv = [*postgres, "-D", str(data), "-p", str(port), "-k", str(folder), *(a for k, v in options.items() for a in ("-c", f"{k}={v}"))]
    process = sup.start(
        name, argv, ready=ready_when(lambda: _postmaster_ready(data), f"{data}/postmaster.pid says ready"),
        timeout=timeout, stop_signal=signal.SIGINT, user=run_as,
    )  # fmt: skip
    return PostgresServer(name, process, port, f"postgresql://{user}@{LOOPBACK}:{port}/postgres?sslmode=disable", folder, user)


def _redis_pong(port: int) -> bool:
    with socket.create_connection((LOOPBACK, port), timeout=1.0) as conn:
        conn.sendall(b"PING\r\n")
        return conn.recv(64).startswith(b"+PONG")


def start_redis(
    sup: Supervisor, *, name: str = "redis", port: int | None = None, extra_args: Sequence[str] = (), timeout: float = 30.0,
) -> Server:  # fmt: skip
    """A throw-away Redis on 127.0.0.1: no snapshots, no append-only file; ready when it answers PING."""
    port = _port(port)
    argv = [
        *find_binary("redis-server"), "--port", str(port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no",
        "--dir", str(sup.data_dir(name)), "--daemonize", "no", *extra_args,
    ]  # fmt: skip
    process = sup.start(name, argv, ready=ready_when(lambda: _redis_pong(port), f"PING on {LOOPBACK}:{port} answers PONG"), timeout=timeout)
    return Server(name, process, port, f"redis://{LOOPBACK}:{port}")


# -- exporters ------------------------------------------------------------------------------------


def start_postgres_exporter(
    sup: Supervisor, dsn: str, *, name: str = "postgres-exporter", port: int | None = None, queries: Path | None = None,
    extra_args: Sequence[str] = (), timeout: float = 30.0,
) -> Server:  # fmt: skip
    """postgres_exporter for ``dsn`` (give ``sslmode=disable`` for a private server, as :meth:`PostgresServer.dsn` does);
    ``queries`` is a custom-queries file (``--extend.query-path``)."""
    port = _port(port)
    argv = [*find_binary("prometheus-postgres-exporter"), f"--web.listen-address={LOOPBACK}:{port}"]
    argv += [f"--extend.query-path={queries}"] if queries else []
    env = {**os.environ, "DATA_SOURCE_NAME": dsn}
    return _http_server(sup, name, [*argv, *extra_args], port, "/metrics", timeout, env=env)


def start_redis_exporter(
    sup: Supervisor, redis_url: str, *, name: str = "redis-exporter", port: int | None = None,
    extra_args: Sequence[str] = (), timeout: float = 30.0,
) -> Server:  # fmt: skip
    """redis_exporter for ``redis_url`` (``redis://127.0.0.1:PORT``)."""
    port = _port(port)
    argv = [*find_binary("prometheus-redis-exporter"), "-redis.addr", redis_url, "-web.listen-address", f"{LOOPBACK}:{port}", *extra_args]
    return _http_server(sup, name, argv, port, "/metrics", timeout)


def start_node_exporter(
    sup: Supervisor, *, name: str = "node-exporter", port: int | None = None, collectors: Sequence[str] = NODE_COLLECTORS,
    extra_args: Sequence[str] = (), timeout: float = 30.0,
) -> Server:  # fmt: skip
    """node_exporter with only ``collectors`` enabled (default: those that work unprivileged in a container)."""
    port = _port(port)
    argv = [
        *find_binary("prometheus-node-exporter"), f"--web.listen-address={LOOPBACK}:{port}", "--collector.disable-defaults",
        *(f"--collector.{c}" for c in collectors), *extra_args,
    ]  # fmt: skip
    return _http_server(sup, name, argv, port, "/metrics", timeout)


def start_blackbox_exporter(
    sup: Supervisor, config: Path, *, name: str = "blackbox-exporter", port: int | None = None,
    extra_args: Sequence[str] = (), timeout: float = 30.0,
) -> Server:  # fmt: skip
    """blackbox_exporter with the modules of ``config``; probe with ``<url>/probe?module=M&target=T``."""
    port = _port(port)
    argv = [*find_binary("prometheus-blackbox-exporter"), f"--config.file={config}", f"--web.listen-address={LOOPBACK}:{port}", *extra_args]
    return _http_server(sup, name, argv, port, "/metrics", timeout)


__all__ = [
    "LOOPBACK",
    "NODE_COLLECTORS",
    "PostgresServer",
    "Server",
    "start_alertmanager",
    "start_blackbox_exporter",
    "start_node_exporter",
    "start_postgres",
    "start_postgres_exporter",
    "start_prometheus",
    "start_redis",
    "start_redis_exporter",
    "start_victoria_metrics",
    "start_vmalert",
]
