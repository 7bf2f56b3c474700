"""Student journeys: the three things students do on the platform, traffic, failures and speed of
each, side by side. The learning team's own view over the backend's routes (the catalogue's
service dashboard shows every route; this one shows the journeys the design names)."""

from __future__ import annotations

from collections.abc import Iterator

from obs import contract
from obs.grafana import Dashboard, Row, Target, datasource_variable, row, timeseries
from obs.grafana.provisioning import prometheus_uid
from obs.model import Environment, Platform

#: The request counter: the only series with the response status.
COUNT = contract.HTTP_SERVER_REQUESTS.name
BUCKET = f"{contract.HTTP_SERVER_DURATION.name}_bucket"
ROUTE, METHOD, STATUS = contract.ROUTE_LABEL, contract.METHOD_LABEL, contract.STATUS_LABEL

#: Journey → (method, route template of the backend).
JOURNEYS: dict[str, tuple[str, str]] = {
    "Browse courses": ("GET", "/api/courses"),
    "Submit work": ("POST", "/api/submissions"),
    "Log in": ("POST", "/api/auth/login"),
}


def _selector(method: str, route: str, *extra: str) -> str:
    return "{" + ", ".join([f'{contract.SERVICE_LABEL}="backend"', f'{METHOD}="{method}"', f'{ROUTE}="{route}"', *extra]) + "}"


def _journey(title: str, method: str, route: str) -> Iterator[Row]:
    sel = _selector(method, route)
    errors = _selector(method, route, f'{STATUS}=~"5.."')
    yield row(
        f"{title}: {method} {route}",
        timeseries(
            "Requests",
            Target(f"sum(rate({COUNT}{sel}[5m]))", "requests/s"),
            description=f"How many students {title.lower()} right now. A drop to zero in school hours means they cannot reach it.",
            unit="reqps",
            width=8,
        ),
        timeseries(
            "Failing",
            Target(f"(sum(rate({COUNT}{errors}[5m])) or vector(0)) / sum(rate({COUNT}{sel}[5m]))", "server errors"),
            description="Share of these requests answered with a 5xx. Open the backend's service dashboard for the status codes and traces.",
            unit="percentunit",
            width=8,
        ),
        timeseries(
            "Time to answer (p95)",
            Target(f"histogram_quantile(0.95, sum by (le) (rate({BUCKET}{sel}[5m])))", "p95", exemplar=True),
            description="95% of these requests finished within this time. A dot is an example request: click it for its trace.",
            unit="s",
            width=8,
        ),
    )


def dashboards(platform: Platform, env: Environment) -> Iterator[Dashboard]:
    if "backend" not in {s.name for s in platform.instrumented_services}:
        return
    yield Dashboard(
        uid="edu-journeys",
        title="Student journeys",
        description="Browse courses, submit work, log in: traffic, failures and speed of each journey of the backend.",
        team="learning",
        items=tuple(item for title, (method, route) in JOURNEYS.items() for item in _journey(title, method, route)),
        variables=(datasource_variable(prometheus_uid(env)),),
        tags=("edu", "journeys"),
    )
