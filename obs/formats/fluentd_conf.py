"""Fluentd v1 configuration: a small typed tree, its text form, a parser, and a routing check.

Fluentd has no dry-run we can use here (no Ruby gems on the build machines), so the rendered file
is parsed back with :func:`parse` and :func:`check_routing` simulates how events flow: every tag a
``<source>`` can emit must reach a ``<match>``, and every ``<filter>``/``<match>`` must be reachable
from some source, in the order Fluentd evaluates them (first matching ``<match>`` wins).

The grammar handled is the subset obs writes: ``<name arg>`` sections, ``key value`` parameters
whose values are unquoted (rest of the line) or double-quoted, and ``#`` comment lines.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace


class FluentdSyntaxError(ValueError):
    """The text is not Fluentd v1 configuration (line number and the offending text)."""

    def __init__(self, line: int, problem: str) -> None:
        self.line = line
        self.problem = problem
        super().__init__(f"line {line}: {problem}")


@dataclass(frozen=True, slots=True)
class Param:
    """``key value``; ``comment`` lines are written above it (they explain why, never what)."""

    key: str
    value: str
    comment: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Directive:
    """``<name arg> params... children... </name>``."""

    name: str
    arg: str = ""
    params: tuple[Param, ...] = ()
    children: tuple[Directive, ...] = ()
    comment: str = field(default="", compare=False)

    def get(self, key: str, default: str | None = None) -> str | None:
        for p in self.params:
            if p.key == key:
                return p.value
        return default

    def child(self, name: str) -> Directive | None:
        for c in self.children:
            if c.name == name:
                return c
        return None

    @property
    def type(self) -> str | None:
        return self.get("@type")

    @property
    def patterns(self) -> tuple[str, ...]:
        """The tag patterns of a ``<filter>``/``<match>`` (no argument means ``**``)."""
        return tuple(self.arg.split()) or ("**",)


@dataclass(frozen=True, slots=True)
class Config:
    directives: tuple[Directive, ...]

    def sections(self, name: str) -> tuple[Directive, ...]:
        return tuple(d for d in self.directives if d.name == name)

    def label(self, name: str) -> Directive | None:
        for d in self.directives:
            if d.name == "label" and d.arg == name:
                return d
        return None

    def walk(self) -> Iterator[Directive]:
        def _walk(ds: Iterable[Directive]) -> Iterator[Directive]:
            for d in ds:
                yield d
                yield from _walk(d.children)

        yield from _walk(self.directives)


def params(*pairs: tuple[str, object] | Param) -> tuple[Param, ...]:
    """``params(("@type", "forward"), ("port", 24224))`` with values stringified the Fluentd way."""
    out: list[Param] = []
    for pair in pairs:
        if isinstance(pair, Param):
            out.append(pair)
            continue
        key, value = pair
        out.append(Param(key, format_scalar(value)))
    return tuple(out)


def format_scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- text form ----------------------------------------------------------------------------------

_INDENT = "  "


class Embedded(str):
    """A value Fluentd evaluates as Ruby when it starts (``"#{...}"``): written only by obs's own
    renderers, for things that must not be in the file, such as a password read from its secret."""

    __slots__ = ()

    @property
    def text(self) -> str:
        return f'"#{{{self}}}"'


def _quote(value: str) -> str:
    """The value as Fluentd reads it back unchanged.

    Unquoted values run to the end of the line, and Fluentd reads ``#`` there as a comment, so such
    values (and ones with leading quotes or edge spaces) are double-quoted. Inside double quotes
    Fluentd expands ``#{...}`` as Ruby and interprets backslash escapes, so those are refused
    rather than silently changed.
    """
    if "\n" in value:
        raise ValueError(f"Fluentd parameter values are one line: {value!r}")
    needs_quotes = value == "" or "#" in value or value[0] in "\"'" or value != value.strip()
    if not needs_quotes:
        return value
    if "\\" in value or "#{" in value:
        raise ValueError(f"value {value!r} would need quoting but holds a backslash or '#{{': rewrite it")
    return '"' + value.replace('"', '\\"') + '"'


def _comment_lines(comment: str, indent: str) -> list[str]:
    return [f"{indent}# {line}".rstrip() for line in comment.splitlines()] if comment else []


def _render_directive(d: Directive, depth: int) -> list[str]:
    indent = _INDENT * depth
    lines = _comment_lines(d.comment, indent)
    lines.append(f"{indent}<{d.name}{' ' + d.arg if d.arg else ''}>")
    inner = _INDENT * (depth + 1)
    for p in d.params:
        lines.extend(_comment_lines(p.comment, inner))
        lines.append(f"{inner}{p.key} {p.value.text if isinstance(p.value, Embedded) else _quote(p.value)}")
    for c in d.children:
        lines.extend(_render_directive(c, depth + 1))
    lines.append(f"{indent}</{d.name}>")
    return lines


def render(config: Config) -> str:
    blocks = ["\n".join(_render_directive(d, 0)) for d in config.directives]
    return "\n\n".join(blocks) + "\n"


# --- parser -------------------------------------------------------------------------------------

_OPEN = re.compile(r"^<([A-Za-z_@][\w@.-]*)(?:\s+(.*?))?\s*>$")
_CLOSE = re.compile(r"^</([A-Za-z_@][\w@.-]*)\s*>$")
_PARAM = re.compile(r"^(@?[A-Za-z_][\w.@-]*)(?:\s+(.*))?$")


def _parse_value(raw: str, line: int) -> str:
    raw = raw.strip()
    if not raw.startswith('"'):
        if "#" in raw:
            raise FluentdSyntaxError(line, f"unquoted value {raw!r} holds '#', which Fluentd reads as a comment")
        return raw
    out: list[str] = []
    i = 1
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            out.append({"n": "\n", "t": "\t", "\\": "\\", '"': '"'}.get(nxt, nxt))
            i += 2
            continue
        if ch == '"':
            rest = raw[i + 1 :].strip()
            if rest and not rest.startswith("#"):
                raise FluentdSyntaxError(line, f"text after the closing quote: {rest!r}")
            value = "".join(out)
            # A whole "#{...}" is Ruby Fluentd evaluates, read back as what wrote it.
            return Embedded(value[2:-1]) if value.startswith("#{") and value.endswith("}") else value
        out.append(ch)
        i += 1
    raise FluentdSyntaxError(line, f"unterminated string {raw!r}")


def parse(text: str) -> Config:
    """Parse Fluentd v1 configuration text into a :class:`Config` (comments are dropped)."""
    # Each frame: (name, arg, params, children, line it opened on)
    stack: list[tuple[str, str, list[Param], list[Directive], int]] = [("", "", [], [], 0)]
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if m := _CLOSE.match(stripped):
            name = m.group(1)
            if len(stack) == 1:
                raise FluentdSyntaxError(number, f"</{name}> closes nothing")
            open_name, arg, ps, cs, opened = stack.pop()
            if open_name != name:
                raise FluentdSyntaxError(number, f"</{name}> closes <{open_name}> opened on line {opened}")
            stack[-1][3].append(Directive(open_name, arg, tuple(ps), tuple(cs)))
            continue
        if m := _OPEN.match(stripped):
            stack.append((m.group(1), (m.group(2) or "").strip(), [], [], number))
            continue
        if stripped.startswith("<"):
            raise FluentdSyntaxError(number, f"malformed section tag {stripped!r}")
        if m := _PARAM.match(stripped):
            if len(stack) == 1:
                raise FluentdSyntaxError(number, f"parameter {m.group(1)!r} outside any section")
            stack[-1][2].append(Param(m.group(1), _parse_value(m.group(2) or "", number)))
            continue
        raise FluentdSyntaxError(number, f"cannot read {stripped!r}")
    if len(stack) > 1:
        name, _, _, _, opened = stack[-1]
        raise FluentdSyntaxError(opened, f"<{name}> is never closed")
    return Config(tuple(stack[0][3]))


def strip_comments(config: Config) -> Config:
    """The same tree without comments (comments do not take part in equality anyway)."""

    def _strip(d: Directive) -> Directive:
        return replace(
            d,
            comment="",
            params=tuple(replace(p, comment="") for p in d.params),
            children=tuple(_strip(c) for c in d.children),
        )

    return Config(tuple(_strip(d) for d in config.directives))


# --- tag patterns -------------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> str:
    """Fluentd's glob match pattern as a regex: ``*`` one tag part, ``**`` zero or more parts,
    ``{a,b}`` alternatives (``a.**`` also matches ``a`` itself, as in Fluentd)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith(".**", i):
            out.append(r"(?:\..*)?")
            i += 3
        elif pattern.startswith("**.", i) and i == 0:
            out.append(r"(?:.*\.)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append(r"[^.]*")
            i += 1
        elif pattern[i] == "{":
            end = pattern.index("}", i)
            alternatives = pattern[i + 1 : end].split(",")
            out.append("(?:" + "|".join(_pattern_regex(a) for a in alternatives) + ")")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def tag_matches(pattern: str, tag: str) -> bool:
    return re.fullmatch(_pattern_regex(pattern), tag) is not None


def _literal_parts(patterns: Iterable[str]) -> set[str]:
    parts: set[str] = set()
    for pattern in patterns:
        for piece in re.split(r"[.{},*]+", pattern):
            if piece:
                parts.add(piece)
    return parts


def _witnesses(pattern: str, alphabet: tuple[str, ...], limit: int = 2000) -> list[str]:
    """Concrete tags standing for every way ``pattern`` can be filled in.

    ``*`` takes each word of ``alphabet`` (the literal tag parts the config mentions, plus a word
    nobody mentions); ``**`` also takes nothing and two words. That is enough to separate every
    pattern the config itself can distinguish.
    """
    alternatives: list[list[str]] = []
    for part in pattern.split("."):
        if part == "**":
            choices = ["", *alphabet, *(f"{a}.{b}" for a in alphabet[:4] for b in alphabet[:4])]
        elif part == "*":
            choices = list(alphabet)
        elif part.startswith("{") and part.endswith("}"):
            choices = part[1:-1].split(",")
        else:
            choices = [part]
        alternatives.append(choices)
    tags: list[str] = []
    for combo in itertools.product(*alternatives):
        tag = ".".join(p for p in combo if p)
        if tag and tag not in tags:
            tags.append(tag)
        if len(tags) >= limit:
            break
    return tags


# --- routing ------------------------------------------------------------------------------------

_UNNAMED_WORD = "zz-unlisted"


@dataclass(frozen=True, slots=True)
class Source:
    """Where events enter: the tag patterns a ``<source>`` emits and the label it routes to."""

    name: str
    tags: tuple[str, ...]
    label: str | None


def source_tags(source: Directive) -> tuple[str, ...]:
    """Tag patterns a ``<source>`` can emit.

    ``in_forward`` keeps the client's tag (any tag) unless ``tag`` replaces it or ``add_tag_prefix``
    prefixes it; ``in_tail`` puts the file path (dots for slashes, several parts) where ``*`` is.
    """
    tag = source.get("tag")
    if source.type == "forward":
        if tag:
            return (tag,)
        prefix = source.get("add_tag_prefix")
        return (f"{prefix}.**",) if prefix else ("**",)
    if tag is None:
        return ()
    if source.type == "tail":
        return (tag.replace("*", "**"),)
    return (tag,)


def sources(config: Config) -> tuple[Source, ...]:
    out = []
    for i, s in enumerate(config.sections("source")):
        name = s.get("@id") or f"source #{i + 1} (@type {s.type})"
        out.append(Source(name, source_tags(s), s.get("@label")))
    return tuple(out)


def _domain(config: Config, label: str | None) -> tuple[Directive, ...]:
    if label is None:
        return tuple(d for d in config.directives if d.name in ("filter", "match"))
    section = config.label(label)
    return tuple(d for d in section.children if d.name in ("filter", "match")) if section else ()


def _describe(d: Directive, label: str | None) -> str:
    where = f" in <label {label}>" if label else ""
    ident = d.get("@id")
    return f"<{d.name} {d.arg or '**'}>{where}" + (f" (@id {ident})" if ident else "")


def route(config: Config, tag: str, label: str | None = None) -> list[Directive]:
    """The ``<filter>``s an event with ``tag`` passes through and the ``<match>`` that takes it (last),
    following ``@label`` relabelling; ends without a match when nothing takes it."""
    path: list[Directive] = []
    seen: set[str | None] = set()
    while label not in seen:
        seen.add(label)
        for d in _domain(config, label):
            if not any(tag_matches(p, tag) for p in d.patterns):
                continue
            path.append(d)
            if d.name == "match":
                relabel = d.get("@label")
                if relabel is None or config.label(relabel) is None:
                    return path
                label = relabel
                break
        else:
            return path
    return path


def check_routing(config: Config) -> list[str]:
    """Problems in how events flow through ``config``; empty when every tag is routed and every
    filter and match is reached.

    Labels: a source with ``@label`` enters that label; a ``<match>`` with ``@label`` (``relabel``)
    passes its events on; ``@ERROR`` receives the events outputs reject (with their tags), and
    ``@FLUENT_LOG`` receives Fluentd's own ``fluent.*`` logs.
    """
    problems: list[str] = []
    all_patterns = [p for d in config.walk() if d.name in ("filter", "match") for p in d.patterns]
    srcs = sources(config)
    for src in srcs:
        all_patterns.extend(src.tags)
        if not src.tags:
            problems.append(f"{src.name} sets no tag, so its events cannot be routed")
        if src.label and config.label(src.label) is None:
            problems.append(f"{src.name} routes to {src.label}, which no <label> defines")
    alphabet = (*sorted(_literal_parts(all_patterns)), _UNNAMED_WORD)

    reached: set[tuple[str | None, int]] = set()
    seen_inputs: set[tuple[str | None, str]] = set()
    error_tags: set[str] = set()
    unrouted: dict[tuple[str, str | None], list[str]] = {}

    def flow(label: str | None, tag: str, origin: str) -> None:
        if (label, tag) in seen_inputs:
            return
        seen_inputs.add((label, tag))
        for index, d in enumerate(_domain(config, label)):
            if not any(tag_matches(p, tag) for p in d.patterns):
                continue
            reached.add((label, index))
            if d.name == "match":
                error_tags.add(tag)
                relabel = d.get("@label")
                if relabel:
                    if config.label(relabel) is None:
                        problems.append(f"{_describe(d, label)} relabels to {relabel}, which no <label> defines")
                    else:
                        flow(relabel, tag, origin)
                return
        unrouted.setdefault((origin, label), []).append(tag)

    for src in srcs:
        for pattern in src.tags:
            for tag in _witnesses(pattern, alphabet):
                flow(src.label, tag, src.name)
    if config.label("@ERROR") is not None:
        for tag in sorted(error_tags):
            flow("@ERROR", tag, "rejected events (@ERROR)")
    if config.label("@FLUENT_LOG") is not None:
        for level in ("trace", "debug", "info", "warn", "error", "fatal"):
            flow("@FLUENT_LOG", f"fluent.{level}", "Fluentd's own log")

    for (origin, label), tags in unrouted.items():
        where = f" in <label {label}>" if label else ""
        examples = ", ".join(repr(t) for t in tags[:3]) + (f" and {len(tags) - 3} more" if len(tags) > 3 else "")
        problems.append(f"tags from {origin} reach no <match>{where}, so their events would be dropped: {examples}")
    labels: list[str | None] = [None, *(d.arg for d in config.sections("label"))]
    for label in labels:
        domain = _domain(config, label)
        for index, d in enumerate(domain):
            # A final <match **> is the safety net for tags no source emits today: it is meant to
            # be idle, so it is exempt (and it is what makes "every tag routed" hold for new ones).
            safety_net = d.name == "match" and index == len(domain) - 1 and d.patterns == ("**",)
            if (label, index) not in reached and not safety_net:
                problems.append(f"{_describe(d, label)} is reached by no source tag: it never runs")
    for d in config.walk():
        if d.name in ("source", "match", "filter") and not d.type:
            problems.append(f"<{d.name} {d.arg}> has no @type")
    return list(dict.fromkeys(problems))


__all__ = ["Config", "Directive", "Embedded", "FluentdSyntaxError", "Param", "Source", "check_routing", "format_scalar", "params", "parse", "render", "route", "source_tags", "sources", "strip_comments", "tag_matches"]
