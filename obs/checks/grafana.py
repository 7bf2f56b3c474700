"""Checks of the written Grafana files: dashboards (schema and lint) and provisioning."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from obs.artifacts import Artifact, Outcome
from obs.catalogue.dashboards import CATALOGUE_ORIGIN
from obs.grafana import provisioning
from obs.grafana.lint import lint
from obs.grafana.schema import validate
from obs.schemas import read_data


def dashboard_problems(data: Mapping[str, Any], *, schema: bool = True) -> list[str]:
    """Schema violations (unless ``schema`` is false) and lint problems of one dashboard's JSON,
    each naming where."""
    uid = data.get("uid", "<no uid>")
    violations = validate(data) if schema else []
    return [f"dashboard {uid}: schema: {e}" for e in violations] + [str(p) for p in lint(data)]


def verify(artifacts: Sequence[Artifact]) -> list[str]:
    """Every rendered dashboard passes the house rules, and the platform's own the schema too (at
    build time). The catalogue's dashboards are obs's own output, schema-tested by obs's tests and
    by ``obs check`` on every file written; validating each of them again in every build was most
    of a large platform's build time."""
    problems: list[str] = []
    for artifact in artifacts:
        if artifact.path.startswith(provisioning.DASHBOARDS_DIR + "/") and isinstance(artifact.content, Mapping):
            origin = f" (from {artifact.source})" if artifact.source else ""
            own = not artifact.source.startswith(CATALOGUE_ORIGIN + " ")
            problems += [f"{artifact.path}: {p}{origin}" for p in dashboard_problems(artifact.content, schema=own)]
    return problems


def _check_datasources(data: Any) -> list[str]:
    problems: list[str] = []
    if (
        not isinstance(data, dict)
        or data.get("apiVersion") != 1
        or not isinstance(data.get("datasources"), list)
    ):
        return ["datasources: needs apiVersion: 1 and a datasources list"]
    uids = [d.get("uid") for d in data["datasources"]]
    for ds in data["datasources"]:
        name = ds.get("name", "<unnamed>")
        for key in ("name", "uid", "type", "access", "url"):
            if not ds.get(key):
                problems.append(f"datasource {name}: missing {key}")
        json_data = ds.get("jsonData") or {}
        links = [
            *(json_data.get("exemplarTraceIdDestinations") or []),
            *(json_data.get("dataLinks") or []),
            *([json_data["tracesToLogsV2"]] if "tracesToLogsV2" in json_data else []),
        ]
        for link in links:
            if link.get("datasourceUid") not in uids:
                problems.append(
                    f"datasource {name}: links to datasource uid {link.get('datasourceUid')!r}, which is not provisioned"
                )
        for key, value in (ds.get("secureJsonData") or {}).items():
            if not (isinstance(value, str) and provisioning.ENV_REFERENCE.fullmatch(value)):
                problems.append(
                    f"datasource {name}: secureJsonData.{key} is a literal secret; write $VAR and set VAR in Grafana's environment"
                )
        for path, text in _strings(ds):
            for braced in provisioning.braced_references(text):
                problems.append(
                    f"datasource {name}: {path} has {braced!r}: Grafana expands the braced form and then the value "
                    f"again, so a $ inside the variable's value is lost; write ${braced[2:-1]}"
                )
            for bad in provisioning.unescaped_dollars(text):
                problems.append(
                    f"datasource {name}: {path} has {bad!r}: Grafana expands a single $ as an environment variable (write $$)"
                )
    if sum(bool(d.get("isDefault")) for d in data["datasources"]) != 1:
        problems.append("datasources: exactly one must be the default")
    if len(set(uids)) != len(uids):
        problems.append("datasources: uids are not unique")
    return problems


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{path}[{i}]")


def _check_providers(data: Any, dashboards_dir: Path) -> list[str]:
    if (
        not isinstance(data, dict)
        or data.get("apiVersion") != 1
        or not isinstance(data.get("providers"), list)
    ):
        return ["dashboard providers: needs apiVersion: 1 and a providers list"]
    problems: list[str] = []
    for provider in data["providers"]:
        name = provider.get("name", "<unnamed>")
        path = str((provider.get("options") or {}).get("path", ""))
        if provider.get("type") != "file" or not path.startswith(provisioning.DASHBOARDS_MOUNT + "/"):
            problems.append(
                f"provider {name}: must be a file provider under {provisioning.DASHBOARDS_MOUNT}/"
            )
            continue
        team = path.removeprefix(provisioning.DASHBOARDS_MOUNT + "/")
        if not (dashboards_dir / team).is_dir():
            problems.append(f"provider {name}: folder {team}/ holds no dashboards")
    return problems


def check(env_dir: Path) -> Iterable[Outcome]:
    dashboards_dir = env_dir / provisioning.DASHBOARDS_DIR
    files = sorted(dashboards_dir.rglob("*.json"))
    if not files:
        yield Outcome("grafana dashboards", "failed", f"no dashboard JSON under {dashboards_dir}")
        return
    problems: list[str] = []
    for path in files:
        try:
            data = read_data(path)
        except (OSError, ValueError) as exc:
            problems.append(f"{path.name}: cannot read: {exc}")
            continue
        if data.get("uid") != path.stem:
            problems.append(f"{path.name}: uid {data.get('uid')!r} differs from the file name")
        problems += dashboard_problems(data)
    yield Outcome(
        f"grafana dashboards: schema and lint ({len(files)} files)",
        "failed" if problems else "passed",
        "\n".join(problems),
    )
    provisioning_problems: list[str] = []
    for rel, checker in (
        (provisioning.DATASOURCES_PATH, _check_datasources),
        (provisioning.DASHBOARD_PROVIDERS_PATH, lambda d: _check_providers(d, dashboards_dir)),
    ):
        path = env_dir / rel
        try:
            provisioning_problems += [f"{rel}: {p}" for p in checker(read_data(path))]
        except (OSError, ValueError) as exc:
            provisioning_problems.append(f"{rel}: cannot read: {exc}")
    yield Outcome(
        "grafana provisioning",
        "failed" if provisioning_problems else "passed",
        "\n".join(provisioning_problems),
    )


__all__ = ["check", "dashboard_problems", "verify"]
