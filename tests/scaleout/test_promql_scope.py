"""Scoping an expression to one environment: every selector, and only selectors, get the matcher."""

from __future__ import annotations

import pytest

from obs.artifacts import RenderContext
from obs.errors import PromQLError
from obs.promql_scope import with_matcher
from obs.ruleset import rule_files

ENV = 'environment="prod"'


@pytest.mark.parametrize(
    ("expr", "scoped"),
    [
        ("up", f"up{{{ENV}}}"),
        ("up == 0", f"up{{{ENV}}} == 0"),
        ('up{job="a"}', f'up{{job="a", {ENV}}}'),
        ("up{}", f"up{{{ENV}}}"),
        ('{__name__=~"slo:.*"}', f'{{__name__=~"slo:.*", {ENV}}}'),
        ('absent(up{job="a"})', f'absent(up{{job="a", {ENV}}})'),
        ("vector(1)", "vector(1)"),
        ("time() - process_start_time_seconds > 1e3", f"time() - process_start_time_seconds{{{ENV}}} > 1e3"),
        ("rate(x_total[5m] offset 1h)", f"rate(x_total{{{ENV}}}[5m] offset 1h)"),
        ("max_over_time(x[30m:1m])", f"max_over_time(x{{{ENV}}}[30m:1m])"),
        ("x @ 100", f"x{{{ENV}}} @ 100"),
        ("x offset -5m", f"x{{{ENV}}} offset -5m"),
        # Label lists after by/without/on/ignoring/group_left are not selectors.
        (
            "sum by (service) (rate(a[5m])) / on (service) group_left (team) sum without (instance) (b)",
            f"sum by (service) (rate(a{{{ENV}}}[5m])) / on (service) group_left (team) sum without (instance) (b{{{ENV}}})",
        ),
        ("sum(x) by (le)", f"sum(x{{{ENV}}}) by (le)"),
        ("topk(3, sum by(a)(b))", f"topk(3, sum by(a)(b{{{ENV}}}))"),
        ("histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))", f"histogram_quantile(0.99, sum by (le) (rate(h_bucket{{{ENV}}}[5m])))"),
        # Strings are not selectors, even when they look like one.
        ('label_replace(up, "dst", "$1", "src", "(.*)")', f'label_replace(up{{{ENV}}}, "dst", "$1", "src", "(.*)")'),
        ('count_values("up", x)', f'count_values("up", x{{{ENV}}})'),
        ('foo{a="}"}', f'foo{{a="}}", {ENV}}}'),
        ("x and on () vector(1) unless y", f"x{{{ENV}}} and on () vector(1) unless y{{{ENV}}}"),
        ("x == bool 1", f"x{{{ENV}}} == bool 1"),
    ],
)
def test_every_selector_gets_the_matcher(expr: str, scoped: str) -> None:
    assert with_matcher(expr, "environment", "prod") == scoped


def test_a_value_with_quotes_is_escaped() -> None:
    assert with_matcher("up", "environment", 'a"b') == 'up{environment="a\\"b"}'


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ('up{environment="dev"}', "already selects on 'environment'"),
        ("sum(", "does not parse"),
    ],
)
def test_refused(expr: str, problem: str) -> None:
    with pytest.raises(PromQLError, match=problem):
        with_matcher(expr, "environment", "prod", "rule X")


def test_every_rule_of_the_builtin_platform_scopes(edu_platform) -> None:
    """Each scoped rule selects what it selected, plus the environment (checked by the parser)."""
    ctx = RenderContext(edu_platform, edu_platform.environments[0])
    exprs = [rule["expr"] for f in ctx.derived(rule_files) for g in f.groups for rule in g["rules"]]
    assert len(exprs) > 100
    for expr in exprs:
        scoped = with_matcher(expr, "environment", "prod")
        assert scoped.count(ENV) == expr.count("{") + _bare_selectors(expr), expr


def _bare_selectors(expr: str) -> int:
    """Selectors written without braces in the catalogue's rules (``up == 0`` style)."""
    import promql_parser

    count = 0

    def visit(node: object) -> bool:
        nonlocal count
        if isinstance(node, promql_parser.VectorSelector) and not node.matchers.matchers:
            count += 1
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return count
