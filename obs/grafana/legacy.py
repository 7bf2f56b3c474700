"""Dashboards teams already wrote with grafanalib, accepted as input (never built on).

A ``*.dashboard.py`` module in one of ``Platform.dashboard_dirs`` defines a module-level
``dashboard`` (grafanalib's own generator convention). It is loaded the way grafanalib's
``generate-dashboard`` loads it, serialized with grafanalib's encoder, then normalized to what
Grafana 11 and our checks expect, and provisioned like the generated dashboards: same schema, same
lint, its PromQL checked against the contract.

Normalization does what Grafana's own migrations would do on load, so the checks judge the
dashboard Grafana will show. grafanalib writes datasources as bare strings (Grafana 4-era). A string naming one
of our non-Prometheus datasources becomes that datasource's ``{"type", "uid"}``; any other string
(a Prometheus name, ``default``, ``$datasource``) becomes the ``${datasource}`` variable, so the
legacy dashboard follows the environment picker like ours, and the variable is added if missing.
"""

from __future__ import annotations

import importlib.util
import json
import string
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from obs.errors import RenderError
from obs.grafana.lint import dashboard_queries, iter_panels
from obs.grafana.model import DATASOURCE_VARIABLE, PROMETHEUS_TYPE
from obs.grafana.provisioning import ALERTMANAGER_UID, ELASTICSEARCH_UID, JAEGER_UID
from obs.model import DEFAULT_INFRA_TEAM
from obs.promql import Query

SUFFIX = ".dashboard.py"
_VARIABLE_REF = {"type": PROMETHEUS_TYPE, "uid": f"${{{DATASOURCE_VARIABLE}}}"}
_NAMED: dict[str, dict[str, str]] = {
    "jaeger": {"type": "jaeger", "uid": JAEGER_UID},
    "elasticsearch": {"type": "elasticsearch", "uid": ELASTICSEARCH_UID},
    "elasticsearch logs": {"type": "elasticsearch", "uid": ELASTICSEARCH_UID},
    "alertmanager": {"type": "alertmanager", "uid": ALERTMANAGER_UID},
}


@dataclass(frozen=True, slots=True)
class LegacyDashboard:
    source: Path
    team: str
    json: dict[str, Any]

    @property
    def uid(self) -> str:
        return str(self.json.get("uid") or "")

    def queries(self) -> tuple[Query, ...]:
        return dashboard_queries(self.json, self.source.name)


def discover(dirs: tuple[str, ...], base: Path | None = None) -> Iterator[Path]:
    for d in dirs:
        folder = (base / d) if base and not Path(d).is_absolute() else Path(d)
        if not folder.is_dir():
            raise RenderError(f"dashboard_dirs: {folder} is not a folder")
        yield from sorted(folder.rglob(f"*{SUFFIX}"))


def load(path: Path, teams: tuple[str, ...] = (), default_team: str = DEFAULT_INFRA_TEAM) -> LegacyDashboard:
    """Load, serialize and normalize one grafanalib module; RenderError names the file. A dashboard
    neither tagged nor filed under one of ``teams`` goes to ``default_team``'s folder (the
    platform's ``infra_team``)."""
    try:
        from grafanalib._gen import DashboardEncoder
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise RenderError(f"{path}: grafanalib is not installed: pip install 'obs[grafanalib]'") from exc
    name = f"obs_legacy_dashboard_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RenderError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise RenderError(f"{path}: failed to import: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.modules.pop(name, None)
    dashboard = getattr(module, "dashboard", None)
    if dashboard is None or not hasattr(dashboard, "to_json_data"):
        raise RenderError(
            f"{path}: defines no module-level `dashboard` (a grafanalib Dashboard), as grafanalib's generator requires"
        )
    data = json.loads(json.dumps(dashboard.to_json_data(), cls=DashboardEncoder, sort_keys=True))
    normalized = normalize(data)
    return LegacyDashboard(path, team_of(normalized, path, teams, default_team), normalized)


def team_of(data: Mapping[str, Any], path: Path, teams: tuple[str, ...], default_team: str) -> str:
    """``team:<name>`` tag first, then the folder the file sits in, then ``default_team``."""
    for tag in data.get("tags") or []:
        if isinstance(tag, str) and tag.startswith("team:"):
            return tag.removeprefix("team:")
    if path.parent.name in teams:
        return path.parent.name
    return default_team


def _datasource(value: Any) -> Any:
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, str):
        return dict(_NAMED.get(value.strip().lower(), _VARIABLE_REF))
    return value


def _normalize_field_defaults(panel: dict[str, Any]) -> None:
    """grafanalib writes every optional field default as ``null`` and an empty threshold list;
    Grafana treats both as unset, so they are dropped rather than reported."""
    defaults = (panel.get("fieldConfig") or {}).get("defaults")
    if not isinstance(defaults, dict):
        return
    for key in [k for k, v in defaults.items() if v is None]:
        del defaults[key]
    thresholds = defaults.get("thresholds")
    if isinstance(thresholds, dict) and not thresholds.get("steps"):
        del defaults["thresholds"]


def _normalize_legend(panel: dict[str, Any]) -> None:
    """grafanalib predates ``showLegend``: Grafana's panel migration derives it from the display
    mode (``hidden`` hides), and so does this."""
    legend = (panel.get("options") or {}).get("legend")
    if isinstance(legend, dict) and "showLegend" not in legend and "show" not in legend:
        legend["showLegend"] = legend.get("displayMode") != "hidden"


def normalize(data: dict[str, Any]) -> dict[str, Any]:
    """Grafana 11 shape: datasource objects, a ``datasource`` variable, ``annotations.list``."""
    out = dict(data)
    for panel in iter_panels(out):
        if panel.get("type") == "text":
            # grafanalib writes a text panel's unused datasource, description and queries as null
            # and []: Grafana ignores them, so they are dropped rather than reported.
            for key in ("datasource", "description", "targets"):
                if not panel.get(key):
                    panel.pop(key, None)
        if "datasource" in panel:
            panel["datasource"] = _datasource(panel["datasource"])
        targets = panel.get("targets") or []
        used = {t.get("refId") for t in targets}
        free = (letter for letter in string.ascii_uppercase if letter not in used)
        for target in targets:
            if not target.get("refId"):
                # grafanalib's ElasticsearchTarget (and others) leave it empty; Grafana names them A, B, ...
                target["refId"] = next(free, "Z")
            if target.get("datasource") is None:
                # grafanalib writes `null`: the query uses the panel's datasource, so say so.
                target.pop("datasource", None)
            else:
                target["datasource"] = _datasource(target["datasource"])
        _normalize_field_defaults(panel)
        _normalize_legend(panel)
    templating = out.setdefault("templating", {}).setdefault("list", [])
    for variable in templating:
        if "datasource" in variable:
            variable["datasource"] = _datasource(variable["datasource"])
    if not any(v.get("name") == DATASOURCE_VARIABLE for v in templating):
        templating.insert(
            0,
            {
                "name": DATASOURCE_VARIABLE,
                "type": "datasource",
                "query": PROMETHEUS_TYPE,
                "label": "Environment",
            },
        )
    annotations = out.get("annotations")
    if not isinstance(annotations, dict) or "list" not in annotations:
        out["annotations"] = {"list": []}
    # Provisioned dashboards are matched by uid; a numeric id from an export would clash.
    out["id"] = None
    return out


__all__ = ["SUFFIX", "LegacyDashboard", "discover", "load", "normalize", "team_of"]
