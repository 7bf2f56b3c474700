"""The public API of `obs` is small and pinned: it cannot grow or shrink by accident, every name
is the object its module defines, and importing `obs` stays cheap for services."""

from __future__ import annotations

import importlib
import subprocess
import sys

import obs

#: The whole public API. Adding a name is a decision: add it here and in obs/__init__.py.
PUBLIC = {
    "Alert", "AlertTest", "AlertTuning", "Autoscaling", "AvailabilitySLI", "BuildResult", "ComponentOverride",
    "Compose", "Dependency", "Environment", "Fires", "Kubernetes", "LatencySLI", "Local", "MetricsStore",
    "ModelError", "ObsError", "Platform", "Project", "PromQLError", "SLO", "Series", "Service", "Severity",
    "Team", "TraceSampling", "__version__", "build", "component_alert", "load_platform", "load_project",
    "render", "service_alert",
}  # fmt: skip


def test_all_is_sorted_and_exactly_the_pinned_names() -> None:
    assert obs.__all__ == sorted(obs.__all__)
    assert set(obs.__all__) == PUBLIC


def test_every_public_name_is_the_object_of_the_module_that_defines_it() -> None:
    for name in PUBLIC - {"__version__"}:
        module = importlib.import_module(obs._EXPORTS[name])
        assert getattr(obs, name) is getattr(module, name), name
        assert name in module.__all__, f"{module.__name__}.__all__ lacks {name}"


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        obs.Nonsense  # type: ignore[attr-defined] # noqa: B018
    except AttributeError as exc:
        assert "Nonsense" in str(exc)
    else:
        raise AssertionError("obs.Nonsense resolved")


def test_importing_obs_loads_neither_the_model_nor_yaml_nor_the_renderers() -> None:
    # Services import obs.contract through the instrumentation: `import obs` must stay cheap.
    code = "import sys, obs, obs.contract; print(sorted(m for m in sys.modules if m.startswith(('obs.', 'yaml', 'grafana_foundation_sdk', 'promql_parser'))))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert eval(loaded) == ["obs.contract"], loaded
