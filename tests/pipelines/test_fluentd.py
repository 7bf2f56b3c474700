"""The Fluentd pipeline: parsed back, every tag routed, its regexps run on real lines, its
redaction run on personal data, and nothing in it that the instrumentation does not emit."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from edu_platform import platform as edu
from obs import contract
from obs.formats import fluentd_conf as fc
from obs.renderers import fluentd
from tests.pipelines.conftest import ENVIRONMENTS, PERSONAL_DATA_SAMPLES, golden_files, log_lines


def parsed(built: Path, env: str) -> fc.Config:
    return fc.parse((built / env / fluentd.CONFIG_PATH).read_text())


def test_rendered_config_matches_the_golden_files(built: Path, golden: Callable[[str, bytes], None]) -> None:
    files = list(golden_files(built, "fluentd"))
    assert len(files) == len(ENVIRONMENTS)
    for rel, path in files:
        golden(f"fluentd/{rel}", path.read_bytes())


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_written_file_parses_back_into_the_rendered_tree(built: Path, env: str) -> None:
    assert parsed(built, env) == fluentd.config(edu, edu.environment(env))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_source_tag_is_routed_and_every_filter_reached(built: Path, env: str) -> None:
    assert fc.check_routing(parsed(built, env)) == []


def test_sources_are_a_forward_input_and_a_tail_per_instrumented_service(built: Path) -> None:
    sources = parsed(built, "prod").sections("source")
    assert [s.type for s in sources] == ["forward"] + ["tail"] * len(edu.instrumented_services)
    assert [s.get("tag") for s in sources[1:]] == [f"container.{s.name}" for s in edu.instrumented_services]


def test_the_elasticsearch_output_waits_out_outages_on_a_bounded_disk_buffer(built: Path) -> None:
    (output,) = [m for m in parsed(built, "prod").sections("match") if m.type == "elasticsearch"]
    buffer = output.child("buffer")
    assert buffer is not None
    assert buffer.type == "file"
    assert buffer.get("overflow_action") == "block"
    assert buffer.get("retry_forever") == "true"
    assert buffer.get("total_limit_size") == fluentd.BUFFER_TOTAL_LIMIT
    assert output.get("write_operation") == "create"
    # Retried bulk requests carry the same _id, so a partial failure cannot store a line twice.
    assert output.get("id_key") == fluentd.DOCUMENT_ID_KEY


def test_the_last_match_is_a_catch_all(built: Path) -> None:
    matches = parsed(built, "prod").sections("match")
    assert matches[-1].patterns == ("**",)


ROUTING_CASES = [
    pytest.param(
        "<source>\n  @type forward\n  add_tag_prefix forward\n</source>\n<match container.**>\n  @type stdout\n</match>\n",
        "reach no <match>",
        id="forward tags matched by nothing",
    ),
    pytest.param(
        "<source>\n  @type tail\n  tag app.*\n</source>\n<filter web.**>\n  @type stdout\n</filter>\n<match **>\n  @type null\n</match>\n",
        "<filter web.**> is reached by no source tag",
        id="filter no source can reach",
    ),
    pytest.param(
        "<source>\n  @type forward\n  add_tag_prefix f\n</source>\n<match **>\n  @type null\n</match>\n<filter f.**>\n  @type stdout\n</filter>\n<match f.**>\n  @type null\n</match>\n<match **>\n  @type null\n</match>\n",
        "<filter f.**> is reached by no source tag",
        id="filter after a match that takes every event",
    ),
    pytest.param(
        "<source>\n  @type forward\n  @label @IN\n</source>\n<match **>\n  @type null\n</match>\n",
        "routes to @IN, which no <label> defines",
        id="source into a missing label",
    ),
    pytest.param(
        "<source>\n  @type forward\n  @label @IN\n</source>\n<label @IN>\n  <filter **>\n    @type stdout\n  </filter>\n</label>\n",
        "reach no <match> in <label @IN>",
        id="label without a match",
    ),
    pytest.param(
        "<source>\n  @type tail\n</source>\n<match **>\n  @type null\n</match>\n",
        "sets no tag",
        id="tail without a tag",
    ),
]


@pytest.mark.parametrize(("text", "problem"), ROUTING_CASES)
def test_routing_problems_are_reported(text: str, problem: str) -> None:
    problems = fc.check_routing(fc.parse(text))
    assert any(problem in p for p in problems), problems


def test_a_relabelled_flow_is_followed_into_its_label() -> None:
    text = (
        "<source>\n  @type forward\n  add_tag_prefix in\n</source>\n"
        "<match in.**>\n  @type relabel\n  @label @OUT\n</match>\n"
        "<label @OUT>\n  <filter in.app.**>\n    @type stdout\n  </filter>\n  <match **>\n    @type null\n  </match>\n</label>\n"
    )
    assert fc.check_routing(fc.parse(text)) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<source>\n  @type forward\n", "never closed"),
        ("<source>\n</match>\n", "closes <source>"),
        ("<match **>\n  path /var/log # here\n</match>\n", "holds '#'"),
        ("port 24224\n", "outside any section"),
        ('<match **>\n  path "/var/log\n</match>\n', "unterminated"),
    ],
)
def test_malformed_text_is_rejected_with_its_line(text: str, problem: str) -> None:
    with pytest.raises(fc.FluentdSyntaxError, match=re.escape(problem)):
        fc.parse(text)


@pytest.mark.parametrize(
    ("pattern", "tag", "matches"),
    [
        ("forward.**", "forward", True),
        ("forward.**", "forward.obs.backend.access", True),
        ("forward.*", "forward.obs.backend", False),
        ("{forward,container}.**", "container.backend", True),
        ("**", "anything.at.all", True),
        ("container.*", "container", False),
    ],
)
def test_tag_patterns_match_like_fluentd(pattern: str, tag: str, matches: bool) -> None:
    assert fc.tag_matches(pattern, tag) is matches


# --- the config against real lines ---------------------------------------------------------------


def ruby_to_python_regex(ruby: str) -> re.Pattern[str]:
    """A Ruby regex literal as written in the config, for Python: named groups and `\\/`."""
    assert ruby.startswith("/") and ruby.endswith("/"), ruby
    body = ruby[1:-1].replace("(?<", "(?P<").replace("\\/", "/")
    return re.compile(body)


def test_the_cri_tail_regexp_reads_container_lines_holding_the_instrumentation_json(built: Path) -> None:
    tails = [s for s in parsed(built, "prod").sections("source") if s.type == "tail"]
    for tail in tails:
        parse = tail.child("parse")
        assert parse is not None and parse.type == "regexp"
        regex = ruby_to_python_regex(parse.get("expression") or "")
        for line in log_lines():
            cri = f"2026-11-26T20:41:05.123456789+00:00 stdout F {line}"
            m = regex.match(cri)
            assert m is not None, cri
            assert m.group("stream") == "stdout"
            assert json.loads(m.group("log")) == json.loads(line)


def _redaction_filter(config: fc.Config) -> fc.Directive:
    for f in config.sections("filter"):
        record = f.child("record")
        if record and any(".gsub(" in p.value for p in record.params):
            return f
    raise AssertionError("no redaction filter")


_GSUB = re.compile(r'\.gsub\((/(?:\\.|[^/\\])*/), "([^"]*)"\)')


def apply_redaction_filter(config: fc.Config, field: str, text: str) -> str:
    """Run the gsub chain the config holds for ``field`` (regexes taken from the rendered text)."""
    record = _redaction_filter(config).child("record")
    assert record is not None
    expression = record.get(field)
    assert expression is not None, f"{field} is not redacted"
    for ruby, replacement in _GSUB.findall(expression):
        text = ruby_to_python_regex(ruby).sub(replacement, text)
    return text


@pytest.mark.parametrize("field", fluentd.REDACTED_FIELDS)
def test_the_redaction_filter_holds_every_contract_rule(built: Path, field: str) -> None:
    record = _redaction_filter(parsed(built, "prod")).child("record")
    assert record is not None
    found = [ruby_to_python_regex(r).pattern for r, _ in _GSUB.findall(record.get(field) or "")]
    assert found == [rule.pattern for rule in contract.REDACTION_RULES]


@pytest.mark.parametrize("sample", PERSONAL_DATA_SAMPLES)
def test_redaction_leaves_no_personal_data(built: Path, sample: str) -> None:
    out = apply_redaction_filter(parsed(built, "prod"), "message", sample)
    assert contract.REDACTED in out
    assert out == contract.redact(sample)
    for rule in contract.REDACTION_RULES:
        assert not rule.compiled().search(out.replace(contract.REDACTED, "")), (rule.name, out)


def test_redaction_runs_after_enrichment_and_before_any_output(built: Path) -> None:
    config = parsed(built, "prod")
    order = [d for d in config.directives if d.name in ("filter", "match")]
    redaction = order.index(_redaction_filter(config))
    assert all(d.name == "filter" for d in order[:redaction])


def test_the_config_reads_only_fields_the_instrumentation_writes(built: Path) -> None:
    text = (built / "prod" / fluentd.CONFIG_PATH).read_text()
    read = set(re.findall(r'record\["([^"]+)"\]', text))
    # `log` is the CRI envelope's field, the only one not in the contract.
    assert read - {"log"} <= set(contract.LOG_FIELD_INDEX), read - set(contract.LOG_FIELD_INDEX)
    assert contract.LOG_CLASS_FIELD in read


def test_records_go_to_the_data_stream_of_their_log_class(built: Path) -> None:
    text = (built / "staging" / fluentd.CONFIG_PATH).read_text()
    assert '"logs-edu." + (%w[access application audit].include?(record["event.dataset"])' in text
    assert '+ "-staging"' in text


@pytest.mark.parametrize("record_index", range(4))
def test_a_record_shipped_by_the_handler_is_enriched_redacted_and_written(built: Path, record_index: int) -> None:
    from exporters.fluent import forward_tag
    from tests.pipelines.conftest import log_records

    config = parsed(built, "prod")
    (forward,) = [s for s in config.sections("source") if s.type == "forward"]
    tag = f"{forward.get('add_tag_prefix')}.{forward_tag(log_records()[record_index])}"
    path = fc.route(config, tag)
    assert path[-1].type == "elasticsearch", [d.arg for d in path]
    assert _redaction_filter(config) in path
    assert [d.get("@type") for d in path[:-1]] == ["record_transformer", "record_transformer", "elasticsearch_genid"]


@pytest.mark.parametrize("service", [s.name for s in edu.instrumented_services])
def test_a_container_line_is_parsed_enriched_redacted_and_written(built: Path, service: str) -> None:
    config = parsed(built, "prod")
    path = fc.route(config, f"container.{service}")
    assert [d.get("@type") for d in path] == [
        "concat",
        "parser",
        "record_transformer",
        "record_transformer",
        "record_transformer",
        "elasticsearch_genid",
        "elasticsearch",
    ]


def test_route_follows_relabelling_and_stops_where_nothing_matches() -> None:
    config = fc.parse(
        "<match in.**>\n  @type relabel\n  @label @OUT\n</match>\n"
        "<label @OUT>\n  <filter **>\n    @type stdout\n  </filter>\n  <match in.a>\n    @type null\n  </match>\n</label>\n"
    )
    assert [d.type for d in fc.route(config, "in.a")] == ["relabel", "stdout", "null"]
    assert [d.type for d in fc.route(config, "in.b")] == ["relabel", "stdout"]
    assert fc.route(config, "other") == []


@pytest.mark.parametrize(
    "value",
    ["plain", "with # hash", '"starts with a quote', "", " padded ", "${record[\"a\"] || \"b\"}", "/^(?<x>[^ ]+)$/"],
)
def test_parameter_values_survive_render_and_parse(value: str) -> None:
    config = fc.Config((fc.Directive("match", "**", params=(fc.Param("@type", "null"), fc.Param("key", value))),))
    assert fc.parse(fc.render(config)) == config


def test_a_value_fluentd_would_rewrite_inside_quotes_is_refused() -> None:
    config = fc.Config((fc.Directive("match", "**", params=(fc.Param("key", "a\\d # b"),)),))
    with pytest.raises(ValueError, match="backslash"):
        fc.render(config)


def test_pieces_of_a_long_container_line_are_joined_before_the_json_is_read(built: Path) -> None:
    """containerd and CRI-O split a line over 16 KiB into P pieces and a last F one: read alone, each
    piece is broken JSON. fluent-plugin-concat (in the pinned image) joins them first, per stream,
    with nothing between the pieces."""
    from obs.images import IMAGES

    config = parsed(built, "prod")
    (concat,) = [d for d in config.sections("filter") if d.type == "concat"]
    tail = next(s for s in config.sections("source") if s.type == "tail")
    regexp = tail.child("parse").get("expression") or ""  # type: ignore[union-attr]
    assert {"logtag", "stream", "log"} <= set(re.findall(r"\(\?<(\w+)>", regexp)), "what the filter reads"
    assert (concat.get("key"), concat.get("use_partial_cri_logtag")) == ("log", "true")
    assert (concat.get("partial_cri_logtag_key"), concat.get("stream_identity_key")) == ("logtag", "stream")
    assert concat.get("separator") == ""
    assert "fluentd-kubernetes-daemonset:v1.17" in IMAGES["fluentd"], "the image whose Gemfile has the plugin"
    path = fc.route(config, "container.backend")
    assert path[0] is concat, "joined before the parser reads the JSON"
