"""Where a click on a dashboard goes: other dashboards, the logs in Grafana Explore
(Elasticsearch) and the traces in Jaeger, for the time range on screen."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from obs import contract, links
from obs.grafana import Link, Variable, query_variable
from obs.grafana.provisioning import ELASTICSEARCH_UID
from obs.model import Environment, Platform

#: Grafana expands these in link URLs: the dashboard's time range in epoch milliseconds.
FROM_MS, TO_MS = "${__from}", "${__to}"

#: The environment whose logs and traces the links open: the one the picked Prometheus reports.
ENVIRONMENT_VARIABLE = "environment"
ENVIRONMENT = f"${{{ENVIRONMENT_VARIABLE}}}"
_ENV_LOG_FIELD = contract.LOG_FIELD_INDEX["service.environment"].name


def environment_variable(env: Environment) -> Variable:
    """Hidden: the environment the selected Prometheus's services report (``target_info``), so that
    the logs and traces links open that environment's only, whichever Prometheus is picked. One
    Elasticsearch and one Jaeger hold every environment."""
    info = contract.TARGET_INFO
    return query_variable(
        ENVIRONMENT_VARIABLE,
        "Environment of the logs and traces",
        f"label_values({info.name}, {contract.TARGET_INFO_ENVIRONMENT_LABEL})",
        default=env.name,
        hidden=True,
        description="Filled from the selected Prometheus: the logs and traces links open this environment only.",
    )


def dashboard(title: str, uid: str, panel: int | None = None, **variables: str) -> Link:
    """A link to another dashboard of the same Grafana, keeping the environment picked."""
    url = links.dashboard_url("", uid, panel, **variables)
    sep = "&" if "?" in url else "?"
    return Link(title, f"{url}{sep}var-datasource=${{datasource}}&from={FROM_MS}&to={TO_MS}", new_tab=False)


def logs(title: str, lucene: str) -> Link:
    """Grafana Explore on the Elasticsearch datasource with a Lucene query, over the same range."""
    pane = {
        "datasource": ELASTICSEARCH_UID,
        "queries": [
            {
                "refId": "A",
                "datasource": {"type": "elasticsearch", "uid": ELASTICSEARCH_UID},
                "query": lucene,
                "metrics": [{"id": "1", "type": "logs"}],
            }
        ],
        "range": {"from": FROM_MS, "to": TO_MS},
    }
    panes = json.dumps({"logs": pane}, separators=(",", ":"), sort_keys=True)
    # Grafana variables inside the JSON must stay verbatim so Grafana can expand them.
    return Link(title, f"/explore?schemaVersion=1&orgId=1&panes={quote(panes, safe='${}:,')}")


def service_logs_query(service: str, extra: str = "") -> str:
    """Lucene for a service's lines in the dashboard's environment (see ``environment_variable``)."""
    query = f'service.name:"{service}" AND {_ENV_LOG_FIELD}:"{ENVIRONMENT}"'
    return f"{query} AND {extra}" if extra else query


def traces(
    platform: Platform,
    title: str,
    service: str,
    *,
    tags: dict[str, str] | None = None,
    min_duration: str = "",
) -> Link:
    """Jaeger's search for a service's traces in the range on screen (Jaeger wants microseconds),
    in the dashboard's environment (the ``deployment.environment`` resource attribute)."""
    params = [
        ("service", service),
        ("start", f"{FROM_MS}000"),
        ("end", f"{TO_MS}000"),
        ("limit", "20"),
        ("lookback", "custom"),
    ]
    params.append(("tags", json.dumps({**(tags or {}), contract.ENVIRONMENT_RESOURCE_ATTRIBUTE: ENVIRONMENT}, separators=(",", ":"))))
    if min_duration:
        params.append(("minDuration", min_duration))
    query = urlencode(params, safe="${}.:", quote_via=quote)
    return Link(title, f"{platform.jaeger_url.rstrip('/')}/search?{query}")


def trace(platform: Platform, title: str = "Open trace in Jaeger", value: str = "${__value.raw}") -> Link:
    return Link(title, f"{platform.jaeger_url.rstrip('/')}/trace/{value}")


__all__ = [
    "ENVIRONMENT",
    "ENVIRONMENT_VARIABLE",
    "dashboard",
    "environment_variable",
    "logs",
    "service_logs_query",
    "trace",
    "traces",
]
