"""Scope a PromQL expression to one label value: every series selector gets ``name="value"``.

A global ruler reads a store that holds every environment's series; its rules must select only
their own environment's. The way prom-label-proxy and Grafana Alloy's ``extra_query_matchers`` do
it is to add an equality matcher to every selector; this does the same on the expression's text,
so the rule reads exactly as it was written plus the matcher, and the result is checked with the
real parser: it must parse, select the same series as before, and carry the matcher everywhere.

The lexer knows what is not a selector: strings, durations and subquery ranges in ``[...]``,
label lists after ``by``/``without``/``on``/``ignoring``/``group_left``/``group_right``, function
and aggregation names (an identifier followed by ``(``), keywords and number literals.
"""

from __future__ import annotations

import re
from collections import Counter

from obs.errors import PromQLError

try:  # the parser is part of the `build` extra
    import promql_parser
except ImportError:  # pragma: no cover - exercised only without the extra
    promql_parser = None  # type: ignore[assignment]

_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*", re.ASCII)
_NUMBER = re.compile(r"(?:0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?(?:[smhdwy]|ms)?(?:[0-9]+(?:[smhdwy]|ms))*)", re.ASCII)
_LABEL_LIST_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"}) | _LABEL_LIST_KEYWORDS
_AGGREGATIONS = frozenset(
    {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
)


def _string_end(expr: str, start: int) -> int:
    """The index after the string literal that starts at ``start``."""
    quote = expr[start]
    i = start + 1
    while i < len(expr):
        if expr[i] == "\\" and quote != "`":
            i += 2
            continue
        if expr[i] == quote:
            return i + 1
        i += 1
    raise ValueError(f"unterminated string at {start}")


def _skip_space(expr: str, i: int) -> int:
    while i < len(expr):
        if expr[i].isspace():
            i += 1
        elif expr[i] == "#":  # a comment runs to the end of the line
            while i < len(expr) and expr[i] != "\n":
                i += 1
        else:
            return i
    return i


def _closing(expr: str, start: int, opening: str, closing: str) -> int:
    """The index of the bracket that closes the one at ``start`` (strings skipped)."""
    depth, i = 0, start
    while i < len(expr):
        c = expr[i]
        if c in "\"'`":
            i = _string_end(expr, i)
            continue
        if c == opening:
            depth += 1
        elif c == closing:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unbalanced {opening!r} at {start}")


def _next_word(expr: str, i: int) -> str:
    match = _IDENT.match(expr, i)
    return match.group().lower() if match else ""


def _with_matcher_text(expr: str, matcher: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(expr):
        c = expr[i]
        if c.isspace() or c == "#":
            j = _skip_space(expr, i)
            out.append(expr[i:j])
            i = j
        elif c in "\"'`":
            j = _string_end(expr, i)
            out.append(expr[i:j])
            i = j
        elif c == "[":  # a range or subquery: durations only
            j = _closing(expr, i, "[", "]") + 1
            out.append(expr[i:j])
            i = j
        elif c == "{":  # a selector's matchers (with or without a metric name before it)
            j = _closing(expr, i, "{", "}")
            inside = expr[i + 1 : j]
            out.append("{" + (f"{inside.rstrip().rstrip(',')}, {matcher}" if inside.strip() else matcher) + "}")
            i = j + 1
        elif c.isdigit() or (c == "." and i + 1 < len(expr) and expr[i + 1].isdigit()):
            match = _NUMBER.match(expr, i)
            j = match.end() if match and match.end() > i else i + 1
            out.append(expr[i:j])
            i = j
        elif _IDENT.match(expr, i):
            match = _IDENT.match(expr, i)
            assert match is not None
            word, j = match.group(), match.end()
            out.append(word)
            i = j
            after = _skip_space(expr, j)
            lowered = word.lower()
            if lowered in _LABEL_LIST_KEYWORDS and after < len(expr) and expr[after] == "(":
                end = _closing(expr, after, "(", ")") + 1
                out.append(expr[j:end])
                i = end
            elif lowered in _KEYWORDS:
                continue
            elif after < len(expr) and expr[after] == "(":
                continue  # a function call
            elif lowered in _AGGREGATIONS and _next_word(expr, after) in ("by", "without"):
                continue  # `sum by (...) (...)`
            elif after < len(expr) and expr[after] == "{":
                continue  # the matchers follow and get the label there
            else:
                out.append("{" + matcher + "}")
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _selectors(expr: str) -> list[tuple[str, tuple[tuple[str, str, str], ...]]]:
    """Every vector selector of ``expr``: its name and its matchers (sorted)."""
    found: list[tuple[str, tuple[tuple[str, str, str], ...]]] = []

    def visit(node: object) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            matchers = tuple(sorted((m.name, str(m.op), m.value) for m in node.matchers.matchers))
            found.append((node.name or "", matchers))
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def with_matcher(expr: str, name: str, value: str, where: str = "") -> str:
    """``expr`` with ``name="value"`` added to every series selector.

    Raises :class:`PromQLError` when the expression does not parse, already selects on ``name``
    (it would then ask for two values), or when the result is not the same selection plus the
    matcher (which would be a bug here, caught before anything is written)."""
    if promql_parser is None:
        raise PromQLError(where or "promql", expr, "the PromQL parser is not installed: pip install 'obs[build]'")
    try:
        before = _selectors(expr)
    except ValueError as exc:
        raise PromQLError(where or "promql", expr, f"does not parse: {exc}") from None
    if any(m[0] == name for _, matchers in before for m in matchers):
        raise PromQLError(where or "promql", expr, f"already selects on {name!r}, which the ruler sets from the environment; remove that matcher")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    try:
        scoped = _with_matcher_text(expr, f'{name}="{escaped}"')
        after = _selectors(scoped)
    except ValueError as exc:
        raise PromQLError(where or "promql", expr, f"cannot scope the expression to {name}={value!r}: {exc}") from None
    equal = str(promql_parser.MatchOp.Equal)
    added = (name, equal, value)
    expected = Counter((n, tuple(sorted((*m, added)))) for n, m in before)
    if Counter(after) != expected:
        raise PromQLError(where or "promql", expr, f"scoping to {name}={value!r} changed the selection: {scoped!r}")
    return scoped


__all__ = ["with_matcher"]
