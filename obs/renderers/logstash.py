"""Logstash: the alternative log path (Filebeat or a TCP JSON-lines shipper → Elasticsearch).

Same contract as the Fluentd pipeline: the instrumentation's JSON records, enriched with service
environment and data stream, redacted with :data:`obs.contract.REDACTION_RULES`, written to the
per-class data streams :mod:`obs.renderers.elasticsearch` declares. ``logstash.yml`` turns on the
persistent queue and the dead letter queue so an Elasticsearch outage or a mapping rejection does
not lose events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from obs import contract
from obs.artifacts import Artifact, RenderContext
from obs.formats import logstash_conf as lc
from obs.formats.conventions import (
    ECS_VERSION_FIELD,
    LEVEL,
    LOGGER,
    MESSAGE,
    REDACTED_FIELDS,
    SERVICE_ENVIRONMENT,
    data_stream,
)
from obs.formats.logstash_conf import Bareword, If, Node, Pipeline, Plugin, Section, hash_
from obs.model import Environment, Platform

PIPELINE_PATH = "logstash/pipeline/obs.conf"
SETTINGS_PATH = "logstash/logstash.yml"
PIPELINES_PATH = "logstash/pipelines.yml"
BEATS_PORT = 5044
TCP_PORT = 5000
#: Its own address (the container's or pod's host name, from Logstash's ${VAR} substitution), not
#: every interface.
OWN_HOST = "${HOSTNAME}"
#: Python's default logging format (``logging.basicConfig``): ``LEVEL:logger:message``. Lines in it
#: come from code that logged before the JSON formatter was installed (start-up, crashes).
PYTHON_DEFAULT_LINE = "^%{LOGLEVEL:fallback_level}:%{DATA:fallback_logger}:%{GREEDYDATA:fallback_message}$"


#: Which input an event came through, for the filters. Not ``[@metadata][input]``: in ECS mode
#: (``pipeline.ecs_compatibility: v8``) the inputs write their own metadata under it
#: (``[@metadata][input][beats][host][ip]``) before ``add_field`` runs, so a test for a plain value
#: there never matches.
INPUT_METADATA = "[@metadata][obs_input]"


def _metadata_input(name: str) -> lc.Hash:
    return hash_({INPUT_METADATA: name})


def inputs() -> Section:
    return Section(
        "input",
        (
            Plugin(
                "beats",
                lc.settings(host=OWN_HOST, port=BEATS_PORT, add_field=_metadata_input("beats")),
                comment="Filebeat tailing container logs: the JSON record is a string in `message`.",
            ),
            Plugin(
                "tcp",
                lc.settings(host=OWN_HOST, port=TCP_PORT, codec=Bareword("json_lines"), add_field=_metadata_input("tcp")),
                comment="Services shipping JSON lines directly: every line is already an event.",
            ),
        ),
    )


def _field(name: str) -> str:
    """Logstash field reference to a top-level key (our keys are dotted ECS names, kept flat)."""
    return f"[{name}]"


def filters(platform: Platform, env: Environment) -> Section:
    classes = ", ".join(f'"{c}"' for c in contract.LOG_CLASSES)
    dataset = _field(contract.LOG_CLASS_FIELD)
    gsub: list[str] = []
    for name in REDACTED_FIELDS:
        for rule in contract.REDACTION_RULES:
            gsub.extend((_field(name), rule.pattern, contract.REDACTED))
    body: tuple[Node, ...] = (
        If(
            ((f'{INPUT_METADATA} == "beats"', (Plugin("json", lc.settings(source=MESSAGE)),)),),
            comment="Lift the record's fields; a line that is not JSON keeps `message` and is tagged _jsonparsefailure.",
        ),
        If(
            (
                (
                    '"_jsonparsefailure" in [tags]',
                    (
                        Plugin(
                            "grok",
                            lc.settings(match=hash_({MESSAGE: PYTHON_DEFAULT_LINE}), tag_on_failure=()),
                        ),
                        Plugin(
                            "mutate",
                            lc.settings(
                                rename=hash_(
                                    {
                                        "fallback_level": _field(LEVEL),
                                        "fallback_logger": _field(LOGGER),
                                        "fallback_message": MESSAGE,
                                    }
                                ),
                                lowercase=(_field(LEVEL),),
                            ),
                        ),
                    ),
                ),
            ),
            comment="Plain-text lines in Python's default format still get a level and a logger.",
        ),
        If(
            ((f"{dataset} not in [{classes}]", (Plugin("mutate", lc.settings(replace=hash_({dataset: "application"}))),)),),
            comment="Lines that are not ours count as application logs, so they land in a managed data stream.",
        ),
        If(
            (
                (
                    f"!{_field(SERVICE_ENVIRONMENT)}",
                    (Plugin("mutate", lc.settings(add_field=hash_({_field(SERVICE_ENVIRONMENT): env.name}))),),
                ),
            ),
        ),
        If(
            (
                (
                    f"!{_field(ECS_VERSION_FIELD)}",
                    (Plugin("mutate", lc.settings(add_field=hash_({_field(ECS_VERSION_FIELD): contract.ECS_VERSION}))),),
                ),
            ),
        ),
        Plugin(
            "mutate",
            lc.settings(
                add_field=hash_(
                    {
                        "[data_stream][type]": "logs",
                        "[data_stream][dataset]": f"{platform.name}.%{{{dataset}}}",
                        "[data_stream][namespace]": env.name,
                    }
                )
            ),
            comment=f"Routes the event to its data stream, e.g. {data_stream(platform, 'access', env)}.",
        ),
        Plugin(
            "mutate",
            lc.settings(gsub=tuple(gsub)),
            comment="Redaction with the contract's rules, after every field is in place and before any output.",
        ),
    )
    return Section("filter", body)


#: The variable Logstash reads the Elasticsearch password from (its ${VAR} substitution); the
#: deployment sets it from the mounted secret file.
PASSWORD_VARIABLE = "OBS_ELASTICSEARCH_PASSWORD"


def _elasticsearch_login(platform: Platform) -> dict[str, str]:
    if not platform.elasticsearch_username:
        return {}
    return {"user": platform.elasticsearch_username, "password": f"${{{PASSWORD_VARIABLE}}}"}


def outputs(platform: Platform) -> Section:
    return Section(
        "output",
        (
            Plugin(
                "elasticsearch",
                lc.settings(
                    hosts=(platform.elasticsearch_url,),
                    data_stream="true",
                    data_stream_auto_routing=True,
                    data_stream_sync_fields=True,
                    **_elasticsearch_login(platform),
                ),
                comment="Mapping rejections go to the dead letter queue (logstash.yml), not to /dev/null.",
            ),
        ),
    )


def pipeline(platform: Platform, env: Environment) -> Pipeline:
    return Pipeline((inputs(), filters(platform, env), outputs(platform)))


def settings() -> dict[str, Any]:
    return {
        # Persisted: events accepted from Beats/TCP survive a restart and wait out an outage; when
        # the queue is full Logstash stops reading (back-pressure) instead of dropping.
        "queue.type": "persisted",
        "queue.max_bytes": "4gb",
        # Events Elasticsearch rejects (400/404) are kept for replay rather than dropped.
        "dead_letter_queue.enable": True,
        "dead_letter_queue.max_bytes": "1gb",
        # The redaction regexes are written with their backslashes as is; escapes stay off.
        "config.support_escapes": False,
        "pipeline.ecs_compatibility": "v8",
    }


def render(ctx: RenderContext) -> Iterable[Artifact]:
    yield Artifact(PIPELINE_PATH, lc.render(pipeline(ctx.platform, ctx.env)))
    yield Artifact(SETTINGS_PATH, settings())
    yield Artifact(PIPELINES_PATH, [{"pipeline.id": "obs", "path.config": "/usr/share/logstash/pipeline/obs.conf"}])


