"""Property: any platform the generator makes from the schema, with one field mutated to something
hostile, is either refused with one line per problem, or renders output the real validators accept."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from obs import contract
from obs.builder import render
from obs.checks import alertmanager as am_checks
from obs.checks import prometheus as prom_checks
from obs.checks import rules as rules_checks
from obs.convert import platform_from_dict
from obs.errors import ModelError, ModelErrors
from obs.tools import available
from obs.writer import write_tree

pytestmark = pytest.mark.skipif(not (available("promtool") and available("amtool")), reason="promtool and amtool are needed")

names = st.from_regex(r"[a-z][a-z0-9]{1,8}", fullmatch=True).filter(lambda n: n not in {"node", "prometheus", "grafana", "jaeger", "kibana", "fluentd", "logstash", "blackbox"})


@st.composite
def platforms(draw: st.DrawFn) -> dict[str, Any]:
    team = draw(names)
    service_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    dep_kinds = draw(st.lists(st.sampled_from(["postgres", "redis"]), max_size=2, unique=True))
    deps = [{"name": f"{k}db", "kind": k, "team": team, "address": f"{k}db:{5432 if k == 'postgres' else 6379}"} for k in dep_kinds]
    services = []
    for name in service_names:
        kind = draw(st.sampled_from(["fastapi", "flask", "static_site"]))
        service: dict[str, Any] = {"name": name, "kind": kind, "team": team, "tier": draw(st.sampled_from([1, 2, 3]))}
        if kind == "static_site":
            service["probe_url"] = f"https://{name}.example.org/"
        else:
            service["slos"] = [
                {"name": "availability", "sli": {"type": "availability"}, "objective": draw(st.sampled_from([0.99, 0.995, 0.999]))},
                {
                    "name": "latency",
                    "sli": {"type": "latency", "threshold_seconds": draw(st.sampled_from(contract.SLO_THRESHOLDS_SECONDS))},
                    "objective": 0.99,
                    "window": draw(st.sampled_from(["28d", "30d"])),
                },
            ]
            service["depends_on"] = [d["name"] for d in deps]
        services.append(service)
    return {
        "name": draw(names),
        "runbook_base_url": "https://runbooks.example.org",
        "teams": [{"name": team, "chat_channel": f"#{team}"}],
        "infra_team": team,
        "services": services,
        "dependencies": deps,
        "environments": [{"name": "prod"}, {"name": "dev", "paging": False, "scrape_interval": "15s"}],
    }


HOSTILE = st.one_of(
    st.sampled_from(["", " ", "x'y", 'x"y', "{{ .X", "$(id)", "a\nb", "\x00", "\uff15", "-1", "0s", ".nan", "https://u:p@h/"]),
    st.sampled_from([math.nan, math.inf, -1, 0, 1e308, 2**63, True, None]),
    st.just([]),
    st.just({}),
    st.text(max_size=12),
)


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _leaves(v, (*path, k))] or [path]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _leaves(v, (*path, i))] or [path]
    return [path]


def _set(node: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_mutated_platform_is_refused_in_one_line_per_problem_or_passes_the_validators(data: st.DataObject) -> None:
    platform_data = data.draw(platforms())
    leaves = [p for p in _leaves(platform_data) if p]
    path = data.draw(st.sampled_from(leaves))
    # A third of the examples keep their generated values or take plausible ones, so that accepted
    # platforms reach the validators too, not only refusals.
    value = data.draw(st.one_of(HOSTILE, HOSTILE, st.sampled_from([1, 2, 3, 0.5, "x", "#x", "30d", "5m", "core"])))
    if data.draw(st.integers(0, 3)) > 0:
        _set(platform_data, path, value)
    try:
        platform = platform_from_dict(platform_data)
        result = render(platform, groups=["prometheus", "rules", "alertmanager"])
    except ModelError as err:
        problems = err.errors if isinstance(err, ModelErrors) else [err]
        for problem in problems:
            line = str(problem)
            assert line and "\n" not in line and ": " in line, repr(line)
        return
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "build"
        write_tree(out, result.files)
        for env in result.environments:
            outcomes = [*prom_checks.check(out / env), *rules_checks.check(out / env), *am_checks.check(out / env)]
            failed = [f"{o.name}: {o.detail}" for o in outcomes if o.status != "passed"]
            assert not failed, (path, failed)
