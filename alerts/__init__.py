"""The platform's own alerts, written in Python next to the generated ones.

Each module of this package defines ``alerts(platform) -> Iterable[Alert]`` built with
:func:`obs.alerting.service_alert` / :func:`obs.alerting.component_alert`, so a custom alert gets the
same severity scale, team/service labels, runbook and dashboard links, PromQL contract check and
test requirement as a generated one. :func:`custom_alerts` collects them and stamps each with the
file that defines it, which every error message then names (``alerts/http.py: alert HighErrorRate``).

Hand-written promtool test files live in ``alerts/tests/``; :func:`promtool_test_files` says which
apply to a platform (they name its services, so they only apply to the platform they were written for).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from obs.alerting import Alert
from obs.errors import ModelError
from obs.model import Platform

TESTS_DIR = Path(__file__).parent / "tests"

#: Hand-written promtool test file → the platform whose rules it tests.
HANDWRITTEN_TESTS: dict[str, str] = {
    "high_error_rate.test.yml": "edu",
}


def _modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def custom_alerts(platform: Platform) -> list[Alert]:
    """Every alert the modules of this package define for ``platform``."""
    found: list[Alert] = []
    for name in _modules():
        module = importlib.import_module(f"{__name__}.{name}")
        source = f"alerts/{name}.py"
        factory = getattr(module, "alerts", None)
        if not callable(factory):
            raise ModelError(
                source,
                "defines no alerts(platform) function",
                "add def alerts(platform: Platform) -> Iterable[Alert]",
            )
        produced: Iterable[Alert] = factory(platform)
        for alert in produced:
            if not isinstance(alert, Alert):
                raise ModelError(
                    source,
                    f"alerts() returned {alert!r}, not an obs.alerting.Alert",
                    "build it with obs.alerting.service_alert",
                )
            found.append(replace(alert, source=source))
    return found


def promtool_test_files(platform: Platform) -> list[Path]:
    """The hand-written test files written for ``platform``."""
    return [TESTS_DIR / name for name, owner in sorted(HANDWRITTEN_TESTS.items()) if owner == platform.name]


__all__ = ["HANDWRITTEN_TESTS", "custom_alerts", "promtool_test_files"]
