"""The JSON Schema editors use rejects what the loader rejects, so a mistake is flagged while it is
typed, not only when obs runs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from obs.convert import platform_from_dict, platform_json_schema
from obs.errors import ModelError

GOOD: dict[str, Any] = yaml.safe_load((Path(__file__).parent / "platforms" / "good.yaml").read_text())
VALIDATOR = jsonschema.Draft202012Validator(platform_json_schema())


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    node: Any = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return data


BAD = [
    (("services", 0, "slos", 0, "objective"), 99.9),
    (("services", 0, "slos", 0, "objective"), 0),
    (("services", 0, "slos", 1, "window"), "5 min"),
    (("services", 0, "slos", 1, "window"), "0d"),
    (("services", 0, "slos", 1, "sli", "threshold_seconds"), 0.33),
    (("services", 0, "name"), "API"),
    (("services", 0, "name"), "api\n"),
    (("services", 0, "port"), 70000),
    (("services", 0, "tier"), 4),
    (("services", 0, "sampling"), {"default_ratio": 1.5}),
    (("name",), "My Platform"),
    (("environments", 0, "scrape_interval"), "0s"),
    (("environments", 0, "scrape_interval"), "30 s"),
    (("dependencies", 0, "kind"), "mysql"),
    (("teams", 0, "chat_channel"), "#core {{ .Unclosed"),
    (("alert_webhook_url",), "not a url"),
    (("alert_webhook_url",), "http://user:pw@alert-log:9095/alerts"),
    (("node_targets",), ["node-exporter"]),
    (("services", 0, "unknown_field"), 1),
]


def test_the_example_platform_passes_both() -> None:
    platform_from_dict(GOOD)
    assert not list(VALIDATOR.iter_errors(GOOD))


@pytest.mark.parametrize(("path", "value"), BAD, ids=[f"{'.'.join(map(str, p))}={v!r}" for p, v in BAD])
def test_the_schema_rejects_what_the_loader_rejects(path: tuple[Any, ...], value: Any) -> None:
    data = _with(path, value)
    with pytest.raises(ModelError):
        platform_from_dict(data)
    assert list(VALIDATOR.iter_errors(data)), f"the JSON Schema accepts {value!r} at {path}"
