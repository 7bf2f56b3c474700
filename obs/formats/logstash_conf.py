"""Logstash pipeline configuration: a typed tree, its text form, a tokenizer-based parser, checks.

There is no Logstash here to run ``--config.test_and_exit``, so rendered pipelines are parsed back
with :func:`parse` (the grammar of ``input {} filter {} output {}`` sections, plugins with
``key => value`` settings, ``if/else if/else`` blocks) and :func:`check` looks at what a parse alone
cannot: plugins in the right section, ``mutate { gsub }`` in triples, conditionals on
``[@metadata][...]`` only testing values an input actually sets (and not in a key the inputs own).

Strings are written double-quoted and read back without escape processing, as Logstash does with
its default ``config.support_escapes: false``: a regex keeps its backslashes byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Union

SECTIONS = ("input", "filter", "output")


class LogstashSyntaxError(ValueError):
    def __init__(self, line: int, problem: str) -> None:
        self.line = line
        self.problem = problem
        super().__init__(f"line {line}: {problem}")


@dataclass(frozen=True, slots=True)
class Bareword:
    """An unquoted value such as a codec name (``codec => json_lines``)."""

    word: str


Value = Union[str, int, float, bool, Bareword, tuple["Value", ...], "Hash"]


@dataclass(frozen=True, slots=True)
class Hash:
    """``{ "key" => value ... }`` with keys in order."""

    items: tuple[tuple[str, Value], ...]

    def as_dict(self) -> dict[str, Value]:
        return dict(self.items)


@dataclass(frozen=True, slots=True)
class Plugin:
    name: str
    settings: tuple[tuple[str, Value], ...] = ()
    comment: str = field(default="", compare=False)

    def get(self, key: str) -> Value | None:
        for k, v in self.settings:
            if k == key:
                return v
        return None


@dataclass(frozen=True, slots=True)
class If:
    """``if cond {..} else if cond {..} else {..}``; conditions are kept as written."""

    branches: tuple[tuple[str, tuple[Node, ...]], ...]
    otherwise: tuple[Node, ...] = ()
    comment: str = field(default="", compare=False)


Node = Plugin | If


@dataclass(frozen=True, slots=True)
class Section:
    kind: str
    body: tuple[Node, ...]
    comment: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Pipeline:
    sections: tuple[Section, ...]

    def section(self, kind: str) -> Section | None:
        for s in self.sections:
            if s.kind == kind:
                return s
        return None

    def plugins(self, kind: str | None = None) -> Iterator[tuple[str, Plugin]]:
        """Every plugin with the section it sits in, conditionals flattened."""

        def _walk(section: str, nodes: tuple[Node, ...]) -> Iterator[tuple[str, Plugin]]:
            for node in nodes:
                if isinstance(node, Plugin):
                    yield section, node
                else:
                    for _, body in node.branches:
                        yield from _walk(section, body)
                    yield from _walk(section, node.otherwise)

        for s in self.sections:
            if kind is None or s.kind == kind:
                yield from _walk(s.kind, s.body)

    def conditions(self) -> Iterator[str]:
        def _walk(nodes: tuple[Node, ...]) -> Iterator[str]:
            for node in nodes:
                if isinstance(node, If):
                    for cond, body in node.branches:
                        yield cond
                        yield from _walk(body)
                    yield from _walk(node.otherwise)

        for s in self.sections:
            yield from _walk(s.body)


def settings(**kwargs: Value) -> tuple[tuple[str, Value], ...]:
    return tuple(kwargs.items())


def hash_(mapping: Mapping[str, Value]) -> Hash:
    return Hash(tuple(mapping.items()))


# --- text form ----------------------------------------------------------------------------------

_INDENT = "  "


def _string(value: str) -> str:
    # Without escape processing a `"` can only appear as `\"`, which stays two characters in the
    # value (a regex reads it as `"`). A bare quote cannot be written at all, so it is refused.
    escaped = False
    for ch in value:
        if ch == '"' and not escaped:
            raise ValueError(f"a Logstash string cannot hold a bare double quote (write \\\" in a regex): {value!r}")
        escaped = ch == "\\" and not escaped
    if escaped:
        raise ValueError(f"a Logstash string cannot end with a lone backslash: {value!r}")
    if "\n" in value:
        raise ValueError(f"keep Logstash strings on one line: {value!r}")
    return '"' + value + '"'


def _value(value: Value, depth: int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Bareword):
        return value.word
    if isinstance(value, tuple):
        return "[" + ", ".join(_value(v, depth) for v in value) + "]"
    inner = _INDENT * (depth + 1)
    lines = [f"{inner}{_string(k)} => {_value(v, depth + 1)}" for k, v in value.items]
    return "{\n" + "\n".join(lines) + "\n" + _INDENT * depth + "}"


def _comment(text: str, indent: str) -> list[str]:
    return [f"{indent}# {line}".rstrip() for line in text.splitlines()] if text else []


def _node(node: Node, depth: int) -> list[str]:
    indent = _INDENT * depth
    lines = _comment(node.comment, indent)
    if isinstance(node, Plugin):
        lines.append(f"{indent}{node.name} {{")
        for key, value in node.settings:
            lines.append(f"{indent}{_INDENT}{key} => {_value(value, depth + 1)}")
        lines.append(f"{indent}}}")
        return lines
    for i, (cond, body) in enumerate(node.branches):
        opener = f"if {cond} {{" if i == 0 else f"}} else if {cond} {{"
        lines.append(indent + opener)
        for child in body:
            lines.extend(_node(child, depth + 1))
    if node.otherwise:
        lines.append(f"{indent}}} else {{")
        for child in node.otherwise:
            lines.extend(_node(child, depth + 1))
    lines.append(f"{indent}}}")
    return lines


def render(pipeline: Pipeline) -> str:
    blocks: list[str] = []
    for section in pipeline.sections:
        lines = _comment(section.comment, "")
        lines.append(f"{section.kind} {{")
        for node in section.body:
            lines.extend(_node(node, 1))
        lines.append("}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


# --- parser -------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r]+) |
    (?P<nl>\n) |
    (?P<comment>\#[^\n]*) |
    (?P<string>"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*') |
    (?P<arrow>=>) |
    (?P<punct>[{}\[\],]) |
    (?P<number>-?\d+(?:\.\d+)?(?![\w.])) |
    (?P<word>[A-Za-z_@][\w@.-]*) |
    (?P<other>\S)
    """,
    re.VERBOSE,
)


@dataclass(slots=True)
class _Tok:
    kind: str
    text: str
    line: int
    start: int
    end: int


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks: list[_Tok] = []
        line = 1
        for m in _TOKEN.finditer(text):
            kind = m.lastgroup or "other"
            if kind == "nl":
                line += 1
                continue
            if kind not in ("ws", "comment"):
                self.toks.append(_Tok(kind, m.group(), line, m.start(), m.end()))
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self, what: str) -> _Tok:
        tok = self.peek()
        if tok is None:
            last = self.toks[-1].line if self.toks else 1
            raise LogstashSyntaxError(last, f"unexpected end of file, expected {what}")
        self.i += 1
        return tok

    def expect(self, text: str) -> _Tok:
        tok = self.next(repr(text))
        if tok.text != text:
            raise LogstashSyntaxError(tok.line, f"expected {text!r}, found {tok.text!r}")
        return tok

    def pipeline(self) -> Pipeline:
        sections: list[Section] = []
        while self.peek() is not None:
            tok = self.next("a section")
            if tok.text not in SECTIONS:
                raise LogstashSyntaxError(tok.line, f"{tok.text!r} is not a section (input, filter, output)")
            self.expect("{")
            sections.append(Section(tok.text, self.body()))
        return Pipeline(tuple(sections))

    def body(self) -> tuple[Node, ...]:
        nodes: list[Node] = []
        while True:
            tok = self.next("a plugin or '}'")
            if tok.text == "}":
                return tuple(nodes)
            if tok.kind != "word":
                raise LogstashSyntaxError(tok.line, f"expected a plugin name, found {tok.text!r}")
            if tok.text == "if":
                nodes.append(self.conditional())
            else:
                self.expect("{")
                nodes.append(Plugin(tok.text, self.plugin_settings()))

    def condition(self) -> str:
        """The condition text up to the ``{`` that opens the block (brackets and regexes skipped)."""
        first = self.peek()
        if first is None:
            raise LogstashSyntaxError(self.toks[-1].line, "condition expected")
        depth = 0
        start = first.start
        while True:
            tok = self.next("'{' after the condition")
            if tok.text == "[":
                depth += 1
            elif tok.text == "]":
                depth -= 1
            elif tok.text == "/" and self.i >= 2 and self.toks[self.i - 2].text in ("=~", "!~", "~"):
                self._skip_regex(tok)
            elif tok.text == "{" and depth == 0:
                cond = self.text[start : tok.start].strip()
                if not cond:
                    raise LogstashSyntaxError(tok.line, "empty condition")
                return cond

    def _skip_regex(self, opening: _Tok) -> None:
        # The tokenizer split the regex into pieces; skip to the token ending at its closing '/'.
        j = opening.end
        while j < len(self.text):
            if self.text[j] == "\\":
                j += 2
                continue
            if self.text[j] == "/":
                break
            if self.text[j] == "\n":
                raise LogstashSyntaxError(opening.line, "unterminated regex")
            j += 1
        while self.peek() is not None and self.toks[self.i].start <= j:
            self.i += 1

    def conditional(self) -> If:
        branches = [(self.condition(), self.body())]
        otherwise: tuple[Node, ...] = ()
        while (tok := self.peek()) is not None and tok.text == "else":
            self.i += 1
            nxt = self.peek()
            if nxt is not None and nxt.text == "if":
                self.i += 1
                branches.append((self.condition(), self.body()))
            else:
                self.expect("{")
                otherwise = self.body()
                break
        return If(tuple(branches), otherwise)

    def plugin_settings(self) -> tuple[tuple[str, Value], ...]:
        out: list[tuple[str, Value]] = []
        while True:
            tok = self.next("a setting or '}'")
            if tok.text == "}":
                return tuple(out)
            if tok.kind not in ("word", "string"):
                raise LogstashSyntaxError(tok.line, f"expected a setting name, found {tok.text!r}")
            self.expect("=>")
            out.append((_unquote(tok), self.value()))

    def value(self) -> Value:
        tok = self.next("a value")
        if tok.kind == "string":
            return _unquote(tok)
        if tok.kind == "number":
            return float(tok.text) if "." in tok.text else int(tok.text)
        if tok.kind == "word":
            if tok.text in ("true", "false"):
                return tok.text == "true"
            return Bareword(tok.text)
        if tok.text == "[":
            items: list[Value] = []
            while True:
                nxt = self.peek()
                if nxt is not None and nxt.text == "]":
                    self.i += 1
                    return tuple(items)
                items.append(self.value())
                sep = self.next("',' or ']'")
                if sep.text == "]":
                    return tuple(items)
                if sep.text != ",":
                    raise LogstashSyntaxError(sep.line, f"expected ',' or ']', found {sep.text!r}")
        if tok.text == "{":
            pairs: list[tuple[str, Value]] = []
            while True:
                key = self.next("a hash key or '}'")
                if key.text == "}":
                    return Hash(tuple(pairs))
                if key.kind not in ("string", "word", "number"):
                    raise LogstashSyntaxError(key.line, f"expected a hash key, found {key.text!r}")
                self.expect("=>")
                pairs.append((_unquote(key), self.value()))
        raise LogstashSyntaxError(tok.line, f"expected a value, found {tok.text!r}")


def _unquote(tok: _Tok) -> str:
    if tok.kind == "string":
        # No escape processing (config.support_escapes: false): the text between the quotes.
        return tok.text[1:-1]
    return tok.text


def parse(text: str) -> Pipeline:
    return _Parser(text).pipeline()


# --- checks -------------------------------------------------------------------------------------

#: Plugins obs writes, by the section Logstash accepts them in.
KNOWN_PLUGINS: Mapping[str, frozenset[str]] = {
    "input": frozenset({"beats", "tcp", "http"}),
    "filter": frozenset({"json", "mutate", "grok", "date", "drop", "ruby"}),
    "output": frozenset({"elasticsearch", "file", "stdout"}),
}

_METADATA_TEST = re.compile(r'\[@metadata\]\[(\w+)\]\s*==\s*"([^"]*)"')
#: Metadata keys Logstash's inputs own in ECS mode (v1, v8): beats, tcp and http write
#: ``[@metadata][input][<plugin>][...]`` themselves, before ``add_field`` runs.
ECS_OWNED_METADATA = frozenset({"input"})


def check(pipeline: Pipeline) -> list[str]:
    """Problems a parse alone does not catch; empty when the pipeline holds together."""
    problems: list[str] = []
    kinds = [s.kind for s in pipeline.sections]
    for kind in SECTIONS:
        if kinds.count(kind) != 1:
            problems.append(f"expected one {kind} section, found {kinds.count(kind)}")
    for section, plugin in pipeline.plugins():
        if plugin.name not in KNOWN_PLUGINS.get(section, frozenset()):
            problems.append(f"{plugin.name} is not a {section} plugin obs knows")
        gsub = plugin.get("gsub")
        malformed = not isinstance(gsub, tuple) or len(gsub) % 3 or not all(isinstance(v, str) for v in gsub)
        if plugin.name == "mutate" and gsub is not None and malformed:
            problems.append("mutate gsub must be a flat list of [field, pattern, replacement] strings")
    if not any(p.name == "elasticsearch" for _, p in pipeline.plugins("output")):
        problems.append("no elasticsearch output")
    # Every [@metadata][x] == "v" test must name a value some input sets, or its branch is dead.
    set_by_inputs: set[tuple[str, str]] = set()
    for _, plugin in pipeline.plugins("input"):
        add = plugin.get("add_field")
        if isinstance(add, Hash):
            for key, value in add.items:
                m = re.fullmatch(r"\[@metadata\]\[(\w+)\]", key)
                if m and m.group(1) in ECS_OWNED_METADATA:
                    problems.append(
                        f"{plugin.name} input adds {key}, where inputs in ECS mode write their own metadata "
                        "([@metadata][input][beats][host][ip], ...): the value is merged into theirs, and a "
                        "test for it never matches; use a key of your own ([@metadata][obs_input])"
                    )
                elif m and isinstance(value, str):
                    set_by_inputs.add((m.group(1), value))
    for cond in pipeline.conditions():
        for m in _METADATA_TEST.finditer(cond):
            if (m.group(1), m.group(2)) not in set_by_inputs:
                problems.append(f"condition {cond!r} tests a value no input sets: the branch never runs")
    return problems


__all__ = [
    "Bareword",
    "Hash",
    "If",
    "LogstashSyntaxError",
    "Node",
    "Pipeline",
    "Plugin",
    "Section",
    "check",
    "hash_",
    "parse",
    "render",
    "settings",
]
