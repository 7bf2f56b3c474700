"""The built-in platform: the educational platform obs was first built for.

This repository is laid out as a team's own would be: this file defines the platform, and names
its own content beside obs's catalogue: the alerts in ``alerts/``, the dashboards in
``dashboards/``, hand-written promtool tests in ``alerts/tests/``. ``pyproject.toml`` points
``[tool.obs] platform`` here, so ``obs build`` in this folder renders it.

It is also the worked example of the Python API: a FastAPI backend, a Flask bridge, a dashboard
frontend and a Ghost CMS probed from outside, over PostgreSQL and Redis.
"""

from __future__ import annotations

from obs.model import (
    SLO,
    Autoscaling,
    AvailabilitySLI,
    ComponentOverride,
    Dependency,
    DependencyKind,
    Environment,
    Kubernetes,
    LatencySLI,
    Platform,
    Service,
    ServiceKind,
    Team,
    TraceSampling,
)

#: The receivers' keys: one Secret, mounted where the Prometheus Operator mounts the Secrets an
#: Alertmanager lists (``/etc/alertmanager/secrets/<secret>/<key>``); Compose mounts the same paths.
SECRETS = "/etc/alertmanager/secrets/alert-receivers"
#: The backend behind a HorizontalPodAutoscaler on Kubernetes: 3 to 10 pods at 70 % CPU, or 50
#: requests per second per pod, whichever asks for more.
BACKEND_SCALING = Autoscaling(min_replicas=3, max_replicas=10, cpu_percent=70, requests_per_pod=50)
#: kube-prometheus-stack's Alertmanager Service (release kube-prometheus-stack in monitoring), for Grafana.
STACK_ALERTMANAGER = "http://kube-prometheus-stack-alertmanager.monitoring.svc:9093"


def _team(name: str) -> Team:
    return Team(
        name,
        chat_channel=f"#edu-{name}",
        pager_key_file=f"{SECRETS}/{name}-pager-key",
        chat_webhook_url_file=f"{SECRETS}/{name}-slack-api-url",
    )


platform = Platform(
    name="edu",
    grafana_url="https://grafana.edu.example.org",
    alertmanager_url="http://alertmanager:9093",
    jaeger_url="https://jaeger.edu.example.org",
    elasticsearch_url="http://elasticsearch:9200",
    # Every component's runbook is <runbook_base_url>/<component>#<alert>: backend, postgres, node, ...
    runbook_base_url="https://runbooks.edu.example.org",
    # The audit trail and ticket bot: every alert of every team, resolved notices included.
    alert_webhook_url="http://alert-log:9095/alerts",
    # The dead man's switch: pages the platform team when the Watchdog's pings stop.
    heartbeat_url="https://heartbeat.edu.example.org/ping/obs-edu",
    # Runs Prometheus, Alertmanager, the node exporters and the blackbox probes; owns PostgreSQL and Redis.
    infra_team="platform",
    # The platform's own content, beside obs's catalogue (paths relative to this file).
    alerts=("alerts",),
    dashboards=("dashboards",),
    rule_tests=("alerts/tests",),
    teams=(_team("learning"), _team("integrations"), _team("web"), _team("platform")),
    services=(
        Service(
            name="backend",
            kind=ServiceKind.FASTAPI,
            team="learning",
            tier=1,
            description="FastAPI API behind the student dashboard: courses, progress, submissions.",
            port=8000,
            metrics_token_file="/etc/prometheus/secrets/backend-metrics-token",
            depends_on=("postgres", "redis"),
            slos=(
                SLO(
                    name="availability",
                    sli=AvailabilitySLI(),
                    objective=0.999,
                    description="Students can load courses and submit work.",
                    min_request_rate=0.1,
                ),
                SLO(
                    name="latency",
                    sli=LatencySLI(threshold_seconds=0.3),
                    objective=0.99,
                    description="Pages of the dashboard feel instant.",
                    min_request_rate=0.1,
                    exclude_routes=("/api/reports/export",),
                ),
            ),
            sampling=TraceSampling(
                default_ratio=0.1, routes={"/api/submissions": 0.5, "/api/auth/login": 1.0}
            ),
        ),
        Service(
            name="bridge",
            kind=ServiceKind.FLASK,
            team="integrations",
            tier=2,
            description="Flask bridge that syncs rosters and grades with school information systems.",
            port=5000,
            depends_on=("backend", "redis"),
            slos=(
                SLO(
                    name="availability",
                    sli=AvailabilitySLI(),
                    objective=0.995,
                    description="Roster and grade syncs succeed.",
                ),
                SLO(
                    name="latency",
                    sli=LatencySLI(threshold_seconds=1.0),
                    objective=0.95,
                    description="Syncs finish promptly.",
                    page=False,
                ),
            ),
            sampling=TraceSampling(default_ratio=0.2),
        ),
        Service(
            name="dashboard",
            kind=ServiceKind.STATIC_SITE,
            team="web",
            tier=1,
            description="The students' and teachers' dashboard frontend.",
            probe_url="https://dashboard.edu.example.org/",
            depends_on=("backend",),
        ),
        Service(
            name="cms",
            kind=ServiceKind.EXTERNAL_APP,
            team="web",
            tier=2,
            description="Ghost CMS serving course articles and announcements.",
            probe_url="https://cms.edu.example.org/ghost/api/admin/site/",
        ),
    ),
    dependencies=(
        Dependency(
            name="postgres",
            kind=DependencyKind.POSTGRES,
            team="platform",
            address="postgres:5432",
            description="PostgreSQL 15: courses, users, submissions.",
        ),
        Dependency(
            name="redis",
            kind=DependencyKind.REDIS,
            team="platform",
            address="redis:6379",
            description="Redis 7: sessions, caches, the bridge's job queue.",
        ),
    ),
    environments=(
        # Staging and production run on Kubernetes, watched by kube-prometheus-stack: every pod is
        # found by its `app` label and scraped on its `http` port (build/<env>/kubernetes/).
        Environment(
            name="prod",
            runtime=Kubernetes(
                namespace="toolboxai-production",
                cluster="edu-prod-eu-west-1",
                namespace_labels={"app": "toolboxai", "environment": "production"},
            ),
            external_labels={"region": "eu-west-1"},
            alertmanager_url=STACK_ALERTMANAGER,
            overrides={"backend": ComponentOverride(autoscaling=BACKEND_SCALING)},
        ),
        Environment(
            name="staging",
            runtime=Kubernetes(
                namespace="toolboxai-staging",
                cluster="edu-staging-eu-west-1",
                namespace_labels={"app": "toolboxai", "environment": "staging"},
            ),
            external_labels={"region": "eu-west-1"},
            paging=False,
            alertmanager_url=STACK_ALERTMANAGER,
            overrides={
                "dashboard": ComponentOverride(probe_url="https://dashboard.staging.edu.example.org/"),
                "cms": ComponentOverride(
                    probe_url="https://cms.staging.edu.example.org/ghost/api/admin/site/"
                ),
                "backend": ComponentOverride(sampling_ratio=1.0, autoscaling=BACKEND_SCALING),
            },
            log_retention_days={"access": 7, "application": 7},
        ),
        Environment(
            name="dev",
            paging=False,
            scrape_interval="15s",
            overrides={
                "dashboard": ComponentOverride(probe_url="http://dashboard:3000/"),
                "cms": ComponentOverride(probe_url="http://cms:2368/ghost/api/admin/site/"),
                "backend": ComponentOverride(sampling_ratio=1.0),
                "bridge": ComponentOverride(sampling_ratio=1.0),
            },
            log_retention_days={"access": 3, "application": 3, "audit": 30},
        ),
    ),
)
