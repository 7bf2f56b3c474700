"""The rule set of one environment: the catalogue's rule files and the platform's own alerts.

Computed once per environment (through :meth:`~obs.artifacts.RenderContext.derived`) and read by
every group that needs the alerts: the rules themselves, Alertmanager's routing tests, the runbooks.
"""

from __future__ import annotations

from pathlib import Path

from obs.alerting import Alert
from obs.artifacts import RenderContext
from obs.catalogue.alerts import rule_files as catalogue_rule_files
from obs.rules.rulefile import RuleFile

CUSTOM_FILE = "custom"


def _custom_file(ctx: RenderContext) -> RuleFile:
    """The platform's own alerts, one group per file that defines them."""
    custom = RuleFile(CUSTOM_FILE)
    by_source: dict[str, list[Alert]] = {}
    for alert in ctx.content.alerts:
        by_source.setdefault(alert.source, []).append(alert)
    for source, alerts in by_source.items():
        rules = custom.group(f"{ctx.platform.name}-custom-{Path(source).name.split('.')[0]}")
        for alert in alerts:
            custom.alert(rules, alert)
    return custom


def rule_files(ctx: RenderContext) -> tuple[RuleFile, ...]:
    """Every rule file of the environment: the catalogue's, then the platform's own."""
    files = [*catalogue_rule_files(ctx.platform, ctx.env), _custom_file(ctx)]
    return tuple(f for f in files if f.groups)


def alerts(ctx: RenderContext) -> tuple[Alert, ...]:
    """Every alert of the environment (computed once, shared by the groups that read them)."""
    return tuple(a for f in ctx.derived(rule_files) for a in f.alerts)


__all__ = ["CUSTOM_FILE", "alerts", "rule_files"]
