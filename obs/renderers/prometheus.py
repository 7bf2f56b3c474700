"""Prometheus server configuration: global settings and external labels, the rule files it
evaluates, alerting, ``remote_write`` to the metrics store, and the scrape jobs of
:mod:`obs.scrape`. One file per environment.

With a metrics store (:mod:`obs.scaleout`) the server sends every sample to the store with queue
settings sized for the platform, loads only the rule files that stay local (the store's ruler
evaluates the rest), and in agent mode loads none and sends no alerts. An HA pair runs this same
file on both servers; each reads its replica name from ``$OBS_PROMETHEUS_REPLICA``
(``--enable-feature=expand-external-labels``), and the replica label is dropped from the alerts so
that Alertmanager receives one alert from the pair.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from obs.artifacts import Artifact, RenderContext
from obs.model import Environment, Platform
from obs.renderers.alertmanager import alertmanager_targets
from obs.rules.rulefile import RULES_DIR
from obs.scaleout import RulePlacement, external_labels, remote_write, replica_label, rule_placement
from obs.scrape import host_port, scrape_jobs

CONFIG_PATH = "prometheus/prometheus.yml"
RULES_GLOB = "rules/*.yml"


def rule_file_paths(placement: RulePlacement | None) -> list[str]:
    """What ``rule_files`` names, relative to the config: every file when all run locally (the
    glob), else the local ones by name, so that the ruler's files are never loaded here too."""
    if placement is None or not placement.ruler:
        return [RULES_GLOB]
    prefix = RULES_DIR.removeprefix("prometheus/")
    return [f"{prefix}/{f.name}.yml" for f in placement.local]


def alertmanager_set(url: str) -> dict[str, Any]:
    """One ``alertmanagers`` entry: the Alertmanager at the base URL ``url`` (its port, else 9093
    over http and 443 over https; its path as the API's prefix)."""
    parts = urlsplit(url)
    target = host_port(url, 443 if parts.scheme == "https" else 9093)
    entry: dict[str, Any] = {"static_configs": [{"targets": [target]}]}
    if parts.scheme == "https":
        entry["scheme"] = "https"
    if parts.path.strip("/"):
        entry["path_prefix"] = parts.path
    return entry


def _alerting(platform: Platform, env: Environment) -> dict[str, Any]:
    # Every Alertmanager the model names: the teams' and, by default, the audit one (which gets
    # every alert, the ones the teams' inhibits included).
    alerting: dict[str, Any] = {"alertmanagers": [alertmanager_set(url) for url in alertmanager_targets(platform)]}
    if env.prometheus_replicas > 1:
        alerting["alert_relabel_configs"] = [{"action": "labeldrop", "regex": replica_label(platform.metrics_store)}]
    return alerting


def config(platform: Platform, env: Environment, placement: RulePlacement | None = None) -> dict[str, Any]:
    """The configuration of ``env``'s Prometheus (``platform`` as the environment sees it)."""
    # An agent evaluates no rules and sends no alerts (Prometheus refuses both keys in agent mode).
    agent = placement is not None and placement.agent_mode
    document: dict[str, Any] = {
        "global": {
            "scrape_interval": env.scrape_interval,
            "evaluation_interval": env.scrape_interval,
            "external_labels": external_labels(platform, env),
        },
        "rule_files": [] if agent else rule_file_paths(placement),
        "alerting": {} if agent else _alerting(platform, env),
        "remote_write": remote_write(platform, env),
        "scrape_configs": list(scrape_jobs(platform, env)),
    }
    return {key: value for key, value in document.items() if value}


def render(ctx: RenderContext) -> Iterable[Artifact]:
    placement = ctx.derived(rule_placement) if ctx.platform.metrics_store is not None else None
    yield Artifact(CONFIG_PATH, config(ctx.platform, ctx.env, placement))


__all__ = ["CONFIG_PATH", "RULES_GLOB", "alertmanager_set", "config", "render", "rule_file_paths"]
