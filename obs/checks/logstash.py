"""Checks of the Logstash pipeline: parsed back, wiring, grok patterns."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from obs.artifacts import Outcome
from obs.formats import logstash_conf as lc
from obs.formats.logstash_conf import Pipeline
from obs.renderers.logstash import PIPELINE_PATH


def check(env_dir: Path) -> Iterable[Outcome]:
    path = env_dir / PIPELINE_PATH
    name = "logstash pipeline parses and holds together"
    try:
        parsed = lc.parse(path.read_text())
    except (OSError, lc.LogstashSyntaxError) as exc:
        yield Outcome(name, "failed", f"{path}: {exc}")
        return
    problems = lc.check(parsed)
    yield Outcome(name, "failed" if problems else "passed", "\n".join(problems))
    yield _check_grok(parsed)


def grok_patterns(pipeline: Pipeline) -> list[str]:
    patterns: list[str] = []
    for _, plugin in pipeline.plugins("filter"):
        match = plugin.get("match")
        if plugin.name == "grok" and isinstance(match, lc.Hash):
            patterns.extend(v for _, v in match.items if isinstance(v, str))
    return patterns


def _check_grok(pipeline: Pipeline) -> Outcome:
    """Every grok pattern expands and compiles (pygrok ships Logstash's pattern library)."""
    name = "logstash grok patterns compile"
    try:
        from pygrok import Grok
    except ImportError:
        return Outcome(name, "skipped", "pygrok not installed (pip install pygrok)")
    problems: list[str] = []
    for pattern in grok_patterns(pipeline):
        try:
            Grok(pattern)
        except Exception as exc:  # pygrok raises KeyError for unknown patterns, re.error for bad regex
            problems.append(f"{pattern!r}: {type(exc).__name__}: {exc}")
    return Outcome(name, "failed" if problems else "passed", "\n".join(problems))


__all__ = ["check", "grok_patterns"]
