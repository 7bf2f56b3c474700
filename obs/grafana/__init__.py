"""obs's facade over the Grafana Foundation SDK: dashboards as small immutable values.

Write dashboards with these names only; :mod:`obs.grafana.model` is the one module that talks to
the SDK. :mod:`obs.grafana.lint` and :mod:`obs.grafana.schema` check the JSON any dashboard
becomes (generated or legacy grafanalib), :mod:`obs.grafana.provisioning` writes what Grafana
reads at start-up.
"""

from obs.grafana.model import (
    AUTO_ID_BASE,
    DATASOURCE_VARIABLE,
    Annotation,
    Dashboard,
    Link,
    Panel,
    Row,
    Step,
    Target,
    Thresholds,
    ValueText,
    Variable,
    bargauge,
    custom_variable,
    datasource_variable,
    heatmap,
    query_variable,
    row,
    stat,
    state_timeline,
    table,
    timeseries,
)

__all__ = [
    "AUTO_ID_BASE",
    "DATASOURCE_VARIABLE",
    "Annotation",
    "Dashboard",
    "Link",
    "Panel",
    "Row",
    "Step",
    "Target",
    "Thresholds",
    "ValueText",
    "Variable",
    "bargauge",
    "custom_variable",
    "datasource_variable",
    "heatmap",
    "query_variable",
    "row",
    "stat",
    "state_timeline",
    "table",
    "timeseries",
]
