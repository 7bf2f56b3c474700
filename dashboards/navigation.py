"""Where a click on a dashboard goes: other dashboards, the logs in Grafana Explore
(Elasticsearch) and the traces in Jaeger, for the time range on screen."""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from obs import links
from obs.grafana import Link
from obs.grafana.provisioning import ELASTICSEARCH_UID
from obs.model import Platform

#: Grafana expands these in link URLs: the dashboard's time range in epoch milliseconds.
FROM_MS, TO_MS = "${__from}", "${__to}"


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
    query = f'service.name:"{service}"'
    return f"{query} AND {extra}" if extra else query


def traces(
    platform: Platform,
    title: str,
    service: str,
    *,
    tags: dict[str, str] | None = None,
    min_duration: str = "",
) -> Link:
    """Jaeger's search for a service's traces in the range on screen (Jaeger wants microseconds)."""
    params = [
        ("service", service),
        ("start", f"{FROM_MS}000"),
        ("end", f"{TO_MS}000"),
        ("limit", "20"),
        ("lookback", "custom"),
    ]
    if tags:
        params.append(("tags", json.dumps(tags, separators=(",", ":"))))
    if min_duration:
        params.append(("minDuration", min_duration))
    query = urlencode(params, safe="${}.:", quote_via=quote)
    return Link(title, f"{platform.jaeger_url.rstrip('/')}/search?{query}")


def trace(platform: Platform, title: str = "Open trace in Jaeger", value: str = "${__value.raw}") -> Link:
    return Link(title, f"{platform.jaeger_url.rstrip('/')}/trace/{value}")


__all__ = ["dashboard", "logs", "service_logs_query", "trace", "traces"]
