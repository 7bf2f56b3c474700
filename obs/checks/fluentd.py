"""Checks of the Fluentd configuration: parsed back, routing, regular expressions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from obs.artifacts import Outcome
from obs.formats import fluentd_conf as fc
from obs.formats.fluentd_conf import Config
from obs.renderers.fluentd import CONFIG_PATH


def check(env_dir: Path) -> Iterable[Outcome]:
    """Parse the written file back and check its routing (see :func:`fluentd_conf.check_routing`)."""
    path = env_dir / CONFIG_PATH
    name = "fluentd config parses and routes every tag"
    try:
        parsed = fc.parse(path.read_text())
    except (OSError, fc.FluentdSyntaxError) as exc:
        yield Outcome(name, "failed", f"{path}: {exc}")
        return
    problems = fc.check_routing(parsed)
    yield Outcome(name, "failed" if problems else "passed", "\n".join(problems))
    yield _check_regexps(parsed)


def _check_regexps(config: Config) -> Outcome:
    """Every ``<parse> @type regexp`` expression compiles (as Python reads the shared subset) and
    reads a CRI line holding a JSON record."""
    problems: list[str] = []
    sample = '2026-01-01T00:00:00.000000000+00:00 stdout F {"message":"x"}'
    for d in config.walk():
        if d.name != "parse" or d.type != "regexp":
            continue
        expression = d.get("expression") or ""
        if not (expression.startswith("/") and expression.endswith("/")):
            problems.append(f"expression {expression!r} is not a /regex/ literal")
            continue
        try:
            regex = re.compile(expression[1:-1].replace("(?<", "(?P<").replace("\\/", "/"))
        except re.error as exc:
            problems.append(f"expression {expression!r} does not compile: {exc}")
            continue
        if "log" not in regex.groupindex or not regex.match(sample):
            problems.append(f"expression {expression!r} does not capture `log` from a CRI line")
    return Outcome(
        "fluentd regexps compile and read CRI lines", "failed" if problems else "passed", "\n".join(problems)
    )


__all__ = ["check"]
