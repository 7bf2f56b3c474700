"""Beyond one Prometheus: what a metrics store and an HA pair change in an environment's stack.

Everything here is derived from the model; the Prometheus configuration
(:mod:`obs.renderers.prometheus`), the store's ruler (:mod:`obs.renderers.ruler`) and Grafana's
datasources read it, and so can the groups that deploy Prometheus (Compose, Kubernetes).

**Labels.** Every series a Prometheus sends carries the environment's external labels, plus
``cluster`` (the runtime's cluster; when the model names none and a store is configured, the
environment's name, so that every sample in a shared store says which Prometheus sent it, and
Mimir's HA tracker has its cluster label). An HA pair also carries a replica label, whose value
each server reads from ``$OBS_PROMETHEUS_REPLICA`` (Prometheus' ``expand-external-labels``
feature), so both servers run the same file. The replica label is the one the store deduplicates
on: ``__replica__`` for Mimir (its HA tracker's default, dropped at ingestion),
``prometheus_replica`` otherwise (Thanos Querier's ``--query.replica-label``; VictoriaMetrics
deduplicates identical series, so the label is dropped before writing). Alerts leave without the
replica label, so Alertmanager sees one alert from the pair and notifies once.

**Which rules run where** (:func:`rule_placement`):

- no store: every rule file in the local Prometheus;
- a store: the SLO files (``slo-*``: SLI recordings, budget metadata, burn-rate alerts) in the
  store's ruler, scoped to the environment (``environment="<env>"`` on every selector), so they
  see every cluster and replica of the environment and windows longer than local retention; every
  other file (symptoms and causes per target, the Watchdog, the platform's own alerts) stays
  local, where it keeps working when the store or the network is down;
- a store in agent mode: Prometheus only scrapes and forwards; every file runs in the ruler.

A rule file runs in exactly one place: the local Prometheus loads only its local files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from obs.artifacts import RenderContext
from obs.errors import RenderError
from obs.model import DependencyKind, Environment, MetricsStore, Platform, parse_duration
from obs.model.store import TENANT_HEADERS
from obs.promql import selected_metrics
from obs.rules.rulefile import RuleFile
from obs.ruleset import rule_files

#: The environment variable each server of an HA pair reads its replica name from.
REPLICA_ENV_VAR = "OBS_PROMETHEUS_REPLICA"
#: Rule files that move to the store's ruler when the environment has a store.
GLOBAL_RULE_PREFIX = "slo-"
CLUSTER_LABEL = "cluster"

# --- labels ---------------------------------------------------------------------------------------


def replica_label(store: MetricsStore | None) -> str:
    return "__replica__" if store is not None and store.kind == "mimir" else "prometheus_replica"


def cluster_name(platform: Platform, env: Environment) -> str:
    """The ``cluster`` label value, or empty when the series carry none."""
    labels = env.all_external_labels
    if CLUSTER_LABEL in labels:
        return labels[CLUSTER_LABEL]
    return env.name if platform.metrics_store is not None else ""


def external_labels(platform: Platform, env: Environment) -> dict[str, str]:
    """``global.external_labels`` of the environment's Prometheus (``platform`` as the environment
    sees it, :meth:`Platform.in_environment`)."""
    labels = dict(env.all_external_labels)
    cluster = cluster_name(platform, env)
    if cluster:
        labels[CLUSTER_LABEL] = cluster
    if env.prometheus_replicas > 1:
        # expand-external-labels expands every value: a literal $ is written $$.
        labels = {k: v.replace("$", "$$") for k, v in labels.items()}
        labels[replica_label(platform.metrics_store)] = f"${{{REPLICA_ENV_VAR}}}"
    return labels


def prometheus_features(platform: Platform, env: Environment) -> tuple[str, ...]:
    """The ``--enable-feature`` values the environment's Prometheus needs for this configuration."""
    features: list[str] = []
    if agent_mode(platform):
        features.append("agent")
    if env.prometheus_replicas > 1:
        features.append("expand-external-labels")
    return tuple(features)


def agent_mode(platform: Platform) -> bool:
    return platform.metrics_store is not None and platform.metrics_store.agent_mode


# --- remote_write ---------------------------------------------------------------------------------

#: Series per scrape target, by kind: a generous estimate (an instrumented service's request
#: histogram is routes x methods x codes x buckets); queues sized on it have headroom.
SERIES_PER_TARGET: Mapping[str, int] = {
    "instrumented": 1500,
    "postgres": 500,
    "redis": 300,
    "node": 800,
    "probe": 20,
    "prometheus": 1500,
    "alertmanager": 300,
}
MAX_SAMPLES_PER_SEND = 2000
#: Samples one shard sends per second, taking one request per second as the slow case.
SHARD_SAMPLES_PER_SECOND = MAX_SAMPLES_PER_SEND
#: How much faster than it ingests Prometheus can catch up after the store was unreachable.
CATCH_UP_FACTOR = 10


def estimated_series(platform: Platform, env: Environment) -> int:
    """Active series one Prometheus of the environment holds (an upper estimate from the model)."""
    total = 0
    for service in platform.instrumented_services:
        targets = len(platform.scrape_targets(service, env))
        override = env.overrides.get(service.name)
        scaling = override.autoscaling if override and override.autoscaling else service.autoscaling
        if env.on_kubernetes and scaling is not None:
            targets = max(targets, scaling.max_replicas)
        total += SERIES_PER_TARGET["instrumented"] * max(targets, 1)
    for dep in platform.dependencies:
        kind = "postgres" if dep.kind is DependencyKind.POSTGRES else "redis" if dep.kind is DependencyKind.REDIS else "probe"
        total += SERIES_PER_TARGET[kind]
    total += SERIES_PER_TARGET["node"] * len(platform.node_targets)
    total += SERIES_PER_TARGET["probe"] * len(platform.probed_services)
    return total + SERIES_PER_TARGET["prometheus"] + SERIES_PER_TARGET["alertmanager"]


def queue_config(platform: Platform, env: Environment) -> dict[str, Any]:
    """remote_write's queue, sized on the samples per second the environment produces: enough
    shards at rest, ten times that to catch up after an outage, and a buffer of five sends per
    shard (Prometheus' advice: 3-10x ``max_samples_per_send``)."""
    per_second = estimated_series(platform, env) / parse_duration(env.scrape_interval)
    min_shards = max(1, math.ceil(per_second / SHARD_SAMPLES_PER_SECOND))
    max_shards = min(200, max(4, math.ceil(CATCH_UP_FACTOR * per_second / SHARD_SAMPLES_PER_SECOND)))
    return {
        "capacity": 5 * MAX_SAMPLES_PER_SEND,
        "min_shards": min_shards,
        "max_shards": max_shards,
        "max_samples_per_send": MAX_SAMPLES_PER_SEND,
        "batch_send_deadline": "5s",
        "min_backoff": "30ms",
        "max_backoff": "5s",
        # A store that sheds load answers 429: retry instead of dropping the samples.
        "retry_on_http_429": True,
    }


def store_auth(store: MetricsStore) -> dict[str, Any]:
    """Prometheus-style credentials by file (remote_write, Thanos' query and remote-write files)."""
    if store.bearer_token_file:
        return {"authorization": {"type": "Bearer", "credentials_file": store.bearer_token_file}}
    if store.basic_auth_username:
        return {"basic_auth": {"username": store.basic_auth_username, "password_file": store.basic_auth_password_file}}
    return {}


def tenant_headers(store: MetricsStore) -> dict[str, str]:
    header = TENANT_HEADERS.get(store.kind)
    return {header: store.tenant} if header and store.tenant else {}


def remote_write(platform: Platform, env: Environment) -> list[dict[str, Any]]:
    """``remote_write`` of the environment's Prometheus (empty without a store)."""
    store = platform.metrics_store
    if store is None:
        return []
    entry: dict[str, Any] = {"name": store.kind, "url": store.write_url, **store_auth(store)}
    headers = tenant_headers(store)
    if headers:
        entry["headers"] = headers
    entry["queue_config"] = queue_config(platform, env)
    if store.kind in ("mimir", "thanos"):
        entry["send_exemplars"] = True  # both store exemplars; the latency panels link them to traces
    if store.kind == "victoriametrics" and env.prometheus_replicas > 1:
        # VictoriaMetrics deduplicates identical series (-dedup.minScrapeInterval): the pair's
        # samples must not differ by the replica label.
        entry["write_relabel_configs"] = [{"action": "labeldrop", "regex": replica_label(store)}]
    return [entry]


# --- rule placement -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RulePlacement:
    """Which rule files the environment's Prometheus evaluates, and which the store's ruler does."""

    local: tuple[RuleFile, ...]
    ruler: tuple[RuleFile, ...]
    store: MetricsStore | None
    agent_mode: bool
    #: The environment whose series the ruler's rules select (``environment="<name>"``).
    environment: str


def _is_global(file: RuleFile, store: MetricsStore | None) -> bool:
    if store is None:
        return False
    return store.agent_mode or file.name.startswith(GLOBAL_RULE_PREFIX)


def rule_placement(ctx: RenderContext) -> RulePlacement:
    """Which rule files run where for ``ctx.env`` (computed once per environment: use
    ``ctx.derived(rule_placement)``). A local rule that reads a series only the ruler records
    would find nothing: that stops the build."""
    store = ctx.platform.metrics_store
    files = ctx.derived(rule_files)
    local = tuple(f for f in files if not _is_global(f, store))
    ruler = tuple(f for f in files if _is_global(f, store))
    check_placement(local, ruler)
    return RulePlacement(local, ruler, store, agent_mode(ctx.platform), ctx.env.name)


def check_placement(local: Sequence[RuleFile], ruler: Sequence[RuleFile]) -> None:
    """Raise :class:`RenderError` when a local rule reads a series only the ruler records, or a
    ruler file needs a local one: neither evaluator would see the series."""
    recorded_by_ruler = {name for f in ruler for name in f.records} - {name for f in local for name in f.records}
    problems: list[str] = []
    for file in local:
        for query in file.queries:
            names, _ = selected_metrics(query.expr)
            for name in sorted(names & recorded_by_ruler):
                problems.append(f"{file.path}: {query.where} reads {name}, which only the metrics store's ruler records")
    by_name = {f.name: f for f in (*local, *ruler)}
    for file in ruler:
        for need in file.needs:
            if need in by_name and by_name[need] in local:
                problems.append(f"{file.path}: runs in the store's ruler but needs {by_name[need].path}, which runs locally")
    if problems:
        raise RenderError(
            "rule placement: a rule would read series it cannot see:\n  "
            + "\n  ".join(problems)
            + "\n  fix: move the rule into an slo-* file (evaluated by the ruler), or read the raw series instead"
        )


def ruler_host(url: str) -> tuple[str, str, str]:
    """``(scheme, host:port, path)`` of an http(s) URL, the port filled in from the scheme."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, f"{parts.hostname}:{port}", parts.path.rstrip("/")


__all__ = [
    "CLUSTER_LABEL",
    "GLOBAL_RULE_PREFIX",
    "REPLICA_ENV_VAR",
    "RulePlacement",
    "agent_mode",
    "check_placement",
    "cluster_name",
    "estimated_series",
    "external_labels",
    "prometheus_features",
    "queue_config",
    "remote_write",
    "replica_label",
    "rule_placement",
    "ruler_host",
    "store_auth",
    "tenant_headers",
]
