"""The metrics store's ruler: the rule files it evaluates, its settings, and where every rule runs.

Output (relative to the environment folder):

``ruler/placement.yml``  which rule files the environment's Prometheus loads and which the store's
      ruler evaluates (always written: without a store, every file is local)
``ruler/vmalert/``  VictoriaMetrics: ``rules/<file>.yml`` and ``flags.yml`` (vmalert's command line,
      rule files mounted at ``/etc/vmalert/rules``)
``ruler/thanos/``  Thanos Ruler in stateless mode: ``rules/<file>.yml``, ``query.yml`` (the Querier),
      ``alertmanagers.yml``, ``remote-write.yml`` (results into Thanos Receive) and ``flags.yml``
      (files mounted at ``/etc/thanos``)
``ruler/mimir/<tenant>/<platform>-<env>-<file>.yml``  Mimir ruler namespaces in the layout of its
      ``local`` rule storage; ``mimirtool rules load|sync`` takes the same files (the namespace is
      the file name); ``runtime-overrides.yml`` turns on HA deduplication for the tenant (HA pairs)
``ruler/tests/<file>.test.yml``  promtool unit tests of the ruler's files: the rules' own cases
      with every series in the environment, plus, per alert, a firing case fed with another
      environment's series, which must leave it silent

The ruler's rules are the environment's rules with ``environment="<env>"`` on every selector and
as a label on every result (:mod:`obs.promql_scope`): a store holds every environment's series,
and the ruler must read only its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from obs import contract
from obs.artifacts import Artifact, RenderContext
from obs.model import Environment, MetricsStore, Platform
from obs.promql import Query
from obs.promql_scope import with_matcher
from obs.rules.rulefile import RuleFile, tests_document
from obs.scaleout import (
    RulePlacement,
    replica_label,
    rule_placement,
    ruler_host,
    store_auth,
    tenant_headers,
)
from obs.scaleout import queue_config as remote_queue

PLACEMENT_PATH = "ruler/placement.yml"
TESTS_DIR = "ruler/tests"
#: The ruler's folder per store kind.
RULER_DIRS: Mapping[str, str] = {"victoriametrics": "ruler/vmalert", "thanos": "ruler/thanos", "mimir": "ruler/mimir"}
#: Where the deployment mounts the ruler's folder (what flags.yml names).
MOUNTS: Mapping[str, str] = {"victoriametrics": "/etc/vmalert", "thanos": "/etc/thanos"}
#: The label that scopes the ruler's rules to one environment.
SCOPE_LABEL = contract.ENVIRONMENT_LABEL
#: Mimir's tenant when multitenancy is off (``-auth.no-auth-tenant``).
MIMIR_DEFAULT_TENANT = "anonymous"


def ruler_rule_path(store: MetricsStore, platform: Platform, env: Environment, file: RuleFile) -> str:
    """Where the ruler's copy of ``file`` is written."""
    folder = RULER_DIRS[store.kind]
    if store.kind == "mimir":
        return f"{folder}/{store.tenant or MIMIR_DEFAULT_TENANT}/{mimir_namespace(platform, env, file)}.yml"
    return f"{folder}/rules/{file.name}.yml"


def mimir_namespace(platform: Platform, env: Environment, file: RuleFile) -> str:
    # Environments may share a tenant: the namespace names the environment, so that one
    # environment's `mimirtool rules sync --namespaces-regex '^<platform>-<env>-'` leaves the others'.
    return f"{platform.name}-{env.name}-{file.name}"


def scoped_groups(file: RuleFile, environment: str) -> list[dict[str, Any]]:
    """``file``'s groups with every selector and every result scoped to ``environment``."""
    groups: list[dict[str, Any]] = []
    for group in file.groups:
        rules: list[dict[str, Any]] = []
        for rule in group["rules"]:
            what = f"{file.path}: {'record' if 'record' in rule else 'alert'} {rule.get('record') or rule.get('alert')}"
            scoped = dict(rule)
            scoped["expr"] = with_matcher(rule["expr"], SCOPE_LABEL, environment, what)
            scoped["labels"] = {**(rule.get("labels") or {}), SCOPE_LABEL: environment}
            rules.append(scoped)
        groups.append({**group, "rules": rules})
    return groups


def _ruler_artifact(path: str, file: RuleFile, environment: str) -> Artifact:
    groups = scoped_groups(file, environment)
    queries = tuple(
        Query(rule["expr"], f"{path}: {rule.get('record') or rule.get('alert')}", query.declared)
        for group in groups
        for rule, query in zip(group["rules"], _queries_by_rule(file, group), strict=True)
    )
    return Artifact(path, {"groups": groups}, queries=queries, records=tuple(dict.fromkeys(file.records)))


def _queries_by_rule(file: RuleFile, group: Mapping[str, Any]) -> list[Query]:
    """The build's query record of each rule of ``group`` (for the authors' declared metrics)."""
    by_expr = {q.expr: q for q in file.queries}
    original = next(g for g in file.groups if g["name"] == group["name"])
    return [by_expr.get(rule["expr"], Query(rule["expr"], file.path)) for rule in original["rules"]]


# --- promtool tests of the ruler's files ------------------------------------------------------------


def _with_label(series: str, name: str, value: str) -> str:
    """``series`` (a promtool series or sample label string) with one more label."""
    text = series.strip()
    pair = f'{name}="{value}"'
    if text.endswith("}"):
        inside = text[text.index("{") + 1 : -1].strip()
        return f"{text[: text.index('{')]}{{{inside + ', ' if inside else ''}{pair}}}"
    return f"{text}{{{pair}}}"


def _scoped_case(case: Mapping[str, Any], environment: str) -> dict[str, Any]:
    out = dict(case)
    out["input_series"] = [{**s, "series": _with_label(s["series"], SCOPE_LABEL, environment)} for s in case.get("input_series", [])]
    if "alert_rule_test" in case:
        out["alert_rule_test"] = [
            {**t, "exp_alerts": [{**a, "exp_labels": {**a.get("exp_labels", {}), SCOPE_LABEL: environment}} for a in t["exp_alerts"]]}
            for t in case["alert_rule_test"]
        ]
    if "promql_expr_test" in case:
        out["promql_expr_test"] = [
            {
                **t,
                "expr": with_matcher(t["expr"], SCOPE_LABEL, environment, f"test {case.get('name', '')}"),
                "exp_samples": [{**s, "labels": _with_label(s["labels"], SCOPE_LABEL, environment)} for s in t["exp_samples"]],
            }
            for t in case["promql_expr_test"]
        ]
    return out


def _isolation_case(case: Mapping[str, Any], environment: str) -> dict[str, Any] | None:
    """The firing case fed with another environment's series: the ruler's rules stay silent."""
    alerts = [t for t in case.get("alert_rule_test", []) if t["exp_alerts"]]
    if not alerts or not case.get("input_series"):
        return None
    other = f"not-{environment}"
    return {
        "name": f"{case.get('name', 'case')} [another environment's series: silent]",
        "interval": case["interval"],
        "input_series": [{**s, "series": _with_label(s["series"], SCOPE_LABEL, other)} for s in case["input_series"]],
        "alert_rule_test": [{"eval_time": t["eval_time"], "alertname": t["alertname"], "exp_alerts": []} for t in alerts],
    }


def ruler_tests(file: RuleFile, by_name: Mapping[str, RuleFile], paths: Mapping[str, str], environment: str) -> dict[str, Any]:
    """``file``'s promtool tests run against the ruler's scoped copy of the rules."""
    document = tests_document(file, by_name)
    loaded = [*file.needs, file.name]
    absent = {a.name for a in file.alerts if "absent(" in a.expr}
    cases: list[dict[str, Any]] = []
    isolated: set[str] = set()
    for case in document["tests"]:
        cases.append(_scoped_case(case, environment))
        names = {t["alertname"] for t in case.get("alert_rule_test", [])}
        # One case per alert shows the scope (the matcher is on every selector alike).
        if names & absent or names <= isolated:
            continue
        isolation = _isolation_case(case, environment)
        if isolation is not None:
            cases.append(isolation)
            isolated |= names
    return {
        **document,
        "rule_files": [_relative(TESTS_DIR, paths[name]) for name in loaded],
        "tests": cases,
    }


def _relative(folder: str, path: str) -> str:
    depth = folder.count("/") + 1
    return "../" * depth + path


# --- the rulers' settings -------------------------------------------------------------------------------


def vmalert_flags(platform: Platform, env: Environment, store: MetricsStore) -> list[str]:
    mount = MOUNTS["victoriametrics"]
    flags = [
        f"-rule={mount}/rules/*.yml",
        f"-datasource.url={store.query_url}",
        # Recording results and alert state go back into the store; the state is read back on restart.
        f"-remoteWrite.url={store.write_url}",
        "-remoteWrite.disablePathAppend",
        f"-remoteRead.url={store.query_url}",
        f"-notifier.url={platform.alertmanager_url}",
        f"-evaluationInterval={env.scrape_interval}",
        # Alerts carry the same labels wherever they are evaluated (vmalert adds `alertgroup` otherwise).
        "-disableAlertgroupLabel",
    ]
    for prefix in ("datasource", "remoteWrite", "remoteRead"):
        if store.bearer_token_file:
            flags.append(f"-{prefix}.bearerTokenFile={store.bearer_token_file}")
        elif store.basic_auth_username:
            flags += [f"-{prefix}.basicAuth.username={store.basic_auth_username}", f"-{prefix}.basicAuth.passwordFile={store.basic_auth_password_file}"]
    return flags


def _thanos_endpoint(url: str) -> dict[str, Any]:
    scheme, host, path = ruler_host(url)
    endpoint: dict[str, Any] = {"static_configs": [host], "scheme": scheme}
    if path:
        endpoint["path_prefix"] = path
    return endpoint


def thanos_files(platform: Platform, env: Environment, store: MetricsStore) -> Iterator[Artifact]:
    folder, mount = RULER_DIRS["thanos"], MOUNTS["thanos"]
    http_config: dict[str, Any] = {}
    if store.bearer_token_file:
        http_config["bearer_token_file"] = store.bearer_token_file
    elif store.basic_auth_username:
        http_config["basic_auth"] = {"username": store.basic_auth_username, "password_file": store.basic_auth_password_file}
    query = _thanos_endpoint(store.query_url)
    if http_config:
        query["http_config"] = http_config
    yield Artifact(f"{folder}/query.yml", [query])
    alertmanager = {**_thanos_endpoint(platform.alertmanager_url), "timeout": "10s", "api_version": "v2"}
    yield Artifact(f"{folder}/alertmanagers.yml", {"alertmanagers": [alertmanager]})
    write: dict[str, Any] = {"name": "thanos-receive", "url": store.write_url, **store_auth(store)}
    if tenant_headers(store):
        write["headers"] = tenant_headers(store)
    write["queue_config"] = remote_queue(platform, env)
    yield Artifact(f"{folder}/remote-write.yml", {"remote_write": [write]})
    flags = [
        f"--rule-file={mount}/rules/*.yml",
        f"--query.config-file={mount}/query.yml",
        "--query.http-method=POST",
        f"--alertmanagers.config-file={mount}/alertmanagers.yml",
        # Stateless: results go to Receive, the ruler keeps only a WAL.
        f"--remote-write.config-file={mount}/remote-write.yml",
        f"--eval-interval={env.scrape_interval}",
        # Thanos requires labels naming the ruler; the environment is what its results already carry.
        f'--label={SCOPE_LABEL}="{env.name}"',
        f"--alert.query-url={store.query_url}",
    ]
    yield Artifact(f"{folder}/flags.yml", flags)


def mimir_overrides(env: Environment, store: MetricsStore) -> dict[str, Any]:
    """Runtime overrides that make Mimir keep one replica of an HA pair (its HA tracker)."""
    return {
        "overrides": {
            store.tenant or MIMIR_DEFAULT_TENANT: {
                "accept_ha_samples": True,
                "ha_cluster_label": "cluster",
                "ha_replica_label": replica_label(store),
            }
        }
    }


# --- the group ------------------------------------------------------------------------------------------


def placement_document(ctx: RenderContext, placement: RulePlacement, paths: Mapping[str, str]) -> dict[str, Any]:
    store = placement.store
    return {
        "environment": ctx.env.name,
        "metrics_store": None
        if store is None
        else {"kind": store.kind, "write_url": store.write_url, "query_url": store.query_url, "tenant": store.tenant},
        "agent_mode": placement.agent_mode,
        "prometheus_replicas": ctx.env.prometheus_replicas,
        "local": [f.path for f in placement.local],
        "ruler": [{"rules": f.path, "file": paths[f.name]} for f in placement.ruler],
        "scope": {SCOPE_LABEL: ctx.env.name} if placement.ruler else {},
    }


def render(ctx: RenderContext) -> Iterable[Artifact]:
    placement = ctx.derived(rule_placement)
    store = placement.store
    paths = {f.name: ruler_rule_path(store, ctx.platform, ctx.env, f) for f in placement.ruler} if store else {}
    yield Artifact(PLACEMENT_PATH, placement_document(ctx, placement, paths))
    if store is None or not placement.ruler:
        return
    by_name = {f.name: f for f in (*placement.local, *placement.ruler)}
    for file in placement.ruler:
        yield _ruler_artifact(paths[file.name], file, ctx.env.name)
    for file in placement.ruler:
        if file.alerts or file.expr_tests:
            yield Artifact(f"{TESTS_DIR}/{file.name}.test.yml", ruler_tests(file, by_name, paths, ctx.env.name))
    if store.kind == "victoriametrics":
        yield Artifact(f"{RULER_DIRS['victoriametrics']}/flags.yml", vmalert_flags(ctx.platform, ctx.env, store))
    elif store.kind == "thanos":
        yield from thanos_files(ctx.platform, ctx.env, store)
    elif store.kind == "mimir" and ctx.env.prometheus_replicas > 1:
        yield Artifact(f"{RULER_DIRS['mimir']}/runtime-overrides.yml", mimir_overrides(ctx.env, store))


__all__ = [
    "MIMIR_DEFAULT_TENANT",
    "MOUNTS",
    "PLACEMENT_PATH",
    "RULER_DIRS",
    "SCOPE_LABEL",
    "TESTS_DIR",
    "mimir_namespace",
    "mimir_overrides",
    "placement_document",
    "render",
    "ruler_rule_path",
    "ruler_tests",
    "scoped_groups",
    "thanos_files",
    "vmalert_flags",
]
