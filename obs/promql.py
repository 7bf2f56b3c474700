"""PromQL checks at build time: every expression parses, and every metric it selects is known.

Known means declared in :mod:`obs.contract`, recorded by a rule of the same build, or declared by
the author of the expression. A typo is a build error naming the artifact, the expression and the
unknown metric, with the closest known name, instead of an empty panel at 3 a.m.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from obs.errors import PromQLError

try:  # the parser is part of the `build` extra
    import promql_parser
except ImportError:  # pragma: no cover - exercised only without the extra
    promql_parser = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Query:
    """A PromQL expression that an artifact emits, with where it sits for error messages."""

    expr: str
    where: str
    #: Metrics the author declares on purpose (e.g. from an exporter the contract does not cover).
    declared: frozenset[str] = frozenset()


# Grafana interpolates these before the query reaches Prometheus; for parsing, any valid
# duration stands in for the interval variables.
_GRAFANA_DURATION_VARS = re.compile(r"\$\{?__(?:rate_interval|interval|range)(?:_ms|_s)?\}?")
_GRAFANA_VAR = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def substitute_grafana_variables(expr: str) -> str:
    """Replace Grafana template variables with values that parse, so dashboard queries can be
    checked like any other. Variables are expected inside label-matcher strings."""
    expr = _GRAFANA_DURATION_VARS.sub("5m", expr)
    return _GRAFANA_VAR.sub("var", expr)


def _require_parser() -> None:
    if promql_parser is None:
        raise PromQLError("promql", "", "the PromQL parser is not installed: pip install 'obs[build]'")


def selected_metrics(expr: str) -> tuple[set[str], list[str]]:
    """The metric names an expression selects, and the ``__name__`` regexes it uses.

    Raises :class:`ValueError` with the parser's message when the expression does not parse.
    """
    _require_parser()
    ast = promql_parser.parse(expr)
    names: set[str] = set()
    regexes: list[str] = []

    def visit(node: object) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__":
                    if matcher.op == promql_parser.MatchOp.Equal:
                        names.add(matcher.value)
                    elif matcher.op == promql_parser.MatchOp.Re:
                        regexes.append(matcher.value)
                    # Negative matchers select "everything else": nothing to check.
        return True

    promql_parser.walk(ast, visit)
    return names, regexes


def check_query(query: Query, known: frozenset[str], artifact: str) -> None:
    """Raise :class:`PromQLError` if the query does not parse or selects an unknown metric."""
    text = substitute_grafana_variables(query.expr)
    try:
        names, regexes = selected_metrics(text)
    except ValueError as exc:
        raise PromQLError(f"{artifact}: {query.where}", query.expr, f"does not parse: {exc}") from None
    allowed = known | query.declared
    for name in sorted(names - allowed):
        close = difflib.get_close_matches(name, sorted(allowed), n=1, cutoff=0.8)
        if close:
            hint = f" (did you mean {close[0]!r}?)"
        elif ":" in name:
            # level:metric:operations is the recording-rule convention: nothing here records it.
            hint = " (no recording rule of this build records it)"
        else:
            hint = " (declare it in obs.contract, or in the query's `declared` metrics)"
        raise PromQLError(f"{artifact}: {query.where}", query.expr, f"unknown metric {name!r}{hint}")
    for pattern in regexes:
        compiled = re.compile(pattern)
        if not any(compiled.fullmatch(n) for n in allowed):
            raise PromQLError(
                f"{artifact}: {query.where}",
                query.expr,
                f"__name__ regex {pattern!r} matches no known metric",
            )


def check_queries(queries: Iterable[tuple[str, Query]], known: frozenset[str]) -> list[PromQLError]:
    """Check (artifact, query) pairs; return every error rather than stopping at the first."""
    errors: list[PromQLError] = []
    for artifact, query in queries:
        try:
            check_query(query, known, artifact)
        except PromQLError as err:
            errors.append(err)
    return errors


__all__ = ["Query", "check_queries", "check_query", "selected_metrics", "substitute_grafana_variables"]
