"""The platform's own content, loaded by reference before anything renders.

A platform names its alerts, dashboards, hand-written promtool tests and runbook texts by path
(relative to the platform file). :func:`load_content` reads them into :class:`Content`, plain data
the renderers take from their context, so rendering itself touches no file and runs no user code.
This module is the one place that does both:

- YAML alert files, Grafana JSON dashboards, promtool test files and runbook texts are read;
- Python modules (``alerts(platform)``, ``dashboards(platform, env)``, grafanalib
  ``*.dashboard.py``) are imported, but only for a platform defined in Python: a YAML platform
  never runs code.

Every mistake is a :class:`~obs.errors.ModelError` naming the file and the fix, whatever the user
code raised (``SystemExit`` included).
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any

import yaml

from obs.alerting import Alert
from obs.errors import ModelError, ObsError
from obs.model import Environment, Platform
from obs.promql import Query

#: Suffix of grafanalib dashboard modules (grafanalib's own generator convention).
GRAFANALIB_SUFFIX = ".dashboard.py"
#: YAML alert files in a folder end so (a folder may hold promtool tests and notes as well).
ALERT_FILE_SUFFIXES = (".alerts.yaml", ".alerts.yml")
#: Imported content modules of one build, by file.
Modules = dict[Path, ModuleType]
#: Largest content file read (a Grafana JSON or a test file is a few hundred KB at most).
MAX_FILE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class DashboardSource:
    """One dashboard of the platform's own, as Grafana JSON with its team and PromQL queries."""

    team: str
    data: Mapping[str, Any]
    queries: tuple[Query, ...]
    origin: str

    @property
    def uid(self) -> str:
        return str(self.data.get("uid") or "")


@dataclass(frozen=True, slots=True)
class RuleTestFile:
    """A hand-written promtool test file, written under ``prometheus/tests/handwritten/``."""

    name: str
    text: str


@dataclass(frozen=True)
class Content:
    """Everything a platform brings of its own, for one environment."""

    alerts: tuple[Alert, ...] = ()
    dashboards: tuple[DashboardSource, ...] = ()
    rule_tests: tuple[RuleTestFile, ...] = ()
    runbooks: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


EMPTY_CONTENT = Content()


class ContentError(ModelError):
    """A referenced content file is missing, unreadable or wrong."""


# --- finding files ------------------------------------------------------------------------------


def _resolve(ref: str, root: Path, field_name: str) -> Path:
    path = Path(ref)
    path = path if path.is_absolute() else root / path
    if not path.exists():
        raise ContentError(field_name, f"{ref!r} does not exist (looked in {path})", "give a path relative to the platform file")
    return path


def _files(refs: Iterable[str], root: Path, field_name: str, suffixes: tuple[str, ...]) -> Iterator[tuple[Path, str]]:
    """(file, name relative to root) for every file under the references, in a stable order: a
    file named directly is taken whatever its suffix; in a folder, files ending in ``suffixes``."""
    for ref in refs:
        base = _resolve(ref, root, field_name)
        if base.is_file():
            found = [base]
        else:
            found = sorted(
                p
                for p in base.rglob("*")
                if p.is_file()
                and p.name.endswith(suffixes)
                and not p.name.startswith(("_", "."))
                and "__pycache__" not in p.parts
            )
        for path in found:
            yield path, _relative(path, root)


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _read_text(path: Path, rel: str) -> str:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ContentError(rel, f"is larger than {MAX_FILE_BYTES // 2**20} MiB", "reference a smaller file")
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ContentError(rel, f"is not UTF-8 text ({exc.reason} at byte {exc.start})", "save it as UTF-8") from None
    except OSError as exc:
        raise ContentError(rel, f"cannot be read: {exc.strerror or exc}", "check the path and its permissions") from None


# --- running user code --------------------------------------------------------------------------


def _call(where: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Run user code; whatever it raises becomes one line naming the file."""
    try:
        return fn(*args)
    except ObsError as err:
        if isinstance(err, ModelError) and err.path.startswith(where):
            raise
        raise ContentError(where, str(err), "fix the definition there") from None
    except SystemExit as exc:
        raise ContentError(where, f"called sys.exit({exc.code!r})", "content modules must not exit; raise an error instead") from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        raise ContentError(where, f"raised {type(exc).__name__}: {exc}", "fix the code there") from None


def import_module_file(path: Path, rel: str, root: Path, cache: dict[Path, ModuleType] | None = None) -> ModuleType:
    """Import one Python file under a private name, with ``root`` importable for its helpers;
    ``cache`` keeps the modules of one build, so each file runs once whatever the environments."""
    if cache is not None and path in cache:
        return cache[path]
    name = "obs_content_" + "".join(c if c.isalnum() else "_" for c in rel)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ContentError(rel, "cannot be loaded as a Python module", "give it a .py suffix")
    module = importlib.util.module_from_spec(spec)
    added = str(root) not in sys.path
    if added:
        sys.path.insert(0, str(root))
    sys.modules[name] = module
    try:
        _call(rel, spec.loader.exec_module, module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        if added:
            sys.path.remove(str(root))
    if cache is not None:
        cache[path] = module
    return module


def _arity(fn: Callable[..., Any]) -> int:
    try:
        return len(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return 1


# --- alerts -------------------------------------------------------------------------------------


def _python_alerts(path: Path, rel: str, root: Path, platform: Platform, env: Environment, modules: Modules) -> list[Alert]:
    module = import_module_file(path, rel, root, modules)
    factory = getattr(module, "alerts", None)
    if not callable(factory):
        raise ContentError(rel, "defines no alerts(platform) function", "add def alerts(platform: Platform) -> Iterable[Alert]")
    args = (platform, env) if _arity(factory) >= 2 else (platform,)
    produced = _call(rel, lambda: list(factory(*args)))
    found: list[Alert] = []
    for alert in produced:
        if not isinstance(alert, Alert):
            raise ContentError(rel, f"alerts() returned {alert!r}, not an obs.Alert", "build it with obs.alerting.service_alert")
        found.append(replace(alert, source=rel))
    return found


def _yaml_alerts(path: Path, rel: str, platform: Platform) -> list[Alert]:
    from obs.alert_files import alerts_from_yaml

    return [replace(a, source=rel) for a in alerts_from_yaml(_read_text(path, rel), rel, platform)]


def _alerts(platform: Platform, env: Environment, root: Path, allow_code: bool, modules: Modules) -> tuple[Alert, ...]:
    found: list[Alert] = []
    for path, rel in _files(platform.alerts, root, "alerts", (".py", *ALERT_FILE_SUFFIXES)):
        if path.suffix == ".py":
            if not allow_code:
                raise ContentError(rel, "is Python, and a YAML platform never runs code", "write the alerts as a YAML alert file, or define the platform in Python")
            found += _python_alerts(path, rel, root, platform, env, modules)
        else:
            found += _yaml_alerts(path, rel, platform)
    return tuple(found)


# --- dashboards ---------------------------------------------------------------------------------


def _json_dashboard(path: Path, rel: str, platform: Platform) -> DashboardSource:
    from obs.grafana.legacy import team_of
    from obs.grafana.lint import dashboard_queries

    try:
        data = json.loads(_read_text(path, rel))
    except ValueError as exc:
        raise ContentError(rel, f"is not JSON: {exc}", "export the dashboard again (Share > Export > Save to file)") from None
    if not isinstance(data, dict):
        raise ContentError(rel, "is not a dashboard (the top level is not an object)", "export the dashboard JSON model")
    if "dashboard" in data and isinstance(data["dashboard"], dict) and "panels" not in data:
        raise ContentError(rel, "is an API envelope {dashboard: ...}", "save only the dashboard object, as Export > Save to file does")
    # Provisioned dashboards are matched by uid; the numeric id of an export would clash.
    data = {**data, "id": None}
    team = team_of(data, path, platform.team_names, platform.infra_team)
    return DashboardSource(team, data, dashboard_queries(data, path.name), rel)


def _python_dashboards(path: Path, rel: str, root: Path, platform: Platform, env: Environment, modules: Modules) -> list[DashboardSource]:
    from obs.grafana import Dashboard

    module = import_module_file(path, rel, root, modules)
    factory = getattr(module, "dashboards", None)
    if not callable(factory):
        raise ContentError(rel, "defines no dashboards(platform, env) function", "add def dashboards(platform, env) -> Iterable[obs.grafana.Dashboard]")
    produced = _call(rel, lambda: list(factory(platform, env)))
    found: list[DashboardSource] = []
    for dashboard in produced:
        if not isinstance(dashboard, Dashboard):
            raise ContentError(rel, f"dashboards() returned {dashboard!r}, not an obs.grafana.Dashboard", "build it with obs.grafana.Dashboard(...)")
        data = _call(rel, dashboard.to_json)
        found.append(DashboardSource(dashboard.team, data, _call(rel, dashboard.queries), rel))
    return found


def _grafanalib_dashboard(path: Path, rel: str, root: Path, platform: Platform) -> DashboardSource:
    from obs.grafana import legacy

    loaded = _call(rel, lambda: legacy.load(path, platform.team_names, default_team=platform.infra_team))
    return DashboardSource(loaded.team, loaded.json, loaded.queries(), rel)


def _dashboards(platform: Platform, env: Environment, root: Path, allow_code: bool, modules: Modules) -> tuple[DashboardSource, ...]:
    found: list[DashboardSource] = []
    for path, rel in _files(platform.dashboards, root, "dashboards", (".py", ".json")):
        if path.suffix == ".json":
            found.append(_json_dashboard(path, rel, platform))
            continue
        if not allow_code:
            raise ContentError(rel, "is Python, and a YAML platform never runs code", "export the dashboard as Grafana JSON, or define the platform in Python")
        if path.name.endswith(GRAFANALIB_SUFFIX):
            found.append(_grafanalib_dashboard(path, rel, root, platform))
        else:
            found += _python_dashboards(path, rel, root, platform, env, modules)
    return tuple(found)


# --- tests and runbooks -------------------------------------------------------------------------


def _rule_tests(platform: Platform, root: Path) -> tuple[RuleTestFile, ...]:
    found: dict[str, RuleTestFile] = {}
    for path, rel in _files(platform.rule_tests, root, "rule_tests", (".yml", ".yaml")):
        text = _read_text(path, rel)
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ContentError(rel, f"is not valid YAML: {exc}", "fix the syntax") from None
        if not isinstance(data, dict) or not isinstance(data.get("tests"), list):
            raise ContentError(rel, "is not a promtool test file (no `tests:` list)", "see `promtool test rules --help`")
        if path.name in found:
            raise ContentError(rel, f"has the same file name as {found[path.name].name}'s source", "rename one of them")
        found[path.name] = RuleTestFile(path.name, text)
    return tuple(found.values())


def _runbooks(platform: Platform, root: Path) -> Mapping[str, str]:
    texts: dict[str, str] = {}
    for path, rel in _files(platform.runbooks, root, "runbooks", (".md",)):
        name = path.stem
        if name in texts:
            raise ContentError(rel, f"a runbook for {name} is already given", "keep one text per alert")
        texts[name] = _read_text(path, rel)
    return MappingProxyType(texts)


# --- the entry point ----------------------------------------------------------------------------


def load_content(
    platform: Platform,
    env: Environment,
    root: Path | None = None,
    allow_code: bool = True,
    modules: Modules | None = None,
) -> Content:
    """Read and run what ``platform`` references, for ``env``; references are relative to ``root``
    (the platform file's folder; default: the current directory). ``allow_code=False`` (YAML
    platforms) refuses Python content. Pass one ``modules`` dict for every environment of a build
    so that each Python file runs once."""
    base = (root or Path.cwd()).resolve()
    cache: Modules = {} if modules is None else modules
    return Content(
        alerts=_alerts(platform, env, base, allow_code, cache),
        dashboards=_dashboards(platform, env, base, allow_code, cache),
        rule_tests=_rule_tests(platform, base),
        runbooks=_runbooks(platform, base),
    )


__all__ = [
    "ALERT_FILE_SUFFIXES",
    "EMPTY_CONTENT",
    "GRAFANALIB_SUFFIX",
    "Content",
    "ContentError",
    "DashboardSource",
    "RuleTestFile",
    "import_module_file",
    "Modules",
    "load_content",
]
