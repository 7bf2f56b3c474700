"""Real servers on 127.0.0.1: uvicorn and gunicorn processes configured by environment variables only,
spans received by a real OTLP receiver (gRPC and HTTP), metrics aggregated over two gunicorn workers."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from obs.contract import HTTP_SERVER_ACTIVE, HTTP_SERVER_DURATION, TARGET_INFO
from tests.conftest import free_port
from tests.instrumentation.conftest import promtool_check
from tests.instrumentation.otlp_sink import OtlpSink

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@contextlib.contextmanager
def running(cmd: list[str], port: int, env: dict[str, str], timeout: float = 30.0) -> Iterator[str]:
    """Start a server, wait until it answers, and stop it (its whole process group) afterwards."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OBS_", "OTEL_", "PROMETHEUS_MULTIPROC"))}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env={**clean, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {proc.stderr.read().decode()[-3000:] if proc.stderr else ''}")
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).close()
                break
            except urllib.error.HTTPError as err:  # any HTTP answer means it is serving (/healthz is a 404 here)
                err.close()
                break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server not ready in {timeout}s")
            time.sleep(0.1)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        if proc.stderr:
            proc.stderr.close()


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.read().decode()


def uvicorn(port: int, *extra: str) -> list[str]:
    return [str(BIN / "uvicorn"), "tests.instrumentation.apps:make_fastapi_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning", *extra]  # fmt: skip


def gunicorn(port: int, *extra: str) -> list[str]:
    return [str(BIN / "gunicorn"), "tests.instrumentation.apps:make_flask_app()", "-b", f"127.0.0.1:{port}",
            "--log-level", "warning", "--timeout", "20", *extra]  # fmt: skip


@pytest.fixture
def sink() -> Iterator[OtlpSink]:
    with OtlpSink() as s:
        yield s


@pytest.mark.parametrize(("server", "protocol"), [("uvicorn", "grpc"), ("gunicorn", "http/protobuf")])
def test_a_real_server_exports_its_spans_over_otlp(sink: OtlpSink, server: str, protocol: str) -> None:
    port = free_port()
    env = {
        "OTEL_SERVICE_NAME": "backend",
        "OTEL_RESOURCE_ATTRIBUTES": "service.version=2.0.1,deployment.environment=staging",
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink.grpc_endpoint if protocol == "grpc" else sink.http_endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
    }
    cmd = uvicorn(port) if server == "uvicorn" else gunicorn(port, "-w", "1")
    with running(cmd, port, env) as base:
        status, _ = get(base + "/items/7", {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"})
        assert status == 200
        spans = sink.wait_for(lambda s: any(x.trace_id == TRACE_ID for x in s), timeout=15)
    (span,) = [s for s in spans if s.trace_id == TRACE_ID]
    template = "/items/{item_id}" if server == "uvicorn" else "/items/<int:item_id>"
    assert span.name == f"GET {template}"
    assert span.transport == ("grpc" if protocol == "grpc" else "http")
    assert span.parent_span_id == "00f067aa0ba902b7"
    assert span.attributes["http.route"] == template
    assert span.attributes["http.response.status_code"] == 200
    assert span.resource["service.name"] == "backend"
    assert span.resource["service.version"] == "2.0.1"
    assert span.resource["deployment.environment"] == "staging"
    assert [s.name for s in spans if s.name.startswith("GET /healthz")] == [], "health checks are excluded"


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn"])
def test_a_real_server_answers_while_the_otlp_endpoint_is_down(server: str) -> None:
    port = free_port()
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}", "OBS_OTLP_TIMEOUT": "1"}
    cmd = uvicorn(port) if server == "uvicorn" else gunicorn(port, "-w", "1")
    with running(cmd, port, env) as base:
        started = time.monotonic()
        for n in range(50):
            assert get(f"{base}/items/{n}")[0] == 200
        assert time.monotonic() - started < 10


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn"])
def test_the_metrics_of_a_real_server_pass_promtool(server: str) -> None:
    port = free_port()
    cmd = uvicorn(port) if server == "uvicorn" else gunicorn(port, "-w", "1")
    with running(cmd, port, {"OBS_SERVICE_NAME": "backend", "OBS_TRACES": "false"}) as base:
        for target in ("/items/1", "/nope", "/boom"):
            get(base + target)
        status, body = get(base + "/metrics")
    assert status == 200
    assert HTTP_SERVER_DURATION.name + "_count" in body
    result = promtool_check(body)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == "", result.stdout + result.stderr


def _count(body: str, route: str) -> float:
    total = 0.0
    for line in body.splitlines():
        if line.startswith(HTTP_SERVER_DURATION.name + "_count{") and f'http_route="{route}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_two_gunicorn_workers_are_aggregated_through_multiprocess_mode(tmp_path: Path) -> None:
    port = free_port()
    mpdir = tmp_path / "prom"
    mpdir.mkdir()
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text("from exporters.prometheus import child_exit  # noqa: F401\n")
    env = {"PROMETHEUS_MULTIPROC_DIR": str(mpdir), "OBS_SERVICE_NAME": "backend", "OBS_TRACES": "false"}
    with running(gunicorn(port, "-w", "2", "-c", str(conf)), port, env) as base:
        for n in range(40):
            assert get(f"{base}/items/{n}")[0] == 200
        # Concurrent slow requests: a sync worker serves one at a time, so both workers serve some.
        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(lambda _: get(base + "/sleep"), range(12)))
        bodies = [get(base + "/metrics")[1] for _ in range(6)]
    served_by = {json.loads(body)["pid"] for _, body in answers}
    assert len(served_by) == 2, f"both workers must serve requests, got pids {served_by}"
    # Whichever worker answered the scrape, it reports the requests of both workers.
    assert {_count(b, "/items/<int:item_id>") for b in bodies} == {40.0}
    assert {_count(b, "/sleep") for b in bodies} == {12.0}
    body = bodies[-1]
    active = [line for line in body.splitlines() if line.startswith(HTTP_SERVER_ACTIVE.name + "{")]
    assert active and all("pid=" not in line for line in active), "livesum: one series, not one per worker"
    info = [line for line in body.splitlines() if line.startswith(TARGET_INFO.name + "{")]
    assert len(info) == 1 and info[0].endswith(" 1.0"), info
    result = promtool_check(body)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == "", result.stdout + result.stderr


def test_uvicorn_workers_are_aggregated_through_multiprocess_mode(tmp_path: Path) -> None:
    port = free_port()
    mpdir = tmp_path / "prom"
    mpdir.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(mpdir), "OBS_SERVICE_NAME": "backend", "OBS_TRACES": "false"}
    with running(uvicorn(port, "--workers", "2"), port, env, timeout=60) as base:
        served_by: set[int] = set()
        sent = 0
        deadline = time.monotonic() + 30
        # The kernel spreads connections over the workers' accept calls; keep going until both served.
        while len(served_by) < 2 and time.monotonic() < deadline:
            with ThreadPoolExecutor(max_workers=8) as pool:
                answers = list(pool.map(lambda _: get(base + "/sleep"), range(16)))
            sent += len(answers)
            served_by |= {json.loads(body)["pid"] for _, body in answers}
        bodies = [get(base + "/metrics")[1] for _ in range(6)]
    assert len(served_by) == 2, f"both workers must serve requests, got pids {served_by}"
    assert {_count(b, "/sleep") for b in bodies} == {float(sent)}


@pytest.mark.parametrize("server", ["gunicorn", "uvicorn"])
def test_held_access_lines_of_two_workers_on_one_pipe_arrive_whole_and_once(server: str) -> None:
    """Access lines are held and written in batches: both workers share the server's stderr pipe,
    so a batch is written in pieces of at most PIPE_BUF bytes, which the kernel keeps whole. Lines
    ~400 bytes long make every batch several pieces. The lines of a running server arrive
    within about a second (the flushing thread), the rest when it stops (at exit)."""
    port = free_port()
    cmd = gunicorn(port, "-w", "2") if server == "gunicorn" else uvicorn(port, "--workers", "2")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OBS_", "OTEL_", "PROMETHEUS_MULTIPROC"))}
    env = {**clean, "PYTHONPATH": str(ROOT), "OBS_SERVICE_NAME": "backend", "OBS_TRACES": "false"}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    chunks: list[bytes] = []

    def drain() -> None:  # a pipe must be read while the server writes, or the workers block
        assert proc.stderr is not None
        for chunk in iter(lambda: proc.stderr.read1(65536), b""):  # type: ignore[union-attr]
            chunks.append(chunk)

    def access_paths() -> list[str]:
        lines = b"".join(chunks).decode().splitlines()
        records = [json.loads(line) for line in lines if line.startswith("{")]  # a torn line fails here
        return [r["url.path"] for r in records if r.get("event.dataset") == "access"]

    paths = [f"/nope/{'x' * 250}/{n}" for n in range(300)]
    with ThreadPoolExecutor(max_workers=1) as reader:
        reader.submit(drain)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=1).close()
                except urllib.error.HTTPError as err:
                    err.close()
                    break
                except OSError:
                    assert proc.poll() is None and time.monotonic() < deadline, b"".join(chunks).decode()[-3000:]
                    time.sleep(0.1)
            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(pool.map(lambda p: get(base + p)[0], paths))
            assert set(statuses) == {404}
            deadline = time.monotonic() + 10
            while sorted(access_paths()) != sorted(paths) and time.monotonic() < deadline:
                time.sleep(0.1)
            arrived_while_running = sorted(access_paths())
            get(base + "/items/1")  # held, and written when the worker exits
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
    assert arrived_while_running == sorted(paths), "every line, whole, within the flush interval"
    final = access_paths()
    assert sorted(final) == sorted([*paths, "/items/1"]), "each line once, the last one written at exit"
