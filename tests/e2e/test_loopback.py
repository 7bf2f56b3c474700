"""An environment on 127.0.0.1, derived by obs from the model (obs.demo.loopback), builds, and every
generated configuration follows its addresses: no file still names an address of the environment
it was derived from."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from obs.builder import render
from obs.cli import main
from obs.demo.loopback import loopback_platform, plan_ports
from obs.demo.stack import DemoError, check_runnable
from obs.loader import load_project
from obs.model import Platform
from obs.runtime import BINARIES

REPO = Path(__file__).resolve().parents[2]
PROJECT = load_project(REPO / "edu_platform.py")
ENVIRONMENTS = [e.name for e in PROJECT.platform.environments]

#: File → why it still names an address of the source environment: a renderer that does not
#: follow the environment yet (reported to the lead; remove the entry when it does).
#: Files of the loopback environment allowed to name an address of the source environment, with why.
KNOWN_GAPS: dict[str, str] = {}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def source_addresses(platform: Platform, env_name: str) -> set[str]:
    """Every address the source environment gives a listener: host:port pairs and URL origins."""
    env = platform.environment(env_name)
    here = platform.in_environment(env)
    found: set[str] = {*here.node_targets, here.blackbox_address, here.prometheus_address}
    for url in (here.grafana_url, here.alertmanager_url, here.jaeger_url, here.elasticsearch_url, here.alert_webhook_url, here.heartbeat_url, here.pagerduty_url):
        if url:
            found.add(_origin(url))
    for dep in here.dependencies:
        found |= {dep.exporter_address, dep.exporter_listen, dep.address if "://" not in dep.address else _origin(dep.address)}
    for service in here.services:
        found |= set(here.scrape_targets(service, env)) if service.kind.instrumented else set()
        if here.probe_url(service, env):
            found.add(_origin(here.probe_url(service, env)))
    return {a for a in found if a}


def _files(env_name: str) -> Iterator[tuple[str, str]]:
    source = PROJECT.platform
    derived = loopback_platform(source, env_name, plan_ports(source), Path("/run/obs-demo/secrets"))
    result = render(derived, root=PROJECT.root, allow_code=True)
    for rel, data in sorted(result.files.items()):
        if "/prometheus/tests/" in rel:
            continue  # promtool tests: their input series are fixtures, whose instance labels are examples
        # Comments may quote an example address (e.g. a secret's format); only settings count.
        text = "\n".join(line for line in data.decode(errors="replace").splitlines() if not line.lstrip().startswith("#"))
        yield rel.split("/", 1)[1], text


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_a_loopback_environment_builds_and_every_file_follows_its_addresses(env_name: str) -> None:
    addresses = source_addresses(PROJECT.platform, env_name)
    assert "postgres:5432" in addresses and len(addresses) > 10
    leaks: dict[str, list[str]] = {}
    for rel, text in _files(env_name):
        found = sorted(a for a in addresses if a in text)
        if found:
            leaks[rel] = found
    unexpected = {rel: found for rel, found in leaks.items() if rel not in KNOWN_GAPS}
    assert not unexpected, f"files of the loopback {env_name} still naming the source's addresses: {unexpected}"
    fixed = sorted(set(KNOWN_GAPS) - set(leaks))
    assert not fixed, f"{fixed} follow the addresses now: remove them from KNOWN_GAPS"


def test_a_local_environment_gets_no_composite_output() -> None:
    source = PROJECT.platform
    derived = loopback_platform(source, "dev", plan_ports(source), Path("/run/obs-demo/secrets"))
    result = render(derived, root=PROJECT.root, allow_code=True)
    groups = {rel.split("/")[1] for rel in result.files}
    assert groups >= {"prometheus", "alertmanager", "exporters", "grafana"}
    assert not groups & {"compose", "kubernetes"}, sorted(groups)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"smtp_smarthost": "mail:25", "smtp_from": "alerts@example.org"}, "smtp_smarthost: the demo runs no mail server"),
        ({"audit_alertmanager_url": "http://audit:9093"}, "audit_alertmanager_url: the demo runs one Alertmanager"),
    ],
)
def test_what_the_demo_cannot_run_is_refused_before_anything_starts(change: dict[str, str], message: str) -> None:
    with pytest.raises(DemoError, match=message):
        check_runnable(replace(PROJECT.platform, **change))  # type: ignore[arg-type]


def test_a_missing_server_is_named_with_its_debian_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # PostgreSQL's own folder is still searched
    for spec in BINARIES.values():
        monkeypatch.delenv(spec.env_var, raising=False)
    code = main(["demo", "--platform", str(REPO / "edu_platform.py"), "--env", "dev", "--run-dir", str(tmp_path / "run"), "--no-live"])
    assert code == 4
    error = capsys.readouterr().err
    assert "prometheus, prometheus-alertmanager, prometheus-node-exporter, prometheus-blackbox-exporter" in error
    assert "apt-get install -y prometheus prometheus-alertmanager prometheus-node-exporter prometheus-blackbox-exporter" in error
