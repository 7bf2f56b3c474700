"""A rules file under construction: its groups, the queries and recordings the build checks, the
alerts with their tests, and the promtool test document generated from them.

The test document grows with the number of alerts, never with its square:

* alerts of one template in a file (``TargetDown`` of every job, ``PostgresDown`` of every
  database: same name, same cases at the same times) are tested together: each case runs once with
  every member's series side by side and expects every member's alert with its own labels and
  annotations, so each member's threshold, ``for`` and wiring are checked in the one case;
* a file whose rules are another file's with only the component's names changed (the SLO files of
  services with the same objectives) keeps only its wiring: its first firing case and its first
  recording case, while every case runs in the file it was made from (:func:`mark_templates`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from obs.alerting import Alert, AlertTest, require_tests
from obs.artifacts import Artifact
from obs.promql import Query

RULES_DIR = "prometheus/rules"
TESTS_DIR = "prometheus/tests"
#: Members named in a merged case's name before "and N more".
NAMED_MEMBERS = 3


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
    #: The file this one's rules were shown to be a renamed copy of (:func:`mark_templates`): its
    #: tests run every case, this file's only the wiring.
    template: str = ""

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


# --- templates -----------------------------------------------------------------------------------


def _shape_key(alert: Alert) -> tuple[Any, ...]:
    """Alerts with the same name and the same cases at the same times are one template."""
    return (
        alert.name,
        tuple((t.name, t.eval_time, t.interval, t.silent_at, bool(t.fires)) for t in alert.tests),
    )


def template_groups(alerts: Iterable[Alert]) -> list[list[Alert]]:
    """The file's alerts by template, in the order each template first appears."""
    groups: dict[tuple[Any, ...], list[Alert]] = {}
    for alert in alerts:
        groups.setdefault(_shape_key(alert), []).append(alert)
    return list(groups.values())


def _disjoint(members: Sequence[Alert]) -> bool:
    """Whether no two members feed the same series into any case: only then is a case of all of
    them side by side each member's own case."""
    for i in range(len(members[0].tests)):
        owner: dict[str, int] = {}
        for m, alert in enumerate(members):
            for series in alert.tests[i].series:
                if owner.setdefault(series.selector, m) != m:
                    return False
    return True


def members_label(alerts: Sequence[Alert]) -> str:
    names = list(dict.fromkeys(a.service for a in alerts))
    if len(names) <= NAMED_MEMBERS:
        return ", ".join(names)
    return f"{', '.join(names[:NAMED_MEMBERS])} and {len(names) - NAMED_MEMBERS} more"


def _entry(name: str, members: Sequence[Alert], cases: Sequence[AlertTest]) -> dict[str, Any]:
    """One promtool case: the members' cases (same times) side by side."""
    case = cases[0]
    return {
        "name": name,
        "interval": case.interval,
        "input_series": [{"series": s.selector, "values": s.values} for c in cases for s in c.series],
        "alert_rule_test": [
            *({"eval_time": t, "alertname": members[0].name, "exp_alerts": []} for t in case.silent_at),
            {
                "eval_time": case.eval_time,
                "alertname": members[0].name,
                "exp_alerts": [a.expected(f) for a, c in zip(members, cases, strict=True) for f in c.fires],
            },
        ],
    }


def _alert_cases(file: RuleFile) -> Iterable[dict[str, Any]]:
    for members in template_groups(file.alerts):
        if len(members) > 1 and _disjoint(members):
            label = members_label(members)
            for i, case in enumerate(members[0].tests):
                yield _entry(f"{members[0].name} [{label}]: {case.name}", members, [m.tests[i] for m in members])
            continue
        for alert in members:
            for case in alert.tests:
                yield _entry(f"{alert.name} [{alert.service}]: {case.name}", [alert], [case])


def _wiring_cases(file: RuleFile) -> Iterable[dict[str, Any]]:
    """A file made from a template: its first firing case and its first recording case show its
    names are wired; every other case ran in the template's tests."""
    note = f" (wiring; every case runs in {file.template}.test.yml)"
    for alert in file.alerts:
        firing = next((c for c in alert.tests if c.fires), None)
        if firing is not None:
            yield _entry(f"{alert.name} [{alert.service}]: {firing.name}{note}", [alert], [firing])
            break
    for case in file.expr_tests[:1]:
        yield {**case, "name": f"{case.get('name', 'recordings')}{note}"}


def tests_document(file: RuleFile, by_name: Mapping[str, RuleFile]) -> dict[str, Any]:
    tests: list[dict[str, Any]] = []
    seen: set[str] = set()
    cases = _wiring_cases(file) if file.template else (*_alert_cases(file), *file.expr_tests)
    for entry in cases:
        # The burn-rate windows of one SLO share their quiet cases: run each once.
        key = json.dumps(entry, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        tests.append(entry)
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


# --- files made from one template ----------------------------------------------------------------


def shape(file: RuleFile, names: Sequence[str]) -> str:
    """The file's rules as text, each of ``names`` (the component's name, its team, ...) replaced
    by a placeholder of its position. Two files of one shape differ only by those names."""
    text = json.dumps([file.groups, file.needs, file.test_step], sort_keys=True)
    tokens = sorted({n for n in names if n}, key=len, reverse=True)
    if not tokens:
        return text
    index = {t: i for i, t in enumerate(names)}
    pattern = re.compile("|".join(re.escape(t) for t in tokens))
    return pattern.sub(lambda m: f"\x00{index[m.group(0)]}\x00", text)


def mark_templates(files: Sequence[RuleFile], names: Callable[[RuleFile], Sequence[str]]) -> None:
    """Point each file whose rules are an earlier file's with other names at that file
    (:attr:`RuleFile.template`). The text comparison is exact, so a file is cut to its wiring
    only when its rules behave as the template's on its own series."""
    first: dict[str, str] = {}
    for file in files:
        if not file.alerts:
            continue
        template = first.setdefault(shape(file, names(file)), file.name)
        if template != file.name:
            file.template = template


__all__ = ["RULES_DIR", "RuleFile", "TESTS_DIR", "mark_templates", "members_label", "shape", "template_groups", "tests_document"]
