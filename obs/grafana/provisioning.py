"""Grafana provisioning files: datasources and dashboard providers, as data.

Datasource uids are stable and written here once: the dashboards, the exemplar and derived-field
links, and the trace-to-logs setting all point at them by uid, so a renamed datasource breaks
nothing. Secrets never appear: Grafana expands ``${VAR}`` from its environment in every value of a
provisioning file when it reads it, so the files can be committed and diffed.

That expansion is also a trap: Grafana reads *any* ``$name`` in a provisioning value as an
environment variable, so the ``${__value.raw}`` of a derived field or the ``${__trace.traceId}``
of a trace-to-logs query would silently become empty. Every literal ``$`` is therefore written
``$$`` (Grafana's escape), and only :func:`env_var` references stay single.

One Prometheus per environment (the ``environment`` label is an external label, absent from the
series inside Prometheus): every environment's Grafana lists all of them, and the dashboards'
``datasource`` variable picks one, which picks the environment. The environment being built is
the default.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from obs import contract
from obs.model import Environment, MetricsStore, Platform
from obs.model.store import TENANT_HEADERS

PROMETHEUS_TYPE = "prometheus"
JAEGER_UID = "jaeger"
ELASTICSEARCH_UID = "elasticsearch"
ALERTMANAGER_UID = "alertmanager"
#: The label prometheus_client puts in an exemplar (``Histogram.observe(v, exemplar={"trace_id": ...})``):
#: the obs instrumentation writes the W3C trace id under this name.
EXEMPLAR_TRACE_ID_LABEL = "trace_id"

DATASOURCES_PATH = "grafana/provisioning/datasources/obs.yml"
DASHBOARD_PROVIDERS_PATH = "grafana/provisioning/dashboards/obs.yml"
#: Where Grafana reads the dashboard JSON inside its container (the providers' ``path``).
DASHBOARDS_MOUNT = "/var/lib/grafana/dashboards"
DASHBOARDS_DIR = "grafana/dashboards"


def prometheus_uid(env: Environment | str) -> str:
    return f"prometheus-{env if isinstance(env, str) else env.name}"


def local_prometheus_uid(env: Environment | str) -> str:
    """The environment's own Prometheus when its default datasource is the metrics store."""
    return f"{prometheus_uid(env)}-local"


class EnvRef(str):
    """A value Grafana must expand from its environment (kept out of the ``$`` escaping)."""

    __slots__ = ()


_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
#: What may follow a single ``$`` in a written provisioning value: an environment reference,
#: ``$NAME`` (group 1: the name). Not ``${NAME}``: Grafana (11.x, ``values.interpolateValue``)
#: expands that form first and then runs ``os.ExpandEnv`` over the result, so a ``$`` inside the
#: variable's value (a password ``Pa$sw0rd``) is expanded again and lost; ``$NAME`` is expanded once.
ENV_REFERENCE = re.compile(r"\$([A-Z][A-Z0-9_]*)(?![A-Za-z0-9_])")
#: The braced form, refused by the checks for the reason above.
BRACED_ENV_REFERENCE = re.compile(r"(?<!\$)\$\{[A-Z][A-Z0-9_]*\}")


def env_var(name: str) -> EnvRef:
    """``$NAME``: Grafana replaces it with its environment variable when it reads the file (a
    whole value: nothing may follow the name)."""
    if not _ENV_NAME.match(name):
        raise ValueError(f"{name!r} is not an upper-case environment variable name")
    return EnvRef(f"${name}")


def _without_escapes(text: str) -> str:
    return text.replace("$$", "")  # Grafana's escaped literal $: never a reference


def env_references(text: str) -> list[str]:
    """The environment variables a written provisioning text refers to (``$$`` escapes skipped)."""
    return ENV_REFERENCE.findall(_without_escapes(text))


def braced_references(text: str) -> list[str]:
    """The ``${NAME}`` references in a written provisioning text (refused: see ``ENV_REFERENCE``)."""
    return BRACED_ENV_REFERENCE.findall(_without_escapes(text))


def escape_dollars(value: Any) -> Any:
    """Every literal ``$`` doubled (Grafana's escape), environment references kept; returns plain
    data the YAML writer can serialize."""
    if isinstance(value, EnvRef):
        return str(value)
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {k: escape_dollars(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape_dollars(v) for v in value]
    return value


def unescaped_dollars(value: str) -> list[str]:
    """Single ``$`` uses in a written value that are not environment references (empty: fine).
    Braced references are left to ``braced_references``, whose fix is not ``$$``."""
    rest = BRACED_ENV_REFERENCE.sub("", ENV_REFERENCE.sub("", _without_escapes(value)))
    return [rest[i : i + 20] for i in range(len(rest)) if rest[i] == "$"]


def _env_name(text: str) -> str:
    return text.upper().replace("-", "_")


def prometheus_url(platform: Platform, env: Environment) -> str:
    """Each environment's Prometheus base URL.

    The model has no per-environment Prometheus URL yet: the deployment supplies it through
    ``OBS_PROMETHEUS_URL_<ENV>`` (Grafana refuses to start a datasource with an empty URL, so a
    missing variable is loud).
    """
    explicit: str = getattr(env, "prometheus_url", "") or ""
    return explicit or env_var(f"OBS_PROMETHEUS_URL_{_env_name(env.name)}")


def log_index_pattern(platform: Platform) -> str:
    # All log classes of every environment: `logs-<platform>.<class>-<env>` data streams.
    return f"logs-{platform.name}.*"


def _store_of(platform: Platform, env: Environment, other: Environment) -> MetricsStore | None:
    """The metrics store ``other`` writes to, as far as ``env``'s view of the platform knows it:
    its own override, else the platform's (unknown when ``env`` overrides the platform's store and
    ``other`` does not: ``other`` then keeps its Prometheus datasource)."""
    if other.name == env.name:
        return platform.metrics_store
    if other.metrics_store is not None:
        return other.metrics_store
    return platform.metrics_store if env.metrics_store is None else None


#: Grafana's ``prometheusType`` per store kind (it has no VictoriaMetrics type: Prometheus' API).
_GRAFANA_STORE_TYPES = {"mimir": "Mimir", "thanos": "Thanos", "victoriametrics": "Prometheus"}


def store_datasource(other: Environment, store: MetricsStore, is_default: bool) -> dict[str, Any]:
    """The datasource of ``other``'s series in the metrics store, under the uid the dashboards use
    for the environment (:func:`prometheus_uid`): SLO recordings live only there once a ruler
    evaluates them. Scoped to the environment: VictoriaMetrics enforces ``extra_label`` on every
    selector; Mimir and Thanos read the tenant header (one tenant per environment keeps them apart)."""
    env_name = _env_name(other.name)
    json_data: dict[str, Any] = {
        "httpMethod": "POST",
        "timeInterval": other.scrape_interval,
        "prometheusType": _GRAFANA_STORE_TYPES[store.kind],
        "exemplarTraceIdDestinations": [{"name": EXEMPLAR_TRACE_ID_LABEL, "datasourceUid": JAEGER_UID}],
    }
    secure: dict[str, Any] = {}
    headers: list[tuple[str, EnvRef]] = []
    if store.kind == "victoriametrics":
        json_data["customQueryParameters"] = f"extra_label={contract.ENVIRONMENT_LABEL}%3D{quote(other.name, safe='')}"
    elif store.tenant:
        headers.append((TENANT_HEADERS[store.kind], env_var(f"OBS_METRICS_STORE_TENANT_{env_name}")))
    if store.bearer_token_file:
        # The whole header value ("Bearer <token>") comes from Grafana's environment.
        headers.append(("Authorization", env_var(f"OBS_METRICS_STORE_AUTHORIZATION_{env_name}")))
    for number, (name, value) in enumerate(headers, start=1):
        json_data[f"httpHeaderName{number}"] = name
        secure[f"httpHeaderValue{number}"] = value
    source: dict[str, Any] = {
        "name": f"Prometheus {other.name} ({store.kind})",
        "uid": prometheus_uid(other),
        "type": PROMETHEUS_TYPE,
        "access": "proxy",
        "url": store.query_url,
        "isDefault": is_default,
        "editable": False,
        "jsonData": json_data,
    }
    if store.basic_auth_username:
        source["basicAuth"] = True
        source["basicAuthUser"] = store.basic_auth_username
        secure["basicAuthPassword"] = env_var(f"OBS_METRICS_STORE_PASSWORD_{env_name}")
    if secure:
        source["secureJsonData"] = secure
    return source


def _prometheus_datasource(platform: Platform, other: Environment, name: str, uid: str, is_default: bool) -> dict[str, Any]:
    return {
        "name": name,
        "uid": uid,
        "type": PROMETHEUS_TYPE,
        "access": "proxy",
        "url": prometheus_url(platform, other),
        "isDefault": is_default,
        "editable": False,
        "jsonData": {
            "httpMethod": "POST",
            "timeInterval": other.scrape_interval,
            # Exemplars on latency panels open their trace in the Jaeger datasource.
            "exemplarTraceIdDestinations": [
                {"name": EXEMPLAR_TRACE_ID_LABEL, "datasourceUid": JAEGER_UID}
            ],
        },
    }


def datasources(platform: Platform, env: Environment) -> dict[str, Any]:
    """``provisioning/datasources/*.yml`` for the Grafana of ``env``.

    An environment with a metrics store reads it under its usual uid (the dashboards' default);
    its own Prometheus stays reachable as ``<uid>-local`` (recent samples, local rules), except in
    agent mode, where it answers no queries."""
    items: list[dict[str, Any]] = []
    for other in platform.environments:
        store = _store_of(platform, env, other)
        is_default = other.name == env.name
        if store is None:
            items.append(_prometheus_datasource(platform, other, f"Prometheus {other.name}", prometheus_uid(other), is_default))
            continue
        items.append(store_datasource(other, store, is_default))
        if other.name == env.name and not store.agent_mode:
            items.append(_prometheus_datasource(platform, other, f"Prometheus {other.name} (local)", local_prometheus_uid(other), False))
    items.append(
        {
            "name": "Jaeger",
            "uid": JAEGER_UID,
            "type": "jaeger",
            "access": "proxy",
            "url": platform.jaeger_url,
            "editable": False,
            "jsonData": {
                # A span opens the log lines that carry its trace id, in Elasticsearch.
                "tracesToLogsV2": {
                    "datasourceUid": ELASTICSEARCH_UID,
                    "filterByTraceID": True,
                    "filterBySpanID": False,
                    "spanStartTimeShift": "-5m",
                    "spanEndTimeShift": "5m",
                    "customQuery": True,
                    "query": f'{contract.TRACE_ID_FIELD}:"${{__trace.traceId}}"',
                    "tags": [{"key": "service.name", "value": "service.name"}],
                },
                "nodeGraph": {"enabled": True},
            },
        }
    )
    items.append(
        {
            "name": "Elasticsearch logs",
            "uid": ELASTICSEARCH_UID,
            "type": "elasticsearch",
            "access": "proxy",
            "url": platform.elasticsearch_url,
            "basicAuth": True,
            "basicAuthUser": env_var("OBS_ELASTICSEARCH_USER"),
            "secureJsonData": {"basicAuthPassword": env_var("OBS_ELASTICSEARCH_PASSWORD")},
            "editable": False,
            "jsonData": {
                "index": log_index_pattern(platform),
                "timeField": "@timestamp",
                "logMessageField": "message",
                "logLevelField": "log.level",
                "maxConcurrentShardRequests": 5,
                # A log line's trace id becomes a link to the trace in the Jaeger datasource.
                "dataLinks": [
                    {"field": contract.TRACE_ID_FIELD, "datasourceUid": JAEGER_UID, "url": "${__value.raw}"},
                ],
            },
        }
    )
    items.append(
        {
            "name": "Alertmanager",
            "uid": ALERTMANAGER_UID,
            "type": "alertmanager",
            "access": "proxy",
            "url": platform.alertmanager_url,
            "editable": False,
            "jsonData": {"implementation": "prometheus", "handleGrafanaManagedAlerts": False},
        }
    )
    escaped: dict[str, Any] = escape_dollars(
        {
            "apiVersion": 1,
            # Provisioned datasources that were renamed or dropped are removed, not left dangling.
            "deleteDatasources": [],
            "prune": True,
            "datasources": items,
        }
    )
    return escaped


def dashboard_providers(teams: list[str]) -> dict[str, Any]:
    """One file provider per team: each team's dashboards land in the team's folder."""
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": f"obs-{team}",
                "orgId": 1,
                "folder": team,
                "folderUid": f"obs-{team}",
                "type": "file",
                # The files are the source: a dashboard whose file is gone (a service removed, a uid
                # changed) is deleted too; Grafana keeps it, stale, when this is true.
                "disableDeletion": False,
                # Generated dashboards are edited in code: UI changes are discarded on reload.
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {"path": f"{DASHBOARDS_MOUNT}/{team}", "foldersFromFilesStructure": False},
            }
            for team in sorted(teams)
        ],
    }


def dashboard_path(team: str, uid: str) -> str:
    return f"{DASHBOARDS_DIR}/{team}/{uid}.json"


__all__ = [
    "ALERTMANAGER_UID",
    "DASHBOARDS_DIR",
    "DASHBOARDS_MOUNT",
    "DASHBOARD_PROVIDERS_PATH",
    "DATASOURCES_PATH",
    "ELASTICSEARCH_UID",
    "EXEMPLAR_TRACE_ID_LABEL",
    "JAEGER_UID",
    "dashboard_path",
    "dashboard_providers",
    "datasources",
    "BRACED_ENV_REFERENCE",
    "ENV_REFERENCE",
    "EnvRef",
    "env_var",
    "braced_references",
    "env_references",
    "escape_dollars",
    "local_prometheus_uid",
    "log_index_pattern",
    "prometheus_uid",
    "store_datasource",
    "prometheus_url",
    "unescaped_dollars",
]
