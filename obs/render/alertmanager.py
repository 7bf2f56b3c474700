"""Alertmanager routing, inhibition and receivers, with route test cases generated from the model.

Output (relative to the environment folder):

``alertmanager/alertmanager.yml``     the configuration
``alertmanager/routes-test.yml``      expected receivers for label sets: one case per severity and
                                      team, and one per alert the rules of this build can send

Routing (see docs/alerts.md):

* every alert also goes to the ``alert-log`` webhook (``Platform.alert_webhook_url``: an audit
  trail and ticket bot), first, with ``continue: true``; alerts of a team the model does not know
  end there too;
* per team: ``page`` goes to the team's pager (PagerDuty) *and* its chat; ``ticket`` to its chat;
  ``info`` to nobody but the log;
* an environment with ``paging=False`` has no pager receivers at all: ``page`` goes to the chat.

Secrets are file references only: ``routing_key_file`` (PagerDuty, accepted by Alertmanager 0.25,
checked with the real amtool) and ``api_url_file`` (Slack, ``Team.chat_webhook_url_file``). The
alert-log webhook URL is not a secret (the model refuses one with credentials): Alertmanager 0.25
has no ``url_file`` for webhooks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from obs import contract
from obs.alerting import WATCHDOG, Alert, Severity
from obs.artifacts import Artifact, RenderContext
from obs.model import DependencyKind, Environment, Platform, Service, Team
from obs.ruleset import alerts as build_alerts

CONFIG_PATH = "alertmanager/alertmanager.yml"
ROUTES_TEST_PATH = "alertmanager/routes-test.yml"

LOG_RECEIVER = "alert-log"
#: Receives the always-firing Watchdog alert (Platform.heartbeat_url) every minute, and nothing else.
HEARTBEAT_RECEIVER = "heartbeat"

#: Alerts that show a service's users are hurt; a dependency's down alert explains them.
SYMPTOM_ALERTS: tuple[str, ...] = ("HighErrorRate", "LatencyP99High")
#: The alerts saying a dependency of that kind is down, by kind ("service" = another service).
DOWN_ALERTS: dict[str, tuple[str, ...]] = {
    DependencyKind.POSTGRES.value: ("PostgresDown",),
    DependencyKind.REDIS.value: ("RedisDown",),
    DependencyKind.HTTP.value: ("ProbeFailing",),
    "service": ("TargetDown",),
}
#: Labels that make two alerts "the same alert" for grouping and inhibition. ``environment`` keeps
#: a shared Alertmanager from letting staging's alerts silence prod's.
SAME_ALERT = ["alertname", contract.SERVICE_LABEL, "slo", contract.ENVIRONMENT_LABEL]


def pager_receiver(team: str) -> str:
    return f"{team}-pager"


def chat_receiver(team: str) -> str:
    return f"{team}-chat"


def _pages(team: Team, env: Environment) -> bool:
    return env.paging and bool(team.pager_key_file)


def _has_chat(team: Team) -> bool:
    return bool(team.chat_channel)


def receivers_for(team: Team, env: Environment, severity: Severity) -> list[str]:
    """The receivers an alert of ``team`` and ``severity`` reaches, in route order."""
    found = [LOG_RECEIVER]
    if severity is Severity.PAGE and _pages(team, env):
        found.append(pager_receiver(team.name))
    if severity in (Severity.PAGE, Severity.TICKET) and _has_chat(team):
        found.append(chat_receiver(team.name))
    return found


_SLACK_TITLE = '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .CommonLabels.alertname }} {{ .CommonLabels.service }}'
_SLACK_TEXT = (
    "{{ range .Alerts }}*{{ .Labels.severity }}* {{ .Annotations.summary }}\n"
    "{{ .Annotations.description }}\n"
    "<{{ .Annotations.runbook_url }}|runbook> | <{{ .Annotations.dashboard_url }}|dashboard>\n"
    "{{ end }}"
)


def _first_annotation(name: str, first_note: str = "") -> str:
    """The group's common ``name`` annotation, else its first alert's followed by ``first_note``:
    grouped alerts that differ in it (the 1h and 6h burn alerts, one alert per disk) have no common
    value, and a page with an empty summary or runbook is what on-call gets at 3 a.m. otherwise."""
    return (
        f"{{{{ with .CommonAnnotations.{name} }}}}{{{{ . }}}}"
        f"{{{{ else }}}}{{{{ (index .Alerts 0).Annotations.{name} }}}}{first_note}{{{{ end }}}}"
    )


_PAGER_DESCRIPTION = "{{ .CommonLabels.alertname }} {{ .CommonLabels.service }}: " + _first_annotation(
    "summary", "{{ if gt (len .Alerts) 1 }} (first of {{ len .Alerts }} alerts){{ end }}"
)


def _team_receivers(team: Team, env: Environment) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if _pages(team, env):
        out.append(
            {
                "name": pager_receiver(team.name),
                "pagerduty_configs": [
                    {
                        "routing_key_file": team.pager_key_file,
                        "send_resolved": True,
                        "description": _PAGER_DESCRIPTION,
                        "details": {
                            "runbook_url": _first_annotation("runbook_url"),
                            "dashboard_url": _first_annotation("dashboard_url"),
                            "firing": "{{ .Alerts.Firing | len }}",
                            "summaries": "{{ range .Alerts.Firing }}{{ .Annotations.summary }}; {{ end }}",
                        },
                    }
                ],
            }
        )
    if _has_chat(team):
        out.append(
            {
                "name": chat_receiver(team.name),
                "slack_configs": [
                    {
                        "api_url_file": team.chat_webhook_url_file_or_default,
                        "channel": team.chat_channel,
                        "send_resolved": True,
                        "title": _SLACK_TITLE,
                        "text": _SLACK_TEXT,
                    }
                ],
            }
        )
    return out


def _team_routes(team: Team, env: Environment) -> list[dict[str, Any]]:
    """Flat routes, so a severity with no receiver of the team falls back to the log alone."""
    team_matcher = f'{contract.TEAM_LABEL}="{team.name}"'
    routes: list[dict[str, Any]] = []
    if _pages(team, env):
        # continue: the page also lands in the team's chat, where the follow-up happens.
        routes.append(
            {
                "matchers": [team_matcher, 'severity="page"'],
                "receiver": pager_receiver(team.name),
                "repeat_interval": "1h",
                "continue": True,
            }
        )
    if _has_chat(team):
        routes.append(
            {"matchers": [team_matcher, 'severity=~"page|ticket"'], "receiver": chat_receiver(team.name)}
        )
    return routes


def _teams(platform: Platform) -> list[Team]:
    return [platform.team(name) for name in platform.team_names]


def inhibit_rules(platform: Platform) -> list[dict[str, Any]]:
    rules_: list[dict[str, Any]] = [
        {
            # The page already woke someone: the ticket of the same alert adds nothing.
            "source_matchers": ['severity="page"'],
            "target_matchers": ['severity="ticket"'],
            "equal": SAME_ALERT,
        }
    ]
    kinds: dict[str, str] = {d.name: d.kind.value for d in platform.dependencies}
    kinds.update({s.name: "service" for s in platform.services})
    for service in platform.instrumented_services:
        for dep in upstream(platform, service):
            down = DOWN_ALERTS[kinds[dep]]
            rules_.append(
                {
                    # The dependency's owner is told; the errors it causes downstream are noise,
                    # through the services in between too (bridge -> backend -> postgres).
                    "source_matchers": [_names_matcher(down), f'{contract.SERVICE_LABEL}="{dep}"'],
                    "target_matchers": [
                        _names_matcher(SYMPTOM_ALERTS),
                        f'{contract.SERVICE_LABEL}="{service.name}"',
                    ],
                    "equal": [contract.ENVIRONMENT_LABEL],
                }
            )
    return rules_


def upstream(platform: Platform, service: Service) -> list[str]:
    """What ``service`` depends on, directly (first, in its order) or through other services."""
    services = {s.name: s for s in platform.services}
    found: list[str] = []
    pending = list(service.depends_on)
    while pending:
        name = pending.pop(0)
        if name in found or name == service.name:
            continue
        found.append(name)
        if name in services:
            pending.extend(services[name].depends_on)
    return found


def _names_matcher(names: Sequence[str]) -> str:
    if len(names) == 1:
        return f'alertname="{names[0]}"'
    return f'alertname=~"{"|".join(names)}"'


def config(platform: Platform, env: Environment) -> dict[str, Any]:
    teams = _teams(platform)
    team_routes = [r for t in teams for r in _team_routes(t, env)]
    # `url`, not `url_file`: Alertmanager 0.25 (Debian 12) rejects url_file in webhook_configs.
    log_hook = {"url": platform.alert_webhook_url, "send_resolved": True}
    receivers: list[dict[str, Any]] = [{"name": LOG_RECEIVER, "webhook_configs": [log_hook]}]
    heartbeat: list[dict[str, Any]] = []
    if platform.heartbeat_url:
        receivers.append(
            {"name": HEARTBEAT_RECEIVER, "webhook_configs": [{"url": platform.heartbeat_url, "send_resolved": False}]}
        )
        # First and final: the Watchdog pings the heartbeat every minute and reaches no one else.
        heartbeat.append(
            {
                "receiver": HEARTBEAT_RECEIVER,
                "matchers": [f'alertname="{WATCHDOG}"'],
                "group_by": ["alertname"],
                "group_wait": "0s",
                "group_interval": "1m",
                "repeat_interval": "1m",
            }
        )
    for team in teams:
        receivers.extend(_team_receivers(team, env))
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": LOG_RECEIVER,
            "group_by": SAME_ALERT,
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [*heartbeat, {"receiver": LOG_RECEIVER, "continue": True}, *team_routes],
        },
        "inhibit_rules": inhibit_rules(platform),
        "receivers": receivers,
    }


# --- route test cases ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RouteCase:
    name: str
    labels: dict[str, str]
    receivers: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "labels": self.labels, "receivers": self.receivers}


def route_cases(platform: Platform, env: Environment, alerts: Iterable[Alert]) -> list[RouteCase]:
    """What each label set must reach, from the model: per team and severity, per alert of the
    build, and the fallbacks."""
    cases: list[RouteCase] = []
    for team in _teams(platform):
        for severity in Severity:
            labels = {"alertname": "AnyAlert", contract.TEAM_LABEL: team.name, "severity": severity.value}
            cases.append(
                RouteCase(
                    f"{severity.value} for team {team.name}", labels, receivers_for(team, env, severity)
                )
            )
    cases.append(
        RouteCase(
            "a team the model does not know",
            {"alertname": "AnyAlert", contract.TEAM_LABEL: "nobody", "severity": "page"},
            [LOG_RECEIVER],
        )
    )
    seen: set[tuple[str, str, str]] = set()
    for alert in alerts:
        key = (alert.name, alert.service, alert.severity.value)
        if key in seen:
            continue
        seen.add(key)
        labels = {
            "alertname": alert.name,
            contract.SERVICE_LABEL: alert.service,
            contract.TEAM_LABEL: alert.team,
            "severity": alert.severity.value,
        }
        expected = (
            [HEARTBEAT_RECEIVER]
            if alert.name == WATCHDOG
            else receivers_for(platform.team(alert.team), env, alert.severity)
        )
        cases.append(RouteCase(f"{alert.name} of {alert.service} ({alert.severity.value})", labels, expected))
    return cases


def render(ctx: RenderContext) -> Iterable[Artifact]:
    yield Artifact(CONFIG_PATH, config(ctx.platform, ctx.env))
    yield Artifact(ROUTES_TEST_PATH, {"cases": [c.as_dict() for c in route_cases(ctx.platform, ctx.env, build_alerts(ctx))]})


# --- check and test -----------------------------------------------------------------------------


__all__ = [
    "CONFIG_PATH",
    "ROUTES_TEST_PATH",
    "RouteCase",
    "config",
    "inhibit_rules",
    "receivers_for",
    "render",
    "route_cases",
]
