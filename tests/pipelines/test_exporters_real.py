"""The rendered exporter configuration run by the real exporters (Debian packages), on loopback.

postgres_exporter runs the custom queries against a throwaway PostgreSQL; node_exporter starts with
the rendered flags. Skipped when the binaries (or the postgres system user) are missing.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from edu_platform import platform as edu
from obs import contract
from obs.model import DependencyKind
from obs.renderers import exporters
from tests.conftest import free_port

pytestmark = pytest.mark.slow


def _scrape(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> str:
    end = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"exporter exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:
                return str(resp.read().decode())
        except OSError as exc:
            last = exc
            time.sleep(0.05)
    raise AssertionError(f"no /metrics on 127.0.0.1:{port}: {last}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def postgres_tool(name: str) -> str | None:
    """Debian keeps initdb/pg_ctl in /usr/lib/postgresql/<version>/bin, off PATH."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    return str(candidates[-1]) if candidates else None


@pytest.fixture
def postgres() -> Iterator[int]:
    initdb, pg_ctl = postgres_tool("initdb"), postgres_tool("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL server binaries not installed (Debian: apt-get install -y postgresql)")
    for tool in ("runuser", "openssl", "prometheus-postgres-exporter"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed")
    if os.geteuid() != 0:
        pytest.skip("starting PostgreSQL as the postgres user needs root")
    # pytest's tmp_path lives under a root-only folder the postgres user cannot enter.
    tmp_path = Path(tempfile.mkdtemp(prefix="obs-pg-"))
    try:
        shutil.chown(tmp_path, "postgres")
    except (LookupError, PermissionError):
        shutil.rmtree(tmp_path)
        pytest.skip("no postgres system user")
    port = free_port()
    data = tmp_path / "pg"
    as_postgres = ["runuser", "-u", "postgres", "--"]
    try:
        subprocess.run([*as_postgres, initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"], check=True, capture_output=True, timeout=60)
    except BaseException:
        shutil.rmtree(tmp_path, ignore_errors=True)
        raise
    # TLS on, with a throwaway self-signed certificate: the rendered sslmode (require) is used as is.
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(tmp_path / "server.key"), "-out", str(tmp_path / "server.crt")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    for name in ("server.key", "server.crt"):
        shutil.chown(tmp_path / name, "postgres")
    (tmp_path / "server.key").chmod(0o600)
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {tmp_path} -c fsync=off -c ssl=on"
        f" -c ssl_cert_file={tmp_path / 'server.crt'} -c ssl_key_file={tmp_path / 'server.key'}"
    )
    subprocess.run([*as_postgres, pg_ctl, "-D", str(data), "-l", str(tmp_path / "pg.log"), "-w", "-o", options, "start"], check=True, capture_output=True, timeout=60)
    try:
        yield port
    finally:
        subprocess.run([*as_postgres, pg_ctl, "-D", str(data), "-m", "fast", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(tmp_path, ignore_errors=True)


def read_env_file(text: str) -> dict[str, str]:
    """KEY=value lines as systemd's EnvironmentFile reads them (comments skipped, quotes dropped)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key] = shlex.split(value)[0] if value else ""
    return out


def test_postgres_exporter_reads_the_rendered_env_and_runs_the_custom_queries(postgres: int, tmp_path: Path) -> None:
    dep = next(d for d in edu.dependencies if d.kind is DependencyKind.POSTGRES)
    rendered = read_env_file(exporters.postgres_env(dep))
    queries = tmp_path / "queries.yaml"
    queries.write_text(yaml.safe_dump(exporters.postgres_queries()))
    (tmp_path / "user").write_text("postgres")
    (tmp_path / "password").write_text("")
    port = free_port()
    # The rendered variable names, with values pointing at the throwaway server and files.
    local = {
        "DATA_SOURCE_URI": rendered["DATA_SOURCE_URI"].replace(dep.address, f"127.0.0.1:{postgres}"),
        "DATA_SOURCE_USER_FILE": str(tmp_path / "user"),
        "DATA_SOURCE_PASS_FILE": str(tmp_path / "password"),
        "PG_EXPORTER_EXTEND_QUERY_PATH": str(queries),
        "PG_EXPORTER_WEB_LISTEN_ADDRESS": f"127.0.0.1:{port}",
    }
    assert set(local) == set(rendered)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATA_SOURCE", "PG_EXPORTER"))} | local
    log = tmp_path / "exporter.log"
    proc = subprocess.Popen(["prometheus-postgres-exporter"], env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    try:
        text = _scrape(port, proc)
    finally:
        _stop(proc)
    assert "pg_up 1" in text, log.read_text()[-2000:]
    declared = contract.known_series_names()
    for query in exporters.POSTGRES_QUERIES:
        for name in query.metric_names():
            assert name in declared
            assert f'{name}{{datname="postgres"' in text, f"{name} missing from the scrape"
    # No transaction is old: the series exist with 0, so alerts never have to handle absence.
    line = next(ln for ln in text.splitlines() if ln.startswith('pg_long_running_transactions_count{datname="postgres"'))
    assert line.endswith(" 0")


def test_redis_exporter_reads_the_rendered_env(tmp_path: Path) -> None:
    if shutil.which("prometheus-redis-exporter") is None:
        pytest.skip("prometheus-redis-exporter not installed")
    dep = next(d for d in edu.dependencies if d.kind is DependencyKind.REDIS)
    rendered = read_env_file(exporters.redis_env(dep))
    passwords = tmp_path / "passwords.json"
    passwords.write_text("{}")
    port = free_port()
    local = {
        **rendered,
        # Nothing listens there: the exporter must still start and report redis_up 0.
        "REDIS_ADDR": f"redis://127.0.0.1:{free_port()}",
        "REDIS_PASSWORD_FILE": str(passwords),
        "REDIS_EXPORTER_WEB_LISTEN_ADDRESS": f"127.0.0.1:{port}",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("REDIS_")} | local
    proc = subprocess.Popen(["prometheus-redis-exporter"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        text = _scrape(port, proc)
    finally:
        _stop(proc)
    assert "redis_up 0" in text


def test_node_exporter_starts_with_the_rendered_flags_and_skips_pseudo_filesystems(tmp_path: Path) -> None:
    if shutil.which("prometheus-node-exporter") is None:
        pytest.skip("prometheus-node-exporter not installed")
    port = free_port()
    env_line = next(ln for ln in exporters.node_env(f"127.0.0.1:{port}").splitlines() if ln.startswith("ARGS="))
    # As the Debian unit reads it: EnvironmentFile drops the quotes, `$ARGS` splits on whitespace.
    flags = shlex.split(env_line.removeprefix("ARGS="))[0].split()
    assert flags == [*exporters.node_flags(), f"--web.listen-address=127.0.0.1:{port}"]
    # The textfile directory is the deployment's; a temporary one keeps the test off the host.
    flags = [f"--collector.textfile.directory={tmp_path}" if f.startswith("--collector.textfile.directory=") else f for f in flags]
    (tmp_path / "backup.prom").write_text("# HELP backup_ok Whether the last backup worked.\n# TYPE backup_ok gauge\nbackup_ok 1\n")
    proc = subprocess.Popen(["prometheus-node-exporter", *flags], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        text = _scrape(port, proc)
    finally:
        _stop(proc)
    assert "backup_ok 1" in text
    filesystem_lines = [ln for ln in text.splitlines() if ln.startswith("node_filesystem_avail_bytes{")]
    assert not any('fstype="tmpfs"' in ln or 'fstype="proc"' in ln or 'mountpoint="/proc' in ln for ln in filesystem_lines), filesystem_lines


@pytest.fixture
def http_target() -> Iterator[int]:
    """A plain-HTTP server on loopback answering 200."""
    import http.server
    import threading

    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.mark.parametrize(
    ("module", "success"),
    [
        (contract.BLACKBOX_HTTP_MODULE, 1),
        ("tcp_connect", 1),
        # The target is plain HTTP: the TLS modules must say so rather than pass.
        ("http_2xx_tls", 0),
        ("tls_connect", 0),
    ],
)
def test_the_blackbox_modules_probe_as_intended(tmp_path: Path, http_target: int, module: str, success: int) -> None:
    if shutil.which(exporters.BLACKBOX_BINARY) is None:
        pytest.skip("prometheus-blackbox-exporter not installed")
    config = tmp_path / "blackbox.yml"
    config.write_text(yaml.safe_dump(exporters.blackbox()))
    port = free_port()
    proc = subprocess.Popen(
        [exporters.BLACKBOX_BINARY, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _scrape(port, proc)  # up
        target = f"http://127.0.0.1:{http_target}/" if module.startswith("http") else f"127.0.0.1:{http_target}"
        url = f"http://127.0.0.1:{port}/probe?module={module}&target={urllib.parse.quote(target, safe='')}"
        with urllib.request.urlopen(url, timeout=10) as resp:
            text = resp.read().decode()
    finally:
        _stop(proc)
    assert f"probe_success {success}" in text, text
