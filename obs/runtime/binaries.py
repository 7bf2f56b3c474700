"""Find the real server binaries, or say in one line which Debian package provides each.

Order for each binary: the command in its ``OBS_<NAME>`` variable (shell words, as
:mod:`obs.tools` reads ``OBS_PROMTOOL``), then the first of its names on ``PATH``, then its
fixed Debian locations (PostgreSQL's server programs live in ``/usr/lib/postgresql/<major>/bin``,
the newest major wins). A missing binary raises :class:`BinaryNotFoundError`::

    prometheus-alertmanager not found: apt-get install -y prometheus-alertmanager (or set OBS_ALERTMANAGER)
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
from dataclasses import dataclass

from obs.errors import ToolNotFoundError


class BinaryNotFoundError(ToolNotFoundError):
    """A server binary is missing; ``packages`` are the Debian packages that provide the missing ones."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.packages = tuple(dict.fromkeys(BINARIES[n].package for n in names))
        variables = ", ".join(BINARIES[n].env_var for n in names)
        super().__init__(f"{', '.join(names)} not found: apt-get install -y {' '.join(self.packages)} (or set {variables})")


@dataclass(frozen=True, slots=True)
class BinarySpec:
    """Where one server binary is looked for, and the Debian package that installs it."""

    name: str
    package: str
    env_var: str
    #: Names tried on PATH, in order.
    path_names: tuple[str, ...]
    #: Glob patterns of fixed locations, tried after PATH; the highest version wins.
    locations: tuple[str, ...] = ()


def _spec(name: str, package: str, env_var: str, path_names: tuple[str, ...] = (), locations: tuple[str, ...] = ()) -> BinarySpec:
    return BinarySpec(name, package, env_var, path_names or (name,), locations)


def _postgres(program: str) -> BinarySpec:
    return _spec(program, "postgresql", f"OBS_{program.upper()}", locations=(f"/usr/lib/postgresql/*/bin/{program}",))


BINARIES: dict[str, BinarySpec] = {
    spec.name: spec
    for spec in (
        _spec("prometheus", "prometheus", "OBS_PROMETHEUS"),
        _spec("promtool", "prometheus", "OBS_PROMTOOL"),
        _spec("prometheus-alertmanager", "prometheus-alertmanager", "OBS_ALERTMANAGER", ("prometheus-alertmanager", "alertmanager")),
        _spec("amtool", "prometheus-alertmanager", "OBS_AMTOOL"),
        _spec("victoria-metrics", "victoria-metrics", "OBS_VICTORIA_METRICS", ("victoria-metrics", "victoria-metrics-prod")),
        _spec("vmalert", "victoria-metrics", "OBS_VMALERT", ("vmalert", "vmalert-prod")),
        _spec("vmagent", "victoria-metrics", "OBS_VMAGENT", ("vmagent", "vmagent-prod")),
        _postgres("initdb"),
        _postgres("pg_ctl"),
        _postgres("postgres"),
        _spec("redis-server", "redis-server", "OBS_REDIS_SERVER"),
        _spec("prometheus-postgres-exporter", "prometheus-postgres-exporter", "OBS_POSTGRES_EXPORTER", ("prometheus-postgres-exporter", "postgres_exporter")),
        _spec("prometheus-redis-exporter", "prometheus-redis-exporter", "OBS_REDIS_EXPORTER", ("prometheus-redis-exporter", "redis_exporter")),
        _spec("prometheus-node-exporter", "prometheus-node-exporter", "OBS_NODE_EXPORTER", ("prometheus-node-exporter", "node_exporter")),
        _spec("prometheus-blackbox-exporter", "prometheus-blackbox-exporter", "OBS_BLACKBOX_EXPORTER", ("prometheus-blackbox-exporter", "blackbox_exporter")),
        _spec("chromium", "chromium", "OBS_CHROMIUM", ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")),
    )
}


def _version_key(path: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path))


def _locate(spec: BinarySpec) -> list[str] | None:
    override = os.environ.get(spec.env_var, "").strip()
    if override:
        return shlex.split(override)
    for candidate in spec.path_names:
        found = shutil.which(candidate)
        if found:
            return [found]
    for pattern in spec.locations:
        hits = [p for p in glob.glob(pattern) if os.access(p, os.X_OK)]
        if hits:
            return [max(hits, key=_version_key)]
    return None


def find_binary(name: str) -> list[str]:
    """The command (argv prefix) that runs ``name``; raises :class:`BinaryNotFoundError` naming the package."""
    spec = BINARIES.get(name)
    if spec is None:
        raise KeyError(f"unknown binary {name!r}; known: {', '.join(sorted(BINARIES))}")
    found = _locate(spec)
    if found is None:
        raise BinaryNotFoundError((name,))
    return found


def require(*names: str) -> dict[str, list[str]]:
    """Every binary in ``names``, or one error naming all the missing ones and their packages."""
    found: dict[str, list[str]] = {}
    missing: list[str] = []
    for name in names:
        try:
            found[name] = find_binary(name)
        except BinaryNotFoundError:
            missing.append(name)
    if missing:
        raise BinaryNotFoundError(tuple(missing))
    return found


def available(name: str) -> bool:
    """Whether ``name`` is found (never raises for a known name)."""
    return _locate(BINARIES[name]) is not None


__all__ = ["BINARIES", "BinaryNotFoundError", "BinarySpec", "available", "find_binary", "require"]
