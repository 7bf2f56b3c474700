"""The Ghost CMS as the web team watches it from outside, written with grafanalib (obs accepts the
modules teams already have; new dashboards are better written with obs.grafana)."""

from grafanalib.core import Dashboard, GridPos, Stat, Target, Templating, TimeSeries

PROBE = 'probe_success{job="blackbox-http", service="cms"}'

dashboard = Dashboard(
    title="CMS from outside",
    uid="edu-cms",
    description="Is Ghost answering the students and teachers, and how fast: the blackbox probes of the CMS.",
    tags=["edu", "team:web"],
    timezone="browser",
    templating=Templating(list=[]),
    panels=[
        Stat(
            title="CMS answering",
            description="1 while the probe of the CMS admin API succeeds. 0: course articles and announcements are gone for everyone.",
            dataSource="$datasource",
            targets=[Target(expr=f"min({PROBE})", legendFormat="up", refId="A")],
            format="short",
            gridPos=GridPos(h=6, w=8, x=0, y=0),
        ),
        TimeSeries(
            title="Probe duration",
            description="How long the probe of the CMS takes, by phase. A growing 'processing' is Ghost itself; 'connect' or 'tls' is the network.",
            dataSource="$datasource",
            targets=[
                Target(
                    expr='sum by (phase) (probe_http_duration_seconds{job="blackbox-http", service="cms"})',
                    legendFormat="{{phase}}",
                    refId="A",
                )
            ],
            unit="s",
            gridPos=GridPos(h=6, w=16, x=8, y=0),
        ),
    ],
).auto_panel_ids()
