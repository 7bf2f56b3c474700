"""Prometheus server configuration: global settings and external labels, rule files, alerting,
and the scrape jobs of :mod:`obs.scrape`. One file per environment."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from obs.artifacts import Artifact, RenderContext
from obs.model import Environment, Platform
from obs.scrape import host_port, scrape_jobs

CONFIG_PATH = "prometheus/prometheus.yml"
RULES_GLOB = "rules/*.yml"


def config(platform: Platform, env: Environment) -> dict[str, Any]:
    return {
        "global": {
            "scrape_interval": env.scrape_interval,
            "evaluation_interval": env.scrape_interval,
            "external_labels": dict(env.all_external_labels),
        },
        "rule_files": [RULES_GLOB],
        "alerting": {
            "alertmanagers": [
                {"static_configs": [{"targets": [host_port(platform.alertmanager_url, 9093)]}]}
            ]
        },
        "scrape_configs": list(scrape_jobs(platform, env)),
    }


def render(ctx: RenderContext) -> Iterable[Artifact]:
    yield Artifact(CONFIG_PATH, config(ctx.platform, ctx.env))


