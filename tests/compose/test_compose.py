"""The compose group: one Docker Compose file per environment that runs the generated stack.

Everything is checked against a real build of every group (the compose file mounts their files):
the Compose JSON Schema, the mounts, the scrape targets, the secrets, the pinned images.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from edu_platform import platform as edu_as_designed
from obs import schemas
from obs.artifacts import group
from obs.builder import build, render_environment
from obs.checks import compose as compose_checks
from obs.errors import RenderError
from obs.images import IMAGES
from obs.model import ComponentOverride, Compose, Environment, Platform
from obs.renderers import compose, prometheus
from obs.writer import serialize


def _on_compose(platform: Platform) -> Platform:
    """The platform with every environment on Compose (staging and prod run on Kubernetes as
    designed; the Compose file is tested in every kind of environment nonetheless)."""
    environments = tuple(
        replace(
            env,
            runtime=Compose(),
            overrides={name: replace(o, autoscaling=None, selector={}, port_name="") for name, o in env.overrides.items()},
        )
        for env in platform.environments
    )
    return replace(platform, environments=environments)


edu = _on_compose(edu_as_designed)
ENVIRONMENTS = [e.name for e in edu.environments]
#: The environments the built-in platform runs on Compose: the golden files are theirs.
COMPOSE_ENVIRONMENTS = [e.name for e in edu_as_designed.environments if isinstance(e.runtime, Compose)]
DOCS = Path(__file__).parents[2] / "docs" / "compose.md"


def _document(platform: Platform, env: Environment) -> dict[str, Any]:
    """The compose file the build renders for ``env`` (both phases, in memory)."""
    rendered = render_environment(platform, env, [group("compose")])
    content: dict[str, Any] = rendered["compose"][0].content
    return content


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every group built for every environment of the built-in platform."""
    out = tmp_path_factory.mktemp("build") / "out"
    build(edu, out)
    return out


def _doc(built: Path, env: str = "prod") -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((built / env / compose.COMPOSE_PATH).read_text())
    return data


def _prom(built: Path, env: str = "prod") -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((built / env / prometheus.CONFIG_PATH).read_text())
    return data


@pytest.fixture
def env_copy(built: Path, tmp_path: Path) -> Path:
    """A private copy of the prod output, to break."""
    target = tmp_path / "prod"
    shutil.copytree(built / "prod", target)
    return target


def _outcome(env_dir: Path, name: str) -> Any:
    (outcome,) = [o for o in compose_checks.check(env_dir) if o.name == name]
    return outcome


def _write(env_dir: Path, doc: dict[str, Any]) -> None:
    (env_dir / compose.COMPOSE_PATH).write_text(yaml.safe_dump(doc, sort_keys=True))


# --- golden and schema ------------------------------------------------------------------------------


@pytest.mark.parametrize("env", COMPOSE_ENVIRONMENTS)
def test_rendered_file_matches_the_golden_file(golden: Callable[[str, bytes], None], env: str) -> None:
    platform = edu_as_designed
    rendered = render_environment(platform, platform.environment(env), [group("compose")])
    (artifact,) = rendered["compose"]
    golden(f"compose/{env}/docker-compose.yaml", serialize(artifact.path, artifact.content, f"platform 'edu', environment {env!r}"))


def test_only_environments_on_compose_get_a_compose_file(tmp_path: Path) -> None:
    result = build(edu_as_designed, tmp_path / "out", groups=["compose"])
    assert sorted(result.files) == [f"{env}/{compose.COMPOSE_PATH}" for env in sorted(COMPOSE_ENVIRONMENTS)]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_file_follows_the_compose_specification(built: Path, env: str) -> None:
    assert schemas.validate("compose-spec", _doc(built, env)) == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_check_passes_on_the_written_files(built: Path, env: str) -> None:
    outcomes = list(compose_checks.check(built / env))
    assert len(outcomes) == 5
    assert all(o.status == "passed" for o in outcomes), outcomes


def test_the_vendored_schema_is_read_as_draft_2019_09() -> None:
    import jsonschema

    schema = schemas.load("compose-spec")
    assert jsonschema.validators.validator_for(schema) is jsonschema.Draft201909Validator


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (
            lambda d: d["services"]["prometheus"].update(imagee="prom/prometheus:v2.53.0"),
            "'imagee' does not match any of the regexes",
        ),
        (lambda d: d["services"]["grafana"].update(image=3), "3 is not of type 'string'"),
        (
            lambda d: d["services"]["jaeger"]["volumes"][0].update(read_only="yes"),
            "services/jaeger/volumes/0: ",  # oneOf (short or long syntax): jsonschema names the path
        ),
        (
            lambda d: d["services"]["elasticsearch"]["healthcheck"].update(retries="many"),
            "'many' is not of type 'number'",
        ),
        (
            lambda d: d["services"]["grafana"]["depends_on"]["prometheus"].update(condition="service_ready"),
            "services/grafana/depends_on: ",
        ),
        (lambda d: d.update(name="edu-prod"), "'name' does not match any of the regexes"),
        (
            lambda d: d["services"].update({"bad name": {"image": "x:1"}}),
            "'bad name' does not match any of the regexes",
        ),
    ],
)
def test_check_fails_on_a_schema_violation(
    env_copy: Path, mutate: Callable[[dict[str, Any]], Any], problem: str
) -> None:
    doc = _doc(env_copy.parent, "prod")
    mutate(doc)
    _write(env_copy, doc)
    outcome = _outcome(env_copy, "schema compose-spec")
    assert outcome.status == "failed"
    assert problem in outcome.detail, outcome.detail


# --- mounts -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "missing",
    [
        "prometheus/prometheus.yml",
        "prometheus/rules",
        "alertmanager/alertmanager.yml",
        "grafana/provisioning/datasources/obs.yml",
        "grafana/dashboards",
        "jaeger/sampling_strategies.json",
        "otel-collector/config.yaml",
        "logstash/pipeline/obs.conf",
        "fluentd/fluent.conf",
        "kibana/saved_objects.ndjson",
        "elasticsearch/ilm/logs-edu.audit-prod.json",
        "exporters/blackbox/blackbox.yml",
        "exporters/postgres/queries.yaml",
        "exporters/redis/redis.env",  # an env_file, not a volume
    ],
)
def test_check_fails_when_a_mounted_file_is_renamed(env_copy: Path, missing: str) -> None:
    path = env_copy / missing
    assert path.exists(), f"the build no longer writes {missing}: update this test"
    path.rename(path.with_name(path.name + ".renamed"))
    outcome = _outcome(env_copy, "compose mounts exist in the build")
    assert outcome.status == "failed"
    assert f"../{missing}," in outcome.detail, outcome.detail


def test_every_mount_is_a_file_another_group_writes(built: Path) -> None:
    env_dir = built / "prod"
    sources = compose_checks.host_sources(_doc(built))
    assert len(sources) > 20
    for service, source in sources:
        if source in compose.HOST_PATHS:
            continue
        assert source.startswith("../"), (service, source)
        path = (env_dir / "compose" / source).resolve()
        assert path.is_relative_to(env_dir.resolve()) and path.exists(), (service, source)
        assert not path.is_relative_to((env_dir / "compose").resolve()), (service, source)


@pytest.mark.parametrize("source", ["/etc/passwd", "../../staging/prometheus/prometheus.yml", "${HOME}/x"])
def test_check_fails_on_a_mount_outside_the_environment(env_copy: Path, source: str) -> None:
    doc = _doc(env_copy.parent)
    doc["services"]["prometheus"]["volumes"].append(
        {"type": "bind", "source": source, "target": "/x", "read_only": True}
    )
    _write(env_copy, doc)
    outcome = _outcome(env_copy, "compose mounts exist in the build")
    assert outcome.status == "failed" and source in outcome.detail


# --- hosts and ports --------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_scrape_target_host_is_a_compose_service(built: Path, env: str) -> None:
    doc, prom = _doc(built, env), _prom(built, env)
    names = compose.service_names(doc)
    apps = {t for targets in doc[compose.APPLICATION_TARGETS_KEY].values() for t in targets}
    addresses = compose.scrape_addresses(prom)
    assert ("blackbox-http", edu.blackbox_address) in addresses  # the relabelled address, not the probed URL
    for job, address in addresses:
        host, _, port = address.rpartition(":")
        if address in apps:
            # Only the platform's own services are left to the user, under the job of their name.
            assert job in {s.name for s in edu.instrumented_services}
            continue
        service = "prometheus" if host == "localhost" else names[host]
        assert port in doc["services"][service]["expose"], (job, address)
    assert compose.unresolved_targets(doc, prom) == []


def test_application_targets_are_the_instrumented_services_targets(built: Path) -> None:
    env = edu.environment("prod")
    doc = _doc(built)
    assert doc[compose.APPLICATION_TARGETS_KEY] == {
        s.name: list(edu.scrape_targets(s, env)) for s in edu.instrumented_services
    }


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda d: d["services"].pop("node-exporter"), "job node: node-exporter:9100: no compose service"),
        (lambda d: d["services"]["redis-exporter"].update(expose=["9999"]), "listens on 9999, not 9121"),
        (
            lambda d: (
                d["services"]["alertmanager"].update(networks=["obs"]) or d["services"].pop("alertmanager")
            ),
            "job alertmanager",
        ),
        (lambda d: d[compose.APPLICATION_TARGETS_KEY].pop("bridge"), "job bridge: bridge:5000"),
    ],
)
def test_check_fails_when_a_scrape_target_has_no_service(
    env_copy: Path, mutate: Callable[[dict[str, Any]], Any], problem: str
) -> None:
    doc = _doc(env_copy.parent)
    mutate(doc)
    _write(env_copy, doc)
    outcome = _outcome(env_copy, "prometheus scrape targets are compose services")
    assert outcome.status == "failed"
    assert problem in outcome.detail, outcome.detail


def _with_postgres_targets(*targets: str) -> tuple[Any, Any]:
    prod = edu.environment("prod")
    moved = replace(prod, overrides={**prod.overrides, "postgres": ComponentOverride(targets=targets)})
    return replace(edu, environments=(moved,)), moved


def test_an_exporter_answers_to_every_host_an_environment_scrapes_it_under() -> None:
    platform, env = _with_postgres_targets("pg-exporter.prod.internal:9187")
    doc = _document(platform, env)
    assert doc["services"]["postgres-exporter"]["networks"] == {
        "obs": {"aliases": ["pg-exporter.prod.internal"]}
    }


def test_render_fails_clearly_when_prometheus_scrapes_what_the_stack_does_not_serve() -> None:
    platform, env = _with_postgres_targets("postgres-exporter:9999")
    with pytest.raises(
        RenderError,
        match=r"job postgres: postgres-exporter:9999: service postgres-exporter listens on 9187, not 9999",
    ):
        _document(platform, env)


def test_an_application_target_on_localhost_is_a_listed_limitation() -> None:
    from obs.loader import load_platform

    platform = load_platform(Path(__file__).parents[1] / "foundation" / "platforms" / "good.yaml")
    doc = _document(platform, platform.environment("dev"))
    assert any("localhost:8000" in note for note in doc[compose.LIMITATIONS_KEY])


def test_hosts_and_ports_come_from_the_model() -> None:
    platform = replace(
        edu,
        alertmanager_url="http://am.internal:9193",
        elasticsearch_url="http://search:9201",
        jaeger_url="http://traces:16687",
        node_targets=("node.internal:9101",),
        blackbox_address="probe:9116",
    )
    # dev: staging and prod name their own Alertmanager (kube-prometheus-stack's), which wins.
    env = platform.environment("dev")
    doc = _document(platform, env)
    services = doc["services"]
    assert services["alertmanager"]["networks"] == {"obs": {"aliases": ["am.internal"]}}
    assert "--web.listen-address=am.internal:9193" in services["alertmanager"]["command"]
    assert services["elasticsearch"]["networks"] == {"obs": {"aliases": ["search"]}}
    assert services["elasticsearch"]["environment"]["http.port"] == "9201"
    assert services["kibana"]["environment"]["ELASTICSEARCH_HOSTS"] == '["http://search:9201"]'
    assert services["jaeger"]["networks"] == {"obs": {"aliases": ["traces"]}}
    assert services["jaeger"]["ports"] == ["16687:16687"]
    assert "--web.listen-address=node.internal:9101" in services["node.internal"]["command"]
    assert "--web.listen-address=probe:9116" in services["probe"]["command"]
    assert compose.LIMITATIONS_KEY not in doc  # all http: nothing the stack cannot serve
    assert compose.unresolved_targets(doc, prometheus.config(platform, env)) == []


def test_https_urls_the_stack_cannot_serve_are_listed(built: Path) -> None:
    (note,) = _doc(built)[compose.LIMITATIONS_KEY]
    assert edu.jaeger_url in note and "443" in note
    # The collector's OTLP export is on 4317, over TLS as well: spans would not arrive either.
    assert "the collector exports spans to jaeger.edu.example.org:4317 over TLS" in note


@pytest.mark.parametrize(
    ("endpoint", "aliases", "notes"),
    [
        ("http://jaeger-collector.tracing:4317", ["traces", "jaeger-collector.tracing"], []),
        ("http://traces:4317", ["traces"], []),
        ("https://otlp.example.org:4317", ["traces", "otlp.example.org"], ["jaeger_otlp_endpoint is https://otlp.example.org:4317: "]),
        ("http://jaeger-collector:14317", ["traces", "jaeger-collector"], ["jaeger_otlp_endpoint is http://jaeger-collector:14317: Jaeger here receives"]),
    ],
)  # fmt: skip
def test_the_otlp_endpoint_of_the_model_reaches_the_local_jaeger(endpoint: str, aliases: list[str], notes: list[str]) -> None:
    """Under compose the collector's export must resolve to the Jaeger container, in plaintext on 4317;
    what cannot is listed, never silently lost."""
    platform = replace(edu, jaeger_url="http://traces:16686", jaeger_otlp_endpoint=endpoint)
    doc = _document(platform, platform.environment("dev"))
    assert doc["services"]["jaeger"]["networks"] == {"obs": {"aliases": sorted(aliases)}}
    listed = doc.get(compose.LIMITATIONS_KEY, [])
    assert len(listed) == len(notes)
    for note, start in zip(listed, notes, strict=True):
        assert note.startswith(start), note


def test_otlp_ports_are_the_conventions(built: Path) -> None:
    from obs.formats.conventions import OTLP_GRPC_PORT, OTLP_HTTP_PORT

    collector = _doc(built)["services"]["otel-collector"]
    assert collector["ports"] == [f"{OTLP_GRPC_PORT}:{OTLP_GRPC_PORT}", f"{OTLP_HTTP_PORT}:{OTLP_HTTP_PORT}"]


def test_grafana_reads_this_environments_prometheus_from_the_stack(built: Path) -> None:
    for env in ENVIRONMENTS:
        environment = _doc(built, env)["services"]["grafana"]["environment"]
        assert environment[f"OBS_PROMETHEUS_URL_{env.upper()}"] == "http://prometheus:9090"
        others = [e for e in ENVIRONMENTS if e != env]
        for other in others:
            assert environment[f"OBS_PROMETHEUS_URL_{other.upper()}"].startswith(
                f"${{OBS_PROMETHEUS_URL_{other.upper()}:-"
            )


# --- secrets and images -------------------------------------------------------------------------------


def test_every_credential_file_a_config_reads_is_a_secret(built: Path) -> None:
    doc = _doc(built)
    secrets = doc["secrets"]
    for name, spec in secrets.items():
        assert spec == {"file": f"{compose.SECRETS_SOURCE}/{name}"}
    alertmanager_cfg = yaml.safe_load((built / "prod" / "alertmanager" / "alertmanager.yml").read_text())
    targets = {s["target"] for s in doc["services"]["alertmanager"]["secrets"]}
    assert set(compose.credential_files(alertmanager_cfg)) == targets
    assert {s["target"] for s in doc["services"]["prometheus"]["secrets"]} == {
        "/etc/prometheus/secrets/backend-metrics-token"
    }
    assert {s["target"] for s in doc["services"]["postgres-exporter"]["secrets"]} == {
        "/run/secrets/postgres-exporter-user",
        "/run/secrets/postgres-exporter-password",
    }


@pytest.mark.parametrize(
    ("service", "target"),
    [
        ("prometheus", "/etc/prometheus/secrets/backend-metrics-token"),
        ("alertmanager", "/etc/alertmanager/secrets/alert-receivers/web-pager-key"),
        ("redis-exporter", "/run/secrets/redis-exporter-passwords.json"),
    ],
)
def test_check_fails_when_a_credential_file_is_not_mounted(env_copy: Path, service: str, target: str) -> None:
    doc = _doc(env_copy.parent)
    doc["services"][service]["secrets"] = [
        s for s in doc["services"][service]["secrets"] if s["target"] != target
    ]
    _write(env_copy, doc)
    outcome = _outcome(env_copy, "credential files are mounted secrets")
    assert outcome.status == "failed"
    assert f"{service}: reads {target}" in outcome.detail


def test_no_image_is_unpinned(built: Path) -> None:
    for env in ENVIRONMENTS:
        for name, service in _doc(built, env)["services"].items():
            image = service["image"]
            assert ":" in image.rpartition("/")[2] and not image.endswith(":latest"), (name, image)
            assert image in IMAGES.values()
    assert compose_checks.unpinned_images(_doc(built)) == []


@pytest.mark.parametrize("image", ["grafana/grafana:latest", "grafana/grafana", "localhost:5000/grafana"])
def test_check_fails_on_an_unpinned_image(env_copy: Path, image: str) -> None:
    doc = copy.deepcopy(_doc(env_copy.parent))
    doc["services"]["grafana"]["image"] = image
    _write(env_copy, doc)
    outcome = _outcome(env_copy, "compose images are pinned")
    assert outcome.status == "failed" and image in outcome.detail


def test_the_checked_tools_are_the_images_that_run() -> None:
    from obs.tools import TOOLS

    assert IMAGES["prometheus"] == TOOLS["promtool"].image
    assert IMAGES["alertmanager"] == TOOLS["amtool"].image
    assert IMAGES["blackbox-exporter"] == TOOLS["blackbox_exporter"].image


def test_the_docs_list_every_pinned_image() -> None:
    text = DOCS.read_text()
    for image in IMAGES.values():
        assert f"`{image}`" in text, f"docs/compose.md does not list {image}"


def test_the_stack_runs_every_component_the_brief_names(built: Path) -> None:
    services = _doc(built)["services"]
    images = {s["image"] for s in services.values()}
    for key in (
        "prometheus",
        "alertmanager",
        "grafana",
        "jaeger",
        "otel-collector",
        "elasticsearch",
        "logstash",
        "kibana",
        "fluentd",
        "postgres-exporter",
        "redis-exporter",
        "node-exporter",
        "blackbox-exporter",
    ):
        assert IMAGES[key] in images, key


def test_prometheus_keeps_the_longest_slo_window_and_a_margin(built: Path) -> None:
    """The budget recordings sum over the SLO window: with Prometheus's default 15 days of data, a
    30-day window would quietly cover half of itself."""
    longest = max(slo.window_seconds for service in edu.services for slo in service.slos) // 86400
    assert longest > compose.DEFAULT_RETENTION_DAYS  # the built-in platform needs the flag
    command = _doc(built)["services"]["prometheus"]["command"]
    assert f"--storage.tsdb.retention.time={longest + compose.RETENTION_MARGIN_DAYS}d" in command


def test_without_a_long_slo_prometheus_keeps_its_default_retention() -> None:
    services = tuple(replace(s, slos=()) for s in edu.services)
    assert compose.prometheus_retention_days(replace(edu, services=services)) == compose.DEFAULT_RETENTION_DAYS


@pytest.mark.parametrize("writer", ["logstash", "fluentd"])
def test_log_writers_start_after_the_index_templates_are_in_place(built: Path, writer: str) -> None:
    """A data stream written before its template exists is made from Elasticsearch's built-in
    logs-*-* template, with dynamic mappings and a policy that never deletes, and stays so."""
    depends = _doc(built)["services"][writer]["depends_on"]
    assert depends["elasticsearch-setup"] == {"condition": "service_completed_successfully"}
    assert depends["elasticsearch"] == {"condition": "service_healthy"}
