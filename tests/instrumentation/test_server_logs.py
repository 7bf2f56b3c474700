"""Every line a real server process writes is JSON and redacted: uvicorn's and gunicorn's own
loggers (start-up, shutdown, an unhandled exception's traceback) go through the app's formatter,
with the request's trace id on the exception's line. A route crashes with secrets in its exception
message, its query string and its headers; none of them reaches stdout or stderr."""

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
from pathlib import Path
from typing import Any

import pytest

from instrumentation.servers import UVICORN_LOG_CONFIG_FILE
from tests.conftest import free_port
from tests.instrumentation.apps import CRASH_SECRETS

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

QUERY_SECRETS = ("qsecret123", "bob.kid")
HEADER_SECRETS = ("hdr.secret.token9", "cookiesecret77", "apikeysecret55")
SECRETS = (*CRASH_SECRETS, *QUERY_SECRETS, *HEADER_SECRETS)
CRASH_TARGET = "/crash?token=qsecret123&email=bob.kid%40school.example"
CRASH_HEADERS = {
    "Authorization": "Bearer hdr.secret.token9",
    "Cookie": "session=cookiesecret77",
    "X-Api-Key": "apikeysecret55",
}


@contextlib.contextmanager
def server(cmd: list[str], port: int, out: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run ``cmd`` with stdout and stderr in files under ``out``; stop it (SIGTERM, its whole group)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OBS_", "OTEL_", "PROMETHEUS_MULTIPROC"))}
    with open(out / "stdout", "wb") as stdout, open(out / "stderr", "wb") as stderr:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env={**clean, "PYTHONPATH": str(ROOT), "OBS_SERVICE_NAME": "backend", **(env or {})},
            stdout=stdout, stderr=stderr, start_new_session=True,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, (out / "stderr").read_text()[-3000:]
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=1).close()
                    break
                except urllib.error.HTTPError as err:  # any answer: it serves (/healthz is a 404 here)
                    err.close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, "server not ready in 60 s"
                    time.sleep(0.1)
            yield base
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def get(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as err:
        with err:
            return int(err.code)


def drive(base: str) -> None:
    assert get(base + "/items/1") == 200
    assert get(base + "/log") == 200
    assert get(base + CRASH_TARGET, CRASH_HEADERS) == 500


def output(out: Path) -> tuple[str, list[str]]:
    text = (out / "stdout").read_text(errors="replace") + (out / "stderr").read_text(errors="replace")
    return text, [line for line in text.splitlines() if line.strip()]


def records(lines: list[str]) -> list[dict[str, Any]]:
    parsed = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"a line that is not JSON: {line[:300]!r}") from None
        assert isinstance(record, dict), line
        parsed.append(record)
    return parsed


def uvicorn(port: int, *extra: str) -> list[str]:
    # uvicorn's defaults otherwise: its access log on, level info (lifecycle lines).
    return [str(BIN / "uvicorn"), "tests.instrumentation.apps:make_fastapi_app", "--factory",
            "--host", "127.0.0.1", "--port", str(port), *extra]  # fmt: skip


def gunicorn(port: int, *extra: str) -> list[str]:
    return [str(BIN / "gunicorn"), "tests.instrumentation.apps:make_flask_app_propagating()",
            "-b", f"127.0.0.1:{port}", "--timeout", "20", "--access-logfile", "-", *extra]  # fmt: skip


def assert_the_crash_is_one_redacted_json_record(found: list[dict[str, Any]], logger: str) -> None:
    (access,) = [r for r in found if r.get("event.dataset") == "access" and r.get("url.path") == "/crash"]
    crashes = [r for r in found if r.get("error.stack_trace") and r["log.logger"] != "obs.access"]
    assert [r["log.logger"] for r in crashes] == [logger]
    (crash,) = crashes
    assert crash["error.type"] == "RuntimeError"
    assert "[REDACTED]" in crash["error.message"]
    assert crash["error.stack_trace"].startswith("Traceback") and "RuntimeError" in crash["error.stack_trace"]
    assert crash["trace.id"] == access["trace.id"], "the server's line carries the request's trace id"
    assert crash["span.id"] == access["span.id"]


@pytest.mark.parametrize(
    "mode", ["single process, uvicorn's own logging", "two workers, --log-config"], ids=["single", "workers"]
)
def test_every_line_of_a_uvicorn_server_is_json_and_no_secret_leaks(tmp_path: Path, mode: str) -> None:
    port = free_port()
    extra = [] if mode.startswith("single") else ["--workers", "2", "--log-config", str(UVICORN_LOG_CONFIG_FILE)]
    with server(uvicorn(port, *extra), port, tmp_path) as base:
        drive(base)
    text, lines = output(tmp_path)
    for secret in SECRETS:
        assert secret not in text, secret
    found = records(lines)
    assert_the_crash_is_one_redacted_json_record(found, "uvicorn.error")
    lifecycle = [r["message"] for r in found if r["log.logger"] == "uvicorn.error"]
    assert any("Started server process" in m for m in lifecycle) and any("Shutting down" in m for m in lifecycle)
    assert [r for r in found if r["log.logger"] == "uvicorn.access"] == [], "obs writes the access log"
    assert {r["service.name"] for r in found} == {"backend"}


def test_every_line_of_a_gunicorn_server_with_the_json_logger_class_is_json(tmp_path: Path) -> None:
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text('logger_class = "instrumentation.gunicorn_logger.JsonGunicornLogger"\n')
    port = free_port()
    with server(gunicorn(port, "-w", "2", "-c", str(conf)), port, tmp_path) as base:
        drive(base)
    text, lines = output(tmp_path)
    for secret in SECRETS:
        assert secret not in text, secret
    found = records(lines)
    assert_the_crash_is_one_redacted_json_record(found, "gunicorn.error")
    (crash,) = [r for r in found if r.get("error.stack_trace") and r["log.logger"] == "gunicorn.error"]
    assert crash["message"].endswith(" /crash"), "the target without its query string"
    master = [r["message"] for r in found if r["log.logger"] == "gunicorn.error"]
    assert any(m.startswith("Starting gunicorn") for m in master) and any(m.startswith("Booting worker") for m in master)
    assert [r for r in found if r["log.logger"] == "gunicorn.access"] == [], "obs writes the access log"


def test_a_gunicorn_worker_without_the_logger_class_writes_json_and_leaks_nothing(tmp_path: Path) -> None:
    """Without the logger class the master's own lines stay gunicorn's text; everything the worker
    writes, the crash included, is JSON, and no secret reaches either."""
    port = free_port()
    with server(gunicorn(port, "-w", "1"), port, tmp_path) as base:
        drive(base)
    text, lines = output(tmp_path)
    for secret in SECRETS:
        assert secret not in text, secret
    found = records([line for line in lines if line.startswith("{")])
    assert_the_crash_is_one_redacted_json_record(found, "gunicorn.error")
    plain = [line for line in lines if not line.startswith("{")]
    assert plain and all("[INFO]" in line for line in plain), plain  # the master's lifecycle lines
