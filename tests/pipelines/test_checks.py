"""`obs check` over the written pipeline files: every validator passes on what obs writes, and
fails on the mistakes it exists to catch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from obs.artifacts import group
from obs.render import fluentd, logstash
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
    (outcome,) = fluentd.check(env_copy)
    assert outcome.status == "failed"
    assert "<filter **> is reached by no source tag" in outcome.detail


def test_fluentd_check_fails_on_text_fluentd_cannot_read(env_copy: Path) -> None:
    path = env_copy / fluentd.CONFIG_PATH
    path.write_text(path.read_text().replace("</buffer>", "", 1))
    (outcome,) = fluentd.check(env_copy)
    assert outcome.status == "failed" and "closes <buffer>" in outcome.detail


def test_logstash_check_fails_on_an_unbalanced_pipeline(env_copy: Path) -> None:
    path = env_copy / logstash.PIPELINE_PATH
    path.write_text(path.read_text().rstrip().removesuffix("}"))
    (outcome,) = logstash.check(env_copy)
    assert outcome.status == "failed" and "end of file" in outcome.detail
