"""What the live scale-out tests share: an instrumented service, the build, and the generated files
read back the way each server would read them."""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import yaml

from obs.builder import build
from obs.model import Platform
from obs.renderers.ruler import MOUNTS, RULER_DIRS


class Service:
    """The obs-instrumented Flask app on 127.0.0.1:``port``: ``/ok`` answers 200, ``/fail`` 503."""

    def __init__(self, name: str, port: int) -> None:
        from flask import Flask
        from prometheus_client import CollectorRegistry
        from werkzeug.serving import make_server

        import instrumentation

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        app = Flask(f"live-{name}")

        @app.get("/ok")
        def ok() -> str:
            return "ok"

        @app.get("/fail")
        def fail() -> tuple[str, int]:
            return "down", 503

        instrumentation.instrument(
            app, service_name=name, registry=CollectorRegistry(), traces=False, json_logs=False, access_log=False, metrics_port=None
        )
        self.port = port
        self._server = make_server("127.0.0.1", port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def get(self, path: str) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as response:
                return int(response.status)
        except urllib.error.HTTPError as err:
            return int(err.code)

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


#: The groups a live test runs (Compose would package them for one Docker host, not loopback).
LIVE_GROUPS = ("prometheus", "rules", "ruler", "alertmanager", "grafana")


def build_env(platform: Platform, out: Path) -> Path:
    """Build the platform's first environment into ``out`` (the groups a live test runs); its folder."""
    env = platform.environments[0].name
    build(platform, out, [env], LIVE_GROUPS, root=Path(__file__).parents[2])
    return out / env


def time_compressed(rule_files: list[Path], into: Path, *, vmalert: bool = False) -> list[Path]:
    """Copies of the rule files with every ``for`` and group ``interval`` at 1s: only time is
    compressed. For ``vmalert`` (Debian's 1.79 predates ``keep_firing_for``) that field is left out."""
    into.mkdir(parents=True, exist_ok=True)
    copies = []
    for path in rule_files:
        data = yaml.safe_load(path.read_text())
        for group in data["groups"]:
            if "interval" in group:
                group["interval"] = "1s"
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = "1s"
                if "keep_firing_for" in rule:
                    if vmalert:
                        del rule["keep_firing_for"]
                    else:
                        rule["keep_firing_for"] = "1s"
        copy = into / path.name
        copy.write_text(yaml.safe_dump(data))
        copies.append(copy)
    return copies


def vmalert_args(env_dir: Path, rules_dir: Path, port: int) -> list[str]:
    """vmalert's generated command line, with the rules at ``rules_dir`` instead of the mount point."""
    flags: list[str] = yaml.safe_load((env_dir / RULER_DIRS["victoriametrics"] / "flags.yml").read_text())
    mount = f"-rule={MOUNTS['victoriametrics']}/rules/"
    return [f"-rule={rules_dir}/" + f.removeprefix(mount) if f.startswith(mount) else f for f in flags] + [
        f"-httpListenAddr=127.0.0.1:{port}",
        "-loggerLevel=WARN",
    ]


def dashboard_queries(env_dir: Path) -> Iterator[tuple[str, str, str]]:
    """(dashboard uid, panel title, expression) of every panel query of the built dashboards."""

    def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for panel in items:
            yield panel
            yield from panels(panel.get("panels") or [])

    for path in sorted((env_dir / "grafana" / "dashboards").rglob("*.json")):
        board = json.loads(path.read_text())
        for panel in panels(board.get("panels") or []):
            for target in panel.get("targets") or []:
                if target.get("expr"):
                    yield board["uid"], panel.get("title", ""), target["expr"]


def query(base_url: str, expr: str, **params: str) -> dict[str, Any]:
    """An instant query with extra URL parameters (what Grafana's customQueryParameters add)."""
    url = f"{base_url}/api/v1/query?{urlencode({'query': expr, **params})}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as err:
        answer = {"status": "error", "error": err.read().decode(errors="replace")}
    return answer
