"""Prometheus recording and alerting rules, with their promtool unit tests.

Output (relative to the environment folder; ``prometheus/prometheus.yml`` loads ``rules/*.yml``):

``prometheus/rules/slo-<service>-<slo>.yml``  one file per SLO, with its groups by purpose:
      ``<platform>-slo-sli-*``     SLI recordings: request rate, error ratio (latency SLOs: also
                                   the good ratio) and burn rate over every window the alerts read
      ``<platform>-slo-meta-*``    objective, error budget, SLO-window ratio, budget remaining
      ``<platform>-slo-alerts-*``  multi-window multi-burn-rate alerts (``ErrorBudgetBurn``)
``prometheus/rules/<purpose>.yml``  the catalogue's symptom and cause alerts (services, targets,
      postgres, redis, node, probes, self-monitoring), and ``custom``: the platform's own alerts
``prometheus/tests/<file>.test.yml``  promtool unit tests generated from every alert's cases
``prometheus/tests/handwritten/*.yml``  the platform's hand-written test files

Every alert carries its tests, and an alert without a firing and a silent case stops the build
(:func:`obs.alerting.require_tests`). The rule files are computed once per environment
(:mod:`obs.ruleset`) and shared with the groups that read the
alerts (Alertmanager's routing tests).
"""

from __future__ import annotations

from collections.abc import Iterable

from obs.artifacts import Artifact, RenderContext
from obs.rules.rulefile import RULES_DIR, TESTS_DIR, tests_document
from obs.ruleset import rule_files


def render(ctx: RenderContext) -> Iterable[Artifact]:
    files = ctx.derived(rule_files)
    by_name = {f.name: f for f in files}
    for file in files:
        yield file.artifact()
    for file in files:
        if file.alerts:
            yield Artifact(f"{TESTS_DIR}/{file.name}.test.yml", tests_document(file, by_name))
    for test in ctx.content.rule_tests:
        yield Artifact(f"{TESTS_DIR}/handwritten/{test.name}", test.text)


__all__ = ["RULES_DIR", "TESTS_DIR", "render"]

