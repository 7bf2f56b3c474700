"""The pipelines follow the contract: a redaction rule added there reaches every sink on the next
build, with no renderer edited."""

from __future__ import annotations

import pytest

from edu_platform import platform as edu
from obs import contract
from obs.formats import fluentd_conf as fc
from obs.formats import logstash_conf as lc
from obs.renderers import fluentd, logstash, otel_collector

NEW_RULE = contract.RedactionRule("student_id", r"STU-[0-9]{6}", "Student numbers.", ("STU-123456",))


@pytest.fixture
def extended_rules(monkeypatch: pytest.MonkeyPatch) -> tuple[contract.RedactionRule, ...]:
    rules = (*contract.REDACTION_RULES, NEW_RULE)
    monkeypatch.setattr(contract, "REDACTION_RULES", rules)
    return rules


def test_fluentd_applies_a_new_rule(extended_rules: tuple[contract.RedactionRule, ...]) -> None:
    text = fc.render(fluentd.config(edu, edu.environment("prod")))
    assert f".gsub({fluentd.ruby_regex(NEW_RULE.pattern)}, " in text
    assert text.count(fluentd.ruby_regex(NEW_RULE.pattern)) == len(fluentd.REDACTED_FIELDS)


def test_logstash_applies_a_new_rule(extended_rules: tuple[contract.RedactionRule, ...]) -> None:
    text = lc.render(logstash.pipeline(edu, edu.environment("prod")))
    assert text.count(f'"{NEW_RULE.pattern}", "{contract.REDACTED}"') == len(logstash.REDACTED_FIELDS)


def test_the_collector_blocks_a_new_rule(extended_rules: tuple[contract.RedactionRule, ...]) -> None:
    config = otel_collector.config(edu, edu.environment("prod"))
    assert config["processors"]["redaction"]["blocked_values"][-1] == NEW_RULE.pattern


@pytest.mark.parametrize(
    ("pattern", "ruby"),
    [
        (r"://[^/\s:@]+:[^/\s@]+@", r"/:\/\/[^\/\s:@]+:[^\/\s@]+@/"),
        (r"a\/b", r"/a\/b/"),
        (r"a\\/b", r"/a\\\/b/"),
    ],
)
def test_slashes_are_escaped_for_ruby_regex_literals(pattern: str, ruby: str) -> None:
    assert fluentd.ruby_regex(pattern) == ruby
