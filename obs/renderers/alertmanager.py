"""Alertmanager routing, inhibition, receivers and their message templates, with route and
template test cases generated from the model.

Output (relative to the environment folder):

``alertmanager/alertmanager.yml``     the teams' Alertmanager
``alertmanager/audit.yml``            with ``Platform.audit_alertmanager_url``: the audit
                                      Alertmanager, which forwards every alert, inhibited or not,
                                      to ``Platform.alert_webhook_url`` and inhibits nothing
``alertmanager/routes-test.yml``      expected receivers for label sets: one case per severity and
                                      team, and one per alert the rules of this build can send
``alertmanager/templates-test.yml``   each message template rendered for a firing, a resolved and a
                                      grouped notification, with what the text must say

Routing (see docs/alerts.md):

* without an audit Alertmanager, every alert also goes to the ``alert-log`` webhook first, with
  ``continue: true`` (an alert this Alertmanager inhibits does not reach it: inhibition is global
  in Alertmanager); with one, the audit trail is that Alertmanager's alone;
* per team: ``page`` goes to the team's pager (PagerDuty) *and* its chat, e-mail and webhook;
  ``ticket`` to its chat, e-mail and webhook; ``info`` to nobody (the audit trail only);
* an environment with ``paging=False`` has no pager receivers at all: ``page`` goes to the chat.

Severity label values follow ``Platform.severity_scheme`` (page/ticket/info, or kube-prometheus'
critical/warning/info). Secrets are file references only: ``routing_key_file`` (PagerDuty),
``api_url_file`` (Slack), ``smtp_auth_password_file``. Webhook URLs are written as they are
(Alertmanager 0.25 has no ``url_file``), so the model refuses one with credentials.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from obs import contract
from obs.alerting import WATCHDOG, Alert, Severity, severity_label
from obs.artifacts import Artifact, RenderContext
from obs.inhibition import inhibitions
from obs.model import Environment, Platform, Team
from obs.ruleset import alerts as build_alerts

CONFIG_PATH = "alertmanager/alertmanager.yml"
AUDIT_CONFIG_PATH = "alertmanager/audit.yml"
ROUTES_TEST_PATH = "alertmanager/routes-test.yml"
TEMPLATES_TEST_PATH = "alertmanager/templates-test.yml"

LOG_RECEIVER = "alert-log"
#: Receives the always-firing Watchdog alert (Platform.heartbeat_url) every minute, and nothing else.
HEARTBEAT_RECEIVER = "heartbeat"
#: What an alert of no known team reaches when the audit trail is another Alertmanager's: nobody.
NOBODY = "nobody"

#: Labels that make two alerts "the same alert" for grouping and inhibition. ``environment`` keeps
#: a shared Alertmanager from letting staging's alerts silence prod's.
SAME_ALERT = ["alertname", contract.SERVICE_LABEL, "slo", contract.ENVIRONMENT_LABEL]


def pager_receiver(team: str) -> str:
    return f"{team}-pager"


def chat_receiver(team: str) -> str:
    return f"{team}-chat"


def email_receiver(team: str) -> str:
    return f"{team}-email"


def webhook_receiver(team: str) -> str:
    return f"{team}-webhook"


def _pages(team: Team, env: Environment) -> bool:
    return env.paging and bool(team.pager_key_file)


def _audited_here(platform: Platform) -> bool:
    """Whether this Alertmanager also sends every alert to the audit webhook."""
    return not platform.audit_alertmanager_url


def _notifiers(team: Team) -> list[str]:
    """The team's receivers for pages and tickets alike, in route order."""
    found = []
    if team.chat_channel:
        found.append(chat_receiver(team.name))
    if team.email:
        found.append(email_receiver(team.name))
    if team.webhook_url:
        found.append(webhook_receiver(team.name))
    return found


def receivers_for(team: Team, env: Environment, severity: Severity, platform: Platform | None = None) -> list[str]:
    """The receivers an alert of ``team`` and ``severity`` reaches in the teams' Alertmanager, in
    route order (``platform``: whether the audit webhook is one of them; default yes)."""
    found = [LOG_RECEIVER] if platform is None or _audited_here(platform) else []
    if severity is Severity.PAGE and _pages(team, env):
        found.append(pager_receiver(team.name))
    if severity in (Severity.PAGE, Severity.TICKET):
        found.extend(_notifiers(team))
    return found or [NOBODY]


# --- message templates --------------------------------------------------------------------------


def _first(name: str, note: str = "") -> str:
    """The group's common ``name`` annotation, else its first alert's followed by ``note``: grouped
    alerts that differ in it (one alert per disk) have no common value, and a page with an empty
    summary or runbook is what on-call gets at 3 a.m. otherwise."""
    return f"{{{{ with .CommonAnnotations.{name} }}}}{{{{ . }}}}{{{{ else }}}}{{{{ (index .Alerts 0).Annotations.{name} }}}}{note}{{{{ end }}}}"


#: ``[FIRING:2] ErrorBudgetBurn backend (page)`` / ``[RESOLVED] ...``: state, count, what, where, how urgent.
TITLE = (
    '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] '
    "{{ .CommonLabels.alertname }} {{ .CommonLabels.service }}"
    "{{ with .CommonLabels.severity }} ({{ . }}){{ end }}"
)
#: One block per alert: severity, service and state, the summary and description, then the links.
CHAT_TEXT = (
    "{{ range .Alerts }}*{{ .Labels.severity }}* {{ .Labels.service }}"
    '{{ if eq .Status "resolved" }} (resolved){{ end }}: {{ .Annotations.summary }}\n'
    "{{ .Annotations.description }}\n"
    "<{{ .Annotations.runbook_url }}|runbook> | <{{ .Annotations.dashboard_url }}|dashboard> | <{{ .GeneratorURL }}|query>\n"
    "{{ end }}"
    "{{ .Alerts.Firing | len }} firing, {{ .Alerts.Resolved | len }} resolved | <{{ .ExternalURL }}|Alertmanager>"
)
PAGER_DESCRIPTION = (
    "{{ .CommonLabels.alertname }} {{ .CommonLabels.service }}: "
    + _first("summary", "{{ if gt (len .Alerts) 1 }} (first of {{ len .Alerts }} alerts){{ end }}")
)
PAGER_DETAILS: Mapping[str, str] = {
    "service": "{{ .CommonLabels.service }}",
    "severity": "{{ .CommonLabels.severity }}",
    "runbook_url": _first("runbook_url"),
    "dashboard_url": _first("dashboard_url"),
    "firing": "{{ .Alerts.Firing | len }}",
    "resolved": "{{ .Alerts.Resolved | len }}",
    "summaries": "{{ range .Alerts.Firing }}{{ .Annotations.summary }}; {{ end }}",
}
EMAIL_SUBJECT = TITLE


def _team_receivers(platform: Platform, team: Team, env: Environment) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if _pages(team, env):
        pagerduty = {
            # The model's address (PagerDuty's Events API v2 by default; the demo's sink on loopback).
            "url": platform.pagerduty_url,
            "routing_key_file": team.pager_key_file,
            "send_resolved": True,
            "description": PAGER_DESCRIPTION,
            "client": "obs: {{ .CommonLabels.service }}",
            "client_url": _first("runbook_url"),
            "details": dict(PAGER_DETAILS),
        }
        out.append({"name": pager_receiver(team.name), "pagerduty_configs": [pagerduty]})
    if team.chat_channel:
        slack = {
            "api_url_file": team.chat_webhook_url_file_or_default,
            "channel": team.chat_channel,
            "send_resolved": True,
            "title": TITLE,
            "title_link": _first("runbook_url"),
            "text": CHAT_TEXT,
        }
        out.append({"name": chat_receiver(team.name), "slack_configs": [slack]})
    if team.email:
        email = {"to": team.email, "send_resolved": True, "headers": {"Subject": EMAIL_SUBJECT}}
        out.append({"name": email_receiver(team.name), "email_configs": [email]})
    if team.webhook_url:
        out.append({"name": webhook_receiver(team.name), "webhook_configs": [{"url": team.webhook_url, "send_resolved": True}]})
    return out


def _team_routes(platform: Platform, team: Team, env: Environment) -> list[dict[str, Any]]:
    """Flat routes, so a severity with no receiver of the team falls back to the root alone."""
    page, ticket = (severity_label(s, platform.severity_scheme) for s in (Severity.PAGE, Severity.TICKET))
    team_matcher = f'{contract.TEAM_LABEL}="{team.name}"'
    routes: list[dict[str, Any]] = []
    if _pages(team, env):
        # continue: the page also lands in the team's chat, where the follow-up happens.
        routes.append({"matchers": [team_matcher, f'severity="{page}"'], "receiver": pager_receiver(team.name), "repeat_interval": "1h", "continue": True})
    notifiers = _notifiers(team)
    for i, receiver in enumerate(notifiers):
        route: dict[str, Any] = {"matchers": [team_matcher, f'severity=~"{page}|{ticket}"'], "receiver": receiver}
        if i < len(notifiers) - 1:
            route["continue"] = True
        routes.append(route)
    return routes


def _teams(platform: Platform) -> list[Team]:
    return [platform.team(name) for name in platform.team_names]


# --- inhibition ---------------------------------------------------------------------------------


def _names_matcher(names: Sequence[str]) -> str:
    if len(names) == 1:
        return f'alertname="{names[0]}"'
    return f'alertname=~"{"|".join(names)}"'


def inhibit_rules(platform: Platform) -> list[dict[str, Any]]:
    page, ticket = (severity_label(s, platform.severity_scheme) for s in (Severity.PAGE, Severity.TICKET))
    rules_: list[dict[str, Any]] = [
        # The page already woke someone: the ticket of the same alert adds nothing.
        {"source_matchers": [f'severity="{page}"'], "target_matchers": [f'severity="{ticket}"'], "equal": SAME_ALERT}
    ]
    for inh in inhibitions(platform):
        rules_.append(
            {
                "source_matchers": [_names_matcher(inh.sources), f'{contract.SERVICE_LABEL}="{inh.source_service}"'],
                "target_matchers": [_names_matcher(inh.targets), f'{contract.SERVICE_LABEL}="{inh.target_service}"'],
                "equal": [contract.ENVIRONMENT_LABEL],
            }
        )
    return rules_


# --- the configurations -------------------------------------------------------------------------


def _global(platform: Platform) -> dict[str, Any]:
    settings: dict[str, Any] = {"resolve_timeout": "5m"}
    if any(t.email for t in platform.teams):
        settings.update(smtp_smarthost=platform.smtp_smarthost, smtp_from=platform.smtp_from, smtp_require_tls=True)
        if platform.smtp_auth_username:
            settings.update(smtp_auth_username=platform.smtp_auth_username, smtp_auth_password_file=platform.smtp_auth_password_file)
    return settings


def _log_receiver(platform: Platform) -> dict[str, Any]:
    # `url`, not `url_file`: Alertmanager 0.25 (Debian 12) rejects url_file in webhook_configs.
    return {"name": LOG_RECEIVER, "webhook_configs": [{"url": platform.alert_webhook_url, "send_resolved": True}]}


def config(platform: Platform, env: Environment) -> dict[str, Any]:
    """The teams' Alertmanager."""
    teams = _teams(platform)
    team_routes = [r for t in teams for r in _team_routes(platform, t, env)]
    audited = _audited_here(platform)
    receivers: list[dict[str, Any]] = [_log_receiver(platform)] if audited else [{"name": NOBODY}]
    heartbeat: list[dict[str, Any]] = []
    if platform.heartbeat_url:
        receivers.append({"name": HEARTBEAT_RECEIVER, "webhook_configs": [{"url": platform.heartbeat_url, "send_resolved": False}]})
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
        receivers.extend(_team_receivers(platform, team, env))
    log_route = [{"receiver": LOG_RECEIVER, "continue": True}] if audited else []
    return {
        "global": _global(platform),
        "route": {
            "receiver": LOG_RECEIVER if audited else NOBODY,
            "group_by": SAME_ALERT,
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [*heartbeat, *log_route, *team_routes],
        },
        "inhibit_rules": inhibit_rules(platform),
        "receivers": receivers,
    }


def audit_config(platform: Platform, env: Environment) -> dict[str, Any]:
    """The audit Alertmanager: every alert, each in its own group, to the audit webhook as soon as
    it arrives and when it resolves; no inhibition (that is its point). The Watchdog, which always
    fires, is left to the heartbeat."""
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": LOG_RECEIVER,
            "group_by": ["..."],
            "group_wait": "0s",
            "group_interval": "1m",
            "repeat_interval": "24h",
            "routes": [{"receiver": NOBODY, "matchers": [f'alertname="{WATCHDOG}"']}],
        },
        "receivers": [_log_receiver(platform), {"name": NOBODY}],
    }


def alertmanager_targets(platform: Platform) -> list[str]:
    """The base URLs Prometheus sends its alerts to: the teams' Alertmanager, and the audit one."""
    return [platform.alertmanager_url, *([platform.audit_alertmanager_url] if platform.audit_alertmanager_url else [])]


# --- route test cases ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RouteCase:
    name: str
    labels: dict[str, str]
    receivers: list[str]
    config: str = CONFIG_PATH

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "labels": self.labels, "receivers": self.receivers}
        if self.config != CONFIG_PATH:
            out["config"] = self.config
        return out


def route_cases(platform: Platform, env: Environment, alerts: Iterable[Alert]) -> list[RouteCase]:
    """What each label set must reach, from the model: per team and severity, per alert of the
    build, and the fallbacks; with an audit Alertmanager, that it takes every alert too."""
    scheme = platform.severity_scheme
    cases: list[RouteCase] = []
    for team in _teams(platform):
        for severity in Severity:
            labels = {"alertname": "AnyAlert", contract.TEAM_LABEL: team.name, "severity": severity_label(severity, scheme)}
            cases.append(RouteCase(f"{severity.value} for team {team.name}", labels, receivers_for(team, env, severity, platform)))
    unknown = {"alertname": "AnyAlert", contract.TEAM_LABEL: "nobody", "severity": severity_label(Severity.PAGE, scheme)}
    cases.append(RouteCase("a team the model does not know", unknown, [LOG_RECEIVER if _audited_here(platform) else NOBODY]))
    # Routing reads the team, the severity and (for the Watchdog) the alert's name, never the
    # service: one case per alert, team and severity covers every service's alert of that kind
    # (each alert's team label is asserted by its own promtool tests).
    seen: set[tuple[str, str, str]] = set()
    for alert in alerts:
        key = (alert.name, alert.team, alert.severity.value)
        if key in seen:
            continue
        seen.add(key)
        labels = {"alertname": alert.name, contract.SERVICE_LABEL: alert.service, contract.TEAM_LABEL: alert.team, "severity": alert.all_labels["severity"]}
        expected = [HEARTBEAT_RECEIVER] if alert.name == WATCHDOG else receivers_for(platform.team(alert.team), env, alert.severity, platform)
        cases.append(RouteCase(f"{alert.name} of {alert.service} ({alert.severity.value})", labels, expected))
        if not _audited_here(platform) and alert.name != WATCHDOG:
            cases.append(RouteCase(f"{alert.name} of {alert.service} ({alert.severity.value}) in the audit trail", labels, [LOG_RECEIVER], AUDIT_CONFIG_PATH))
    return cases


# --- template test cases ------------------------------------------------------------------------


def _sample(alert: Alert, status: str, scheme: str, n: int = 0) -> dict[str, Any]:
    labels = {**alert.all_labels, "alertname": alert.name, contract.ENVIRONMENT_LABEL: "prod"}
    if n:
        labels["instance"] = f"{alert.service}-{n}:8000"
    ends = "2026-01-01T00:30:00Z" if status == "resolved" else "0001-01-01T00:00:00Z"
    annotations = {k: v.replace("{{", "").replace("}}", "") for k, v in alert.annotations.items()}
    annotations["summary"] = f"{alert.service} sample summary {n}"
    return {
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": "2026-01-01T00:00:00Z",
        "endsAt": ends,
        "generatorURL": f"https://prometheus.example.org/graph?g0.expr=sample{n}",
        "fingerprint": f"{n:016x}",
    }


def _data(receiver: str, alerts: list[dict[str, Any]], external_url: str) -> dict[str, Any]:
    common = {k: v for k, v in alerts[0]["labels"].items() if all(a["labels"].get(k) == v for a in alerts)}
    annotations = {k: v for k, v in alerts[0]["annotations"].items() if all(a["annotations"].get(k) == v for a in alerts)}
    return {
        "receiver": receiver,
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "alerts": alerts,
        "groupLabels": {k: common[k] for k in SAME_ALERT if k in common},
        "commonLabels": common,
        "commonAnnotations": annotations,
        "externalURL": external_url,
    }


def template_cases(platform: Platform, env: Environment, alerts: Sequence[Alert]) -> list[dict[str, Any]]:
    """Every message template of the receivers obs writes, rendered (by ``amtool template render``
    in ``obs test``) for one firing alert, one resolved and a group of three (two firing, one
    resolved), with the text each rendering must contain."""
    paging = [a for a in alerts if a.severity is Severity.PAGE and a.name != WATCHDOG]
    alert = paging[0] if paging else next((a for a in alerts if a.name != WATCHDOG), None)
    if alert is None:
        return []
    scheme = platform.severity_scheme
    external = platform.alertmanager_url
    one = _sample(alert, "firing", scheme)
    gone = _sample(alert, "resolved", scheme)
    group = [_sample(alert, "firing", scheme, 1), _sample(alert, "firing", scheme, 2), _sample(alert, "resolved", scheme, 3)]
    severity = alert.all_labels["severity"]
    templates = {
        "chat title": TITLE,
        "chat text": CHAT_TEXT,
        "pager description": PAGER_DESCRIPTION,
        **{f"pager details.{k}": v for k, v in PAGER_DETAILS.items()},
        "email subject": EMAIL_SUBJECT,
    }
    must: dict[str, dict[str, list[str]]] = {
        "chat title": {
            "firing": ["[FIRING:1]", alert.name, alert.service, f"({severity})"],
            "resolved": ["[RESOLVED]", alert.name, alert.service],
            "grouped": ["[FIRING:2]", alert.name, alert.service],
        },
        "chat text": {
            "firing": [severity, alert.service, "sample summary 0", one["annotations"]["runbook_url"], one["annotations"]["dashboard_url"], one["generatorURL"], "1 firing, 0 resolved", external],
            "resolved": ["(resolved)", "sample summary 0", "0 firing, 1 resolved"],
            "grouped": ["sample summary 1", "sample summary 2", "sample summary 3", "2 firing, 1 resolved"],
        },
        "pager description": {
            "firing": [alert.name, alert.service, "sample summary 0"],
            "resolved": [alert.name, "sample summary 0"],
            "grouped": ["sample summary 1", "(first of 3 alerts)"],
        },
        "pager details.service": {"firing": [alert.service], "resolved": [alert.service], "grouped": [alert.service]},
        "pager details.severity": {"firing": [severity], "resolved": [severity], "grouped": [severity]},
        "pager details.runbook_url": {k: [one["annotations"]["runbook_url"]] for k in ("firing", "resolved", "grouped")},
        "pager details.dashboard_url": {k: [one["annotations"]["dashboard_url"]] for k in ("firing", "resolved", "grouped")},
        "pager details.firing": {"firing": ["1"], "resolved": ["0"], "grouped": ["2"]},
        "pager details.resolved": {"firing": ["0"], "resolved": ["1"], "grouped": ["1"]},
        "pager details.summaries": {"firing": ["sample summary 0"], "resolved": [], "grouped": ["sample summary 1;", "sample summary 2;"]},
        "email subject": {
            "firing": ["[FIRING:1]", alert.name, alert.service],
            "resolved": ["[RESOLVED]", alert.name],
            "grouped": ["[FIRING:2]", alert.name],
        },
    }
    data = {"firing": [one], "resolved": [gone], "grouped": group}
    cases = []
    for what, text in templates.items():
        for state, sample in data.items():
            cases.append(
                {
                    "name": f"{what}: {state}",
                    "template": text,
                    "data": _data(f"{alert.team}-receiver", sample, external),
                    "contains": must[what][state],
                }
            )
    return cases


def render(ctx: RenderContext) -> Iterable[Artifact]:
    alerts = build_alerts(ctx)
    yield Artifact(CONFIG_PATH, config(ctx.platform, ctx.env))
    if ctx.platform.audit_alertmanager_url:
        yield Artifact(AUDIT_CONFIG_PATH, audit_config(ctx.platform, ctx.env))
    yield Artifact(ROUTES_TEST_PATH, {"cases": [c.as_dict() for c in route_cases(ctx.platform, ctx.env, alerts)]})
    yield Artifact(TEMPLATES_TEST_PATH, {"cases": template_cases(ctx.platform, ctx.env, alerts)})


__all__ = [
    "AUDIT_CONFIG_PATH",
    "CONFIG_PATH",
    "ROUTES_TEST_PATH",
    "TEMPLATES_TEST_PATH",
    "RouteCase",
    "alertmanager_targets",
    "audit_config",
    "config",
    "inhibit_rules",
    "receivers_for",
    "render",
    "route_cases",
    "template_cases",
]
