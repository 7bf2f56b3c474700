"""Fluentd log pipeline: the services' JSON lines to Elasticsearch, redacted, without loss.

Two ways in: ``in_forward`` for services that ship with :mod:`exporters.fluent` (tags
``forward.obs.<service>.<class>``) and ``in_tail`` over each instrumented service's container logs
(tags ``container.<service>``). Every event is parsed as the instrumentation's JSON, enriched with
service and environment, redacted with :data:`obs.contract.REDACTION_RULES`, and written to the
data stream of its log class (``logs-<platform>.<class>-<environment>``) that
:mod:`obs.renderers.elasticsearch` declares. A final catch-all keeps unexpected tags on disk, and
events Elasticsearch rejects go to ``@ERROR`` and to disk as well.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from obs import contract
from obs.artifacts import Artifact, RenderContext
from obs.formats import fluentd_conf as fc
from obs.formats.conventions import (
    ECS_VERSION_FIELD,
    MESSAGE,
    REDACTED_FIELDS,
    SERVICE_ENVIRONMENT,
    SERVICE_NAME,
    TIMESTAMP,
    data_stream,
)
from obs.formats.fluentd_conf import Config, Directive, Param, params
from obs.model import Environment, Platform

CONFIG_PATH = "fluentd/fluent.conf"

FORWARD_PORT = 24224
FORWARD_TAG_PREFIX = "forward"
CONTAINER_TAG_PREFIX = "container"
#: The tag the Forward log handler sends: ``obs.<service.name>.<event.dataset>``.
HANDLER_TAG_PREFIX = "obs"
BUFFER_DIR = "/var/log/fluentd/buffer"
#: Record key holding the event's Elasticsearch _id until the output removes it.
DOCUMENT_ID_KEY = "_obs_id"
#: Bounded so a long Elasticsearch outage fills a known amount of disk, never the whole volume;
#: at ~200 bytes a line this holds ~20 million lines, hours of the platform's peak traffic.
BUFFER_TOTAL_LIMIT = "4GB"

#: The CRI log format containerd and CRI-O write under /var/log/containers:
#: ``<RFC 3339 time> <stdout|stderr> <F|P> <the line>``.
CRI_REGEXP = r"^(?<time>[^ ]+) (?<stream>stdout|stderr) (?<logtag>[FP]) (?<log>.*)$"
CRI_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%N%:z"
#: Longest line containerd and CRI-O write whole; longer ones are split into P pieces and an F one.
CRI_MAX_LINE_BYTES = 16 * 1024
#: Seconds a piece waits for the rest of its line.
CRI_PARTIAL_FLUSH_SECONDS = 5


def ruby_regex(pattern: str) -> str:
    """A contract pattern as a Ruby regex literal (``/`` escaped; the pattern subset reads alike)."""
    out: list[str] = []
    escaped = False
    for ch in pattern:
        if ch == "/" and not escaped:
            out.append("\\/")
        else:
            out.append(ch)
        escaped = ch == "\\" and not escaped
    return "/" + "".join(out) + "/"


def redaction_expression(field: str) -> str:
    """Ruby that applies every redaction rule to ``record[field]`` when it is a string.

    A single ``${...}`` value is evaluated as Ruby and keeps its type, so a missing field stays nil
    (Elasticsearch ignores nulls) rather than becoming an empty string.
    """
    chain = "".join(f'.gsub({ruby_regex(rule.pattern)}, "{contract.REDACTED}")' for rule in contract.REDACTION_RULES)
    value = f'record["{field}"]'
    return f"${{{value}.is_a?(String) ? {value}{chain} : {value}}}"


def _class_expression() -> str:
    classes = " ".join(contract.LOG_CLASSES)
    dataset = f'record["{contract.LOG_CLASS_FIELD}"]'
    # Lines that are not ours (a crash before logging was configured) count as application logs,
    # so they land in a stream with a mapping and a retention instead of an index nobody manages.
    return f'(%w[{classes}].include?({dataset}) ? {dataset} : "application")'


def sources(platform: Platform) -> list[Directive]:
    out = [
        Directive(
            "source",
            params=params(
                ("@type", "forward"),
                ("@id", "in_forward"),
                Param("bind", fc.Embedded("ENV['HOSTNAME']"), comment="Its own address (the container's or pod's), not every interface."),
                ("port", FORWARD_PORT),
                Param(
                    "add_tag_prefix",
                    FORWARD_TAG_PREFIX,
                    comment="Clients choose their tags; the prefix keeps them apart from container and internal tags.",
                ),
            ),
            comment="Services that ship their JSON records directly (exporters.fluent.FluentForwardHandler).",
        )
    ]
    for service in platform.instrumented_services:
        out.append(
            Directive(
                "source",
                params=params(
                    ("@type", "tail"),
                    ("@id", f"in_tail_{service.name}"),
                    Param(
                        "path",
                        f"/var/log/containers/*_*_{service.name}-*.log",
                        comment="Kubernetes names container logs <pod>_<namespace>_<container>-<id>.log.",
                    ),
                    ("pos_file", f"/var/log/fluentd/pos/{service.name}.pos"),
                    ("tag", f"{CONTAINER_TAG_PREFIX}.{service.name}"),
                    Param("read_from_head", "true", comment="A new node must not skip lines written before Fluentd started."),
                    ("follow_inodes", True),
                    ("refresh_interval", "10s"),
                ),
                children=(
                    Directive(
                        "parse",
                        params=params(
                            ("@type", "regexp"),
                            ("expression", f"/{CRI_REGEXP}/"),
                            ("time_key", "time"),
                            ("time_format", CRI_TIME_FORMAT),
                        ),
                    ),
                ),
                comment=f"{service.name}'s stdout as the container runtime wrote it (CRI format).",
            )
        )
    return out


def filters(platform: Platform, env: Environment) -> list[Directive]:
    container = f"{CONTAINER_TAG_PREFIX}.**"
    join_partials = Directive(
        "filter",
        container,
        params=params(
            ("@type", "concat"),
            ("key", "log"),
            ("use_partial_cri_logtag", True),
            ("partial_cri_logtag_key", "logtag"),
            ("partial_cri_stream_key", "stream"),
            Param("stream_identity_key", "stream", comment="stdout's pieces never join stderr's."),
            Param("separator", "", comment="The runtime cut the line mid-text: the pieces join as they are."),
            Param(
                "flush_interval",
                str(CRI_PARTIAL_FLUSH_SECONDS),
                comment="Pieces whose last (F) never comes (the container died) go to @ERROR, kept on disk.",
            ),
        ),
        comment=(
            f"The runtime writes a line longer than {CRI_MAX_LINE_BYTES // 1024} KiB as pieces tagged P and a last one\n"
            "tagged F (fluent-plugin-concat, in the pinned image): one record again before its JSON is read."
        ),
    )
    parse_inner = Directive(
        "filter",
        container,
        params=params(
            ("@type", "parser"),
            ("key_name", "log"),
            Param("reserve_data", "true", comment="A line that is not JSON is kept as it is, never dropped."),
            ("remove_key_name_field", True),
            ("emit_invalid_record_to_error", False),
        ),
        children=(Directive("parse", params=params(("@type", "json"))),),
        comment="The container line is one of the instrumentation's JSON records: lift its fields.",
    )
    defaults_from_tag = Directive(
        "filter",
        container,
        params=params(("@type", "record_transformer"), ("enable_ruby", True)),
        children=(
            Directive(
                "record",
                params=(Param(SERVICE_NAME, f'${{record["{SERVICE_NAME}"] || tag_parts[1]}}'),),
            ),
        ),
        comment="The tail tag names the service, for lines that do not say it themselves.",
    )
    enrich = Directive(
        "filter",
        "**",
        params=params(
            ("@type", "record_transformer"),
            ("enable_ruby", True),
            Param("remove_keys", "log,stream,logtag", comment="CRI envelope fields; the contract has no place for them."),
        ),
        children=(
            Directive(
                "record",
                params=(
                    Param(
                        TIMESTAMP,
                        f'${{record["{TIMESTAMP}"] || Time.at(time.to_r).utc.strftime("%Y-%m-%dT%H:%M:%S.%LZ")}}',
                    ),
                    Param(MESSAGE, f'${{record["{MESSAGE}"] || record["log"]}}'),
                    Param(contract.LOG_CLASS_FIELD, f"${{{_class_expression()}}}"),
                    Param(ECS_VERSION_FIELD, f'${{record["{ECS_VERSION_FIELD}"] || "{contract.ECS_VERSION}"}}'),
                    Param(SERVICE_ENVIRONMENT, f'${{record["{SERVICE_ENVIRONMENT}"] || "{env.name}"}}'),
                    Param("data_stream.type", "logs"),
                    Param("data_stream.dataset", f"${{\"{platform.name}.\" + {_class_expression()}}}"),
                    Param("data_stream.namespace", env.name),
                    Param(
                        "_obs_index",
                        f"${{\"logs-{platform.name}.\" + {_class_expression()} + \"-{env.name}\"}}",
                        comment="Read (and removed) by the output's target_index_key: one data stream per log class.",
                    ),
                ),
            ),
        ),
        comment="Enrichment: every record says which service, environment and log class it belongs to.",
    )
    redact = Directive(
        "filter",
        "**",
        params=params(("@type", "record_transformer"), ("enable_ruby", True)),
        children=(Directive("record", params=tuple(Param(f, redaction_expression(f)) for f in REDACTED_FIELDS)),),
        comment=(
            "Redaction with the contract's rules, last before any output, so no sink sees personal data\n"
            "even from services that do not redact themselves."
        ),
    )
    document_id = Directive(
        "filter",
        f"{FORWARD_TAG_PREFIX}.** {CONTAINER_TAG_PREFIX}.**",
        params=params(("@type", "elasticsearch_genid"), ("hash_id_key", DOCUMENT_ID_KEY)),
        comment=(
            "A random id per event, fixed before buffering: when Fluentd retries a bulk request that\n"
            "partly succeeded, Elasticsearch refuses the copies (409 on create) instead of storing them twice."
        ),
    )
    return [join_partials, parse_inner, defaults_from_tag, enrich, redact, document_id]


def _file_buffer(path: str) -> Directive:
    return Directive(
        "buffer",
        params=(
            Param("@type", "file", comment="On disk: buffered events survive a Fluentd restart."),
            Param("path", path),
            Param("flush_mode", "interval"),
            Param("flush_interval", "5s"),
            Param("flush_thread_count", "2"),
            Param("chunk_limit_size", "8MB"),
            Param(
                "total_limit_size",
                BUFFER_TOTAL_LIMIT,
                comment="Bounded: an outage fills a known amount of disk, not the node's volume.",
            ),
            Param(
                "overflow_action",
                "block",
                comment=(
                    "When the buffer is full, inputs wait instead of dropping: in_tail stops reading (the lines stay\n"
                    "in the files) and forward clients see back-pressure (exporters.fluent drops and counts\n"
                    "rather than blocking a request)."
                ),
            ),
            Param("retry_type", "exponential_backoff"),
            Param("retry_wait", "1s"),
            Param("retry_max_interval", "60s"),
            Param(
                "retry_forever",
                "true",
                comment="Elasticsearch down for hours is an outage to wait out, not a reason to discard chunks.",
            ),
        ),
    )


def _elasticsearch_login(platform: Platform) -> tuple[Param, ...]:
    """The user from the model; the password read from its mounted file when Fluentd starts
    (embedded Ruby), so it is in no file obs writes."""
    if not platform.elasticsearch_username:
        return ()
    return (
        Param("user", platform.elasticsearch_username),
        Param(
            "password",
            fc.Embedded(f"File.read('{platform.elasticsearch_password_file}').strip"),
            comment="Read from the mounted secret when Fluentd starts; never written here.",
        ),
    )


def elasticsearch_output(platform: Platform, env: Environment) -> Directive:
    return Directive(
        "match",
        f"{FORWARD_TAG_PREFIX}.** {CONTAINER_TAG_PREFIX}.**",
        params=(
            Param("@type", "elasticsearch"),
            Param("@id", "out_elasticsearch"),
            Param("hosts", platform.elasticsearch_url),
            *_elasticsearch_login(platform),
            Param("target_index_key", "_obs_index"),
            Param("id_key", DOCUMENT_ID_KEY),
            Param("remove_keys", DOCUMENT_ID_KEY),
            Param("index_name", data_stream(platform, "application", env)),
            Param("write_operation", "create", comment="Data streams accept only create."),
            Param("suppress_type_name", "true"),
            Param("include_timestamp", "false", comment="Records carry @timestamp already (set above when missing)."),
            Param("reconnect_on_error", "true"),
            Param("reload_on_failure", "true"),
            Param("request_timeout", "30s"),
            Param("log_es_400_reason", "true"),
        ),
        children=(_file_buffer(f"{BUFFER_DIR}/elasticsearch"),),
        comment=(
            "Elasticsearch, through a file buffer that waits out outages. Records Elasticsearch rejects\n"
            "(mapping errors) are re-emitted to @ERROR by the plugin."
        ),
    )


def _disk_output(ident: str, path: str) -> Directive:
    return Directive(
        "match",
        "**",
        params=(
            Param("@type", "file"),
            Param("@id", ident),
            Param("path", f"{path}/${{tag}}/%Y%m%d"),
            Param("append", "true"),
        ),
        children=(
            Directive(
                "buffer",
                "tag,time",
                params=(
                    Param("@type", "file"),
                    Param("path", f"{BUFFER_DIR}/{ident}"),
                    Param("timekey", "1d"),
                    Param("timekey_wait", "10m"),
                    Param("total_limit_size", "1GB"),
                    Param("overflow_action", "block"),
                    Param("retry_forever", "true"),
                ),
            ),
        ),
    )


def config(platform: Platform, env: Environment) -> Config:
    catch_all = replace(
        _disk_output("out_unrouted", "/var/log/fluentd/unrouted"),
        comment="Catch-all: a tag nobody expected is kept on disk, never silently dropped.",
    )
    rejected = _disk_output("out_rejected", "/var/log/fluentd/rejected")
    return Config(
        (
            Directive(
                "system",
                params=params(("log_level", "info"), ("root_dir", "/var/log/fluentd/state")),
            ),
            *sources(platform),
            *filters(platform, env),
            elasticsearch_output(platform, env),
            catch_all,
            Directive(
                "label",
                "@ERROR",
                children=(rejected,),
                comment="Events an output could not write (e.g. rejected by Elasticsearch's mapping): kept for replay.",
            ),
            Directive(
                "label",
                "@FLUENT_LOG",
                children=(Directive("match", "fluent.**", params=params(("@type", "stdout"))),),
                comment="Fluentd's own log goes to its stdout, not into the pipeline it reports on.",
            ),
        )
    )


def render(ctx: RenderContext) -> Iterable[Artifact]:
    yield Artifact(CONFIG_PATH, fc.render(config(ctx.platform, ctx.env)))


