"""A rules file under construction: its groups, the queries and recordings the build checks, the
alerts with their tests, and the promtool test document generated from them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from obs.alerting import Alert, require_tests
from obs.artifacts import Artifact
from obs.promql import Query

RULES_DIR = "prometheus/rules"
TESTS_DIR = "prometheus/tests"


@dataclass
class RuleFile:
    """One rules file: groups of recording rules and alerts, plus what the build must check."""

    name: str
    groups: list[dict[str, Any]] = field(default_factory=list)
    queries: list[Query] = field(default_factory=list)
    records: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    #: Other rule files the tests of this file need loaded (recordings the alerts read).
    needs: tuple[str, ...] = ()
    #: How often promtool evaluates the rules in this file's tests.
    test_step: str = "1m"
    #: promtool cases for the recordings themselves (``promql_expr_test``), beside the alert cases.
    expr_tests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"{RULES_DIR}/{self.name}.yml"

    def group(self, name: str) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = []
        self.groups.append({"name": name, "rules": rules})
        return rules

    def record(
        self, rules: list[dict[str, Any]], name: str, expr: str, labels: Mapping[str, str], where: str
    ) -> None:
        rules.append({"record": name, "expr": expr, "labels": dict(labels)})
        self.records.append(name)
        self.queries.append(Query(expr, f"{where}: record {name}"))

    def alert(self, rules: list[dict[str, Any]], alert: Alert) -> None:
        require_tests(alert)
        rules.append(alert.rule())
        self.alerts.append(alert)
        self.queries.append(Query(alert.expr, alert.where, alert.declared))

    def artifact(self) -> Artifact:
        return Artifact(
            self.path,
            {"groups": self.groups},
            queries=tuple(self.queries),
            records=tuple(dict.fromkeys(self.records)),
        )


def tests_document(file: RuleFile, by_name: Mapping[str, RuleFile]) -> dict[str, Any]:
    tests: list[dict[str, Any]] = []
    seen: set[str] = set()
    for alert in file.alerts:
        for case in alert.tests:
            entry = {
                "name": f"{alert.name} [{alert.service}]: {case.name}",
                "interval": case.interval,
                "input_series": [{"series": s.selector, "values": s.values} for s in case.series],
                "alert_rule_test": [
                    *({"eval_time": t, "alertname": alert.name, "exp_alerts": []} for t in case.silent_at),
                    {
                        "eval_time": case.eval_time,
                        "alertname": alert.name,
                        "exp_alerts": [alert.expected(f) for f in case.fires],
                    },
                ],
            }
            # The burn-rate windows of one SLO share their quiet cases: run each once.
            key = json.dumps(entry, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            tests.append(entry)
    tests.extend(file.expr_tests)
    loaded = [by_name[name] for name in file.needs] + [file]
    files = [f"../rules/{f.name}.yml" for f in loaded]
    # Recordings before the alerts that read them, at every evaluation: the firing time is then
    # exact instead of one evaluation late by the groups' alphabetical order.
    order = [g["name"] for f in loaded for g in f.groups]
    return {
        "rule_files": files,
        "evaluation_interval": file.test_step,
        "group_eval_order": order,
        "tests": tests,
    }


__all__ = ["RULES_DIR", "RuleFile", "TESTS_DIR", "tests_document"]
