"""The Logstash pipeline: parsed back, checked, its grok run with pygrok on real lines, its
redaction run on personal data."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from pygrok import Grok

from edu_platform import platform as edu
from obs import contract
from obs.formats import logstash_conf as lc
from obs.renderers import logstash
from tests.pipelines.conftest import ENVIRONMENTS, PERSONAL_DATA_SAMPLES, golden_files, log_lines


def parsed(built: Path, env: str) -> lc.Pipeline:
    return lc.parse((built / env / logstash.PIPELINE_PATH).read_text())


def test_rendered_files_match_the_golden_files(built: Path, golden: Callable[[str, bytes], None]) -> None:
    files = list(golden_files(built, "logstash"))
    assert len(files) == 3 * len(ENVIRONMENTS)
    for rel, path in files:
        golden(f"logstash/{rel}", path.read_bytes())


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_written_pipeline_parses_back_into_the_rendered_tree(built: Path, env: str) -> None:
    assert parsed(built, env) == logstash.pipeline(edu, edu.environment(env))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_pipeline_holds_together(built: Path, env: str) -> None:
    assert lc.check(parsed(built, env)) == []


def test_inputs_are_beats_and_tcp_json_lines(built: Path) -> None:
    inputs = [p for _, p in parsed(built, "prod").plugins("input")]
    assert [p.name for p in inputs] == ["beats", "tcp"]
    assert inputs[1].get("codec") == lc.Bareword("json_lines")


def test_settings_keep_events_through_outages_and_rejections(built: Path) -> None:
    settings = yaml.safe_load((built / "prod" / logstash.SETTINGS_PATH).read_text())
    assert settings["queue.type"] == "persisted"
    assert settings["dead_letter_queue.enable"] is True
    assert settings["config.support_escapes"] is False


CHECK_CASES = [
    pytest.param(
        'input { tcp { port => 1 } }\nfilter { if [@metadata][obs_input] == "beats" { json { source => "message" } } }\noutput { elasticsearch { } }\n',
        "tests a value no input sets",
        id="branch on an input nobody declares",
    ),
    pytest.param(
        'input { beats { port => 1 add_field => { "[@metadata][input]" => "beats" } } }\n'
        'filter { if [@metadata][input] == "beats" { json { source => "message" } } }\noutput { elasticsearch { } }\n',
        "where inputs in ECS mode write their own metadata",
        id="input marked in the key ECS-mode inputs own",
    ),
    pytest.param(
        'input { tcp { port => 1 } }\nfilter { mutate { gsub => ["message", "x"] } }\noutput { elasticsearch { } }\n',
        "flat list of [field, pattern, replacement]",
        id="gsub not in triples",
    ),
    pytest.param(
        'input { elasticsearch { } }\nfilter { }\noutput { elasticsearch { } }\n',
        "elasticsearch is not a input plugin",
        id="plugin in the wrong section",
    ),
    pytest.param('input { tcp { port => 1 } }\nfilter { }\noutput { stdout { } }\n', "no elasticsearch output", id="no output"),
    pytest.param('input { tcp { port => 1 } }\noutput { elasticsearch { } }\n', "expected one filter section", id="no filter"),
]


@pytest.mark.parametrize(("text", "problem"), CHECK_CASES)
def test_structural_problems_are_reported(text: str, problem: str) -> None:
    problems = lc.check(lc.parse(text))
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("input { tcp { port => 1 }", "end of file"),
        ("inputs { }", "not a section"),
        ('filter { mutate { gsub => ["a", "b" "c"] } }', "expected ',' or ']'"),
        ("filter { if { } }", "empty condition"),
    ],
)
def test_malformed_pipelines_are_rejected(text: str, problem: str) -> None:
    with pytest.raises(lc.LogstashSyntaxError, match=re.escape(problem)):
        lc.parse(text)


def test_conditions_with_regexes_and_else_branches_parse() -> None:
    text = 'filter {\n  if [message] =~ /^\\{.*\\}$/ {\n    json { source => "message" }\n  } else if [a] {\n    drop { }\n  } else {\n    mutate { add_tag => ["x"] }\n  }\n}\n'
    (section,) = lc.parse(text).sections
    (node,) = section.body
    assert isinstance(node, lc.If)
    assert [cond for cond, _ in node.branches] == ["[message] =~ /^\\{.*\\}$/", "[a]"]
    assert [p.name for p in node.otherwise if isinstance(p, lc.Plugin)] == ["mutate"]


# --- the pipeline against real lines -------------------------------------------------------------


def _grok_patterns(pipeline: lc.Pipeline) -> list[str]:
    patterns = []
    for _, plugin in pipeline.plugins("filter"):
        match = plugin.get("match")
        if plugin.name == "grok" and isinstance(match, lc.Hash):
            patterns.extend(v for _, v in match.items if isinstance(v, str))
    return patterns


def _python_default_lines() -> list[str]:
    """Lines exactly as Python's logging writes them before the JSON formatter is installed."""
    formatter = logging.Formatter(logging.BASIC_FORMAT)
    records = [
        logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, "Started server process [%d]", (12,), None),
        logging.LogRecord("backend.db", logging.WARNING, __file__, 1, "pool exhausted: %s", ("retrying",), None),
        logging.LogRecord("gunicorn.error", logging.CRITICAL, __file__, 1, "WORKER TIMEOUT (pid:%d)", (7,), None),
    ]
    return [formatter.format(r) for r in records]


def test_every_grok_pattern_reads_the_plain_text_fallback_lines(built: Path) -> None:
    patterns = _grok_patterns(parsed(built, "prod"))
    assert patterns == [logstash.PYTHON_DEFAULT_LINE]
    for pattern in patterns:
        grok = Grok(pattern)
        for line in _python_default_lines():
            fields = grok.match(line)
            assert fields is not None, line
            level, logger, message = line.split(":", 2)
            assert fields == {"fallback_level": level, "fallback_logger": logger, "fallback_message": message}


def test_grok_leaves_the_json_lines_to_the_json_filter(built: Path) -> None:
    for pattern in _grok_patterns(parsed(built, "prod")):
        for line in log_lines():
            assert Grok(pattern).match(line) is None, line
            assert isinstance(json.loads(line), dict)


def _gsub_rules(pipeline: lc.Pipeline) -> list[tuple[str, str, str]]:
    for _, plugin in pipeline.plugins("filter"):
        gsub = plugin.get("gsub")
        if isinstance(gsub, tuple):
            flat = [v for v in gsub if isinstance(v, str)]
            return [(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3)]
    raise AssertionError("no gsub")


def test_the_redaction_covers_each_field_with_every_contract_rule(built: Path) -> None:
    rules = _gsub_rules(parsed(built, "prod"))
    expected = [(f"[{f}]", r.pattern, contract.REDACTED) for f in logstash.REDACTED_FIELDS for r in contract.REDACTION_RULES]
    assert rules == expected


@pytest.mark.parametrize("sample", PERSONAL_DATA_SAMPLES)
def test_redaction_leaves_no_personal_data(built: Path, sample: str) -> None:
    text = sample
    for field, pattern, replacement in _gsub_rules(parsed(built, "prod")):
        if field == "[message]":
            # The pattern as Logstash's Ruby reads it: the file's text, byte for byte.
            text = re.sub(pattern, replacement, text)
    assert text == contract.redact(sample)
    assert contract.REDACTED in text


def test_field_references_name_contract_fields(built: Path) -> None:
    text = (built / "prod" / logstash.PIPELINE_PATH).read_text()
    refs = set(re.findall(r"\[([a-z@][a-z_.@]*)\]", text)) - {"@metadata", "tags", "data_stream", "obs_input", "type", "dataset", "namespace"}
    assert refs <= set(contract.LOG_FIELD_INDEX), refs - set(contract.LOG_FIELD_INDEX)


@pytest.mark.skipif(shutil.which("ruby") is None, reason="ruby not installed (Debian: apt-get install -y ruby)")
def test_rubys_regexp_redacts_the_gsub_triples_exactly_like_the_contract(built: Path) -> None:
    """mutate's gsub runs `Regexp.new(pattern)` in JRuby: the same Onigmo dialect as this Ruby."""
    runner = (
        "require 'json'; input = JSON.parse(STDIN.read); "
        "puts JSON.generate(input['texts'].map { |t| input['rules'].reduce(t) { |acc, (pat, rep)| acc.gsub(Regexp.new(pat), rep) } })"
    )
    rules = [(pattern, replacement) for field, pattern, replacement in _gsub_rules(parsed(built, "prod")) if field == "[message]"]
    payload = json.dumps({"texts": PERSONAL_DATA_SAMPLES, "rules": rules})
    proc = subprocess.run(["ruby", "-e", runner], input=payload, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [contract.redact(t) for t in PERSONAL_DATA_SAMPLES]


@pytest.mark.parametrize("value", ["plain", r"[^&\s\"']+", r"\+?[0-9]", "%{[event.dataset]}", ""])
def test_strings_survive_render_and_parse_byte_for_byte(value: str) -> None:
    pipeline = lc.Pipeline((lc.Section("filter", (lc.Plugin("mutate", (("gsub", ("message", value, "x")),)),)),))
    assert lc.parse(lc.render(pipeline)) == pipeline


@pytest.mark.parametrize(("value", "problem"), [('a"b', "bare double quote"), ("ends\\", "lone backslash")])
def test_strings_logstash_cannot_hold_are_refused(value: str, problem: str) -> None:
    pipeline = lc.Pipeline((lc.Section("filter", (lc.Plugin("mutate", (("gsub", ("message", value, "x")),)),)),))
    with pytest.raises(ValueError, match=problem):
        lc.render(pipeline)
