"""The Ruby inside the rendered Fluentd config, run by a real Ruby (Onigmo regexes, as in Fluentd).

Fluentd itself cannot be installed here, but its `record_transformer` evaluates each `${...}` value as
Ruby with `record`, `tag`, `tag_parts` and `time` in scope, merges the results into a copy of the
record and then deletes `remove_keys`. These tests do exactly that with the expressions taken from
the written file, so a Ruby syntax error, an Onigmo/Python regex difference or a wrong default shows
up here. The JSON `<filter> @type parser` step is emulated in Python (parse `log`, keep the record
when it is not JSON, as `reserve_data true` does).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from obs import contract
from obs.formats import fluentd_conf as fc
from obs.renderers import fluentd
from tests.pipelines.conftest import PERSONAL_DATA_SAMPLES, log_lines, log_records

pytestmark = pytest.mark.skipif(shutil.which("ruby") is None, reason="ruby not installed (Debian: apt-get install -y ruby)")

RUNNER = r"""
require 'json'
input = JSON.parse(STDIN.read)
out = input["events"].map do |event|
  tag = event["tag"]
  tag_parts = tag.split(".")
  time = event["time"].to_r
  record = event["record"]
  input["transformers"].each do |t|
    new_record = record.dup
    t["map"].each do |key, (kind, value)|
      new_record[key] = kind == "ruby" ? eval(value) : value
    end
    t["remove_keys"].each { |k| new_record.delete(k) }
    record = new_record
  end
  record
end
puts JSON.generate(out)
"""


def _transformers(config: fc.Config, tag: str) -> list[dict[str, Any]]:
    """The record_transformer filters ``tag`` passes through, in order, as data for the runner."""
    out = []
    for d in fc.route(config, tag):
        if d.name != "filter" or d.type != "record_transformer":
            continue
        assert d.get("enable_ruby") == "true"
        record = d.child("record")
        assert record is not None
        mapping: dict[str, tuple[str, str]] = {}
        for p in record.params:
            whole = p.value.startswith("${") and p.value.endswith("}") and p.value.count("${") == 1
            assert whole or "${" not in p.value, f"mixed placeholder in {p.key}: {p.value}"
            mapping[p.key] = ("ruby", p.value[2:-1]) if whole else ("literal", p.value)
        remove = [k for k in (d.get("remove_keys") or "").split(",") if k]
        # route() already chose the filters this tag passes through; the runner applies them all.
        out.append({"map": mapping, "remove_keys": remove})
    return out


def run_pipeline(config: fc.Config, tag: str, records: list[dict[str, Any]], time: float = 1764189665.25) -> list[dict[str, Any]]:
    payload = {
        "transformers": _transformers(config, tag),
        "events": [{"tag": tag, "time": time, "record": r} for r in records],
    }
    proc = subprocess.run(["ruby", "-e", RUNNER], input=json.dumps(payload), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    result: list[dict[str, Any]] = json.loads(proc.stdout)
    return result


def parser_filter(record: dict[str, Any]) -> dict[str, Any]:
    """`@type parser`, key_name log, reserve_data, remove_key_name_field (Fluentd semantics)."""
    try:
        inner = json.loads(record["log"])
    except ValueError:
        return record
    if not isinstance(inner, dict):
        return record
    return {**{k: v for k, v in record.items() if k != "log"}, **inner}


@pytest.fixture(scope="module")
def config(built: Path) -> fc.Config:
    return fc.parse((built / "prod" / fluentd.CONFIG_PATH).read_text())


def test_forwarded_records_keep_their_fields_and_get_their_data_stream(config: fc.Config) -> None:
    records = log_records()
    out = run_pipeline(config, "forward.obs.backend.access", records)
    for before, after in zip(records, out, strict=True):
        for key, value in before.items():
            if key in fluentd.REDACTED_FIELDS:
                assert after[key] == contract.redact(value)
            else:
                assert after[key] == value, key
        assert after["_obs_index"] == f"logs-edu.{before['event.dataset']}-prod"
        assert after["data_stream.dataset"] == f"edu.{before['event.dataset']}"
        assert "log" not in after


def test_container_json_lines_are_lifted_and_named_after_the_tag(config: fc.Config) -> None:
    lines = log_lines()
    cri = [parser_filter({"stream": "stdout", "logtag": "F", "log": line}) for line in lines]
    out = run_pipeline(config, "container.bridge", cri)
    for line, after in zip(lines, out, strict=True):
        record = json.loads(line)
        # Every field of the line survives (the service's own name wins over the tag's); the
        # redacted ones are redacted again, which changes nothing in an already redacted line.
        for key, value in record.items():
            assert after[key] == (contract.redact(value) if key in fluentd.REDACTED_FIELDS else value), key
        assert not {"log", "stream", "logtag"} & set(after)


def test_a_plain_text_container_line_becomes_an_application_record(config: fc.Config) -> None:
    line = "Traceback (most recent call last): mail alice@school.example"
    (out,) = run_pipeline(config, "container.bridge", [parser_filter({"stream": "stderr", "logtag": "F", "log": line})])
    assert out["message"] == contract.redact(line)
    assert out["service.name"] == "bridge"
    assert out["service.environment"] == "prod"
    assert out["event.dataset"] == "application"
    assert out["ecs.version"] == contract.ECS_VERSION
    assert out["@timestamp"] == "2025-11-26T20:41:05.250Z"
    assert out["_obs_index"] == "logs-edu.application-prod"
    assert not {"log", "stream", "logtag"} & set(out)


def test_an_unknown_log_class_is_filed_as_application(config: fc.Config) -> None:
    record = {**log_records()[0], "event.dataset": "debugging"}
    (out,) = run_pipeline(config, "forward.obs.backend.debugging", [record])
    assert out["event.dataset"] == "application"
    assert out["_obs_index"] == "logs-edu.application-prod"


@pytest.mark.parametrize("field", fluentd.REDACTED_FIELDS)
def test_onigmo_redacts_exactly_like_the_contract(config: fc.Config, field: str) -> None:
    base = log_records()[0]
    records = [{**base, field: sample} for sample in PERSONAL_DATA_SAMPLES]
    out = run_pipeline(config, "forward.obs.backend.access", records)
    for sample, after in zip(PERSONAL_DATA_SAMPLES, out, strict=True):
        assert after[field] == contract.redact(sample), sample
        for rule in contract.REDACTION_RULES:
            assert not rule.compiled().search(after[field].replace(contract.REDACTED, "")), (rule.name, after[field])


def test_a_missing_redacted_field_stays_empty_rather_than_invented(config: fc.Config) -> None:
    record = {k: v for k, v in log_records()[0].items() if k != "error.message"}
    (out,) = run_pipeline(config, "forward.obs.backend.access", [record])
    assert out.get("error.message") is None


@pytest.mark.parametrize(
    ("cri_time", "iso"),
    [
        ("2026-11-26T20:41:05.123456789+00:00", "2026-11-26T20:41:05.123456789Z"),
        ("2026-11-26T21:41:05.5+01:00", "2026-11-26T20:41:05.500000000Z"),
        # containerd writes Z for UTC.
        ("2026-11-26T20:41:05.000000001Z", "2026-11-26T20:41:05.000000001Z"),
    ],
)
def test_ruby_reads_cri_timestamps_with_the_rendered_time_format(config: fc.Config, cri_time: str, iso: str) -> None:
    (tail,) = [s for s in config.sections("source") if s.type == "tail"][:1]
    parse = tail.child("parse")
    assert parse is not None
    time_format = parse.get("time_format")
    script = 'require "time"; puts Time.strptime(ARGV[0], ARGV[1]).utc.iso8601(9)'
    proc = subprocess.run(["ruby", "-e", script, cri_time, time_format or ""], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == iso
