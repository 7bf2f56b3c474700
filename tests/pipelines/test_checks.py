"""`obs check` over the written pipeline files: every validator passes on what obs writes, and
fails on the mistakes it exists to catch."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

import pytest

from obs.artifacts import Outcome, group
from obs.checks import elasticsearch as elasticsearch_checks
from obs.checks import fluentd as fluentd_checks
from obs.checks import logstash as logstash_checks
from obs.renderers import elasticsearch, fluentd, logstash
from tests.pipelines.conftest import ENVIRONMENTS, PIPELINE_GROUPS


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("name", PIPELINE_GROUPS)
def test_every_check_passes_on_the_written_files(built: Path, name: str, env: str) -> None:
    check = group(name).check
    assert check is not None, f"{name} has no check()"
    outcomes = list(check(built / env))
    assert outcomes
    assert [o for o in outcomes if o.status == "failed"] == []


@pytest.fixture
def env_copy(built: Path, tmp_path: Path) -> Path:
    shutil.copytree(built / "prod", tmp_path / "prod")
    return tmp_path / "prod"


def test_fluentd_check_fails_when_the_elasticsearch_match_swallows_a_filter(env_copy: Path) -> None:
    path = env_copy / fluentd.CONFIG_PATH
    text = path.read_text()
    # Move the redaction after the output: the filter can then never run.
    start = text.index("# Redaction with the contract's rules")
    end = text.index("</filter>", start) + len("</filter>\n")
    redaction = text[start:end]
    text = text[:start] + text[end:]
    text = text.replace("# Catch-all:", redaction + "\n# Catch-all:")
    path.write_text(text)
    outcome = outcomes(fluentd_checks.check(env_copy))["fluentd config parses and routes every tag"]
    assert outcome.status == "failed"
    assert "<filter **> is reached by no source tag" in outcome.detail


def test_fluentd_check_fails_on_text_fluentd_cannot_read(env_copy: Path) -> None:
    path = env_copy / fluentd.CONFIG_PATH
    path.write_text(path.read_text().replace("</buffer>", "", 1))
    outcome = outcomes(fluentd_checks.check(env_copy))["fluentd config parses and routes every tag"]
    assert outcome.status == "failed" and "closes <buffer>" in outcome.detail


def test_logstash_check_fails_on_an_unbalanced_pipeline(env_copy: Path) -> None:
    path = env_copy / logstash.PIPELINE_PATH
    path.write_text(path.read_text().rstrip().removesuffix("}"))
    outcome = outcomes(logstash_checks.check(env_copy))["logstash pipeline parses and holds together"]
    assert outcome.status == "failed" and "end of file" in outcome.detail


def test_fluentd_check_fails_on_a_tail_regexp_that_cannot_read_cri_lines(env_copy: Path) -> None:
    path = env_copy / fluentd.CONFIG_PATH
    path.write_text(path.read_text().replace("(?<stream>stdout|stderr)", "(?<stream>stdout|stderr", 1))
    outcome = outcomes(fluentd_checks.check(env_copy))["fluentd regexps compile and read CRI lines"]
    assert outcome.status == "failed" and "does not compile" in outcome.detail


def test_logstash_check_fails_on_an_unknown_grok_pattern(env_copy: Path) -> None:
    path = env_copy / logstash.PIPELINE_PATH
    path.write_text(path.read_text().replace("%{LOGLEVEL:", "%{LOGLEVLE:", 1))
    outcome = outcomes(logstash_checks.check(env_copy))["logstash grok patterns compile"]
    assert outcome.status == "failed" and "LOGLEVLE" in outcome.detail


def test_elasticsearch_check_fails_when_the_mapping_disagrees_with_the_contract(env_copy: Path) -> None:
    path = env_copy / elasticsearch.COMPONENT_DIR / "logs-edu@mappings.json"
    body = json.loads(path.read_text())
    body["template"]["mappings"]["properties"]["trace"]["properties"]["id"]["type"] = "text"
    path.write_text(json.dumps(body))
    outcome = outcomes(elasticsearch_checks.check(env_copy))["elasticsearch mapping covers every contract log field"]
    assert outcome.status == "failed" and "trace.id is mapped as 'text'" in outcome.detail


def outcomes(results: Iterable[Outcome]) -> dict[str, Outcome]:
    return {o.name: o for o in results}
