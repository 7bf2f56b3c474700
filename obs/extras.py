"""Which optional extra a command needs, and one clear line when it is missing.

The core install (``pip install obs``) holds the model, the loader and the CLI. Rendering and
checking need the ``build`` extra (PromQL parser, Grafana SDK, JSON Schema); a service importing
the instrumentation needs ``instrumentation``. A command that lacks its extra stops before doing
anything, naming the install command (exit code 4, like a missing tool).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from obs.errors import ObsError


class MissingExtraError(ObsError):
    """A Python dependency of an optional extra is not installed."""


@dataclass(frozen=True, slots=True)
class Extra:
    name: str
    modules: tuple[str, ...]


BUILD = Extra("build", ("promql_parser", "grafana_foundation_sdk", "jsonschema", "kubernetes_validate"))
GRAFANALIB = Extra("grafanalib", ("grafanalib",))


def missing(extra: Extra) -> list[str]:
    """The modules of ``extra`` that cannot be imported here."""
    absent: list[str] = []
    for module in extra.modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            absent.append(module)
    return absent


def require(extra: Extra, what: str) -> None:
    """Raise :class:`MissingExtraError` when ``extra`` is not fully installed."""
    absent = missing(extra)
    if absent:
        raise MissingExtraError(
            f"{what} needs the {extra.name!r} extra ({', '.join(absent)} not installed): pip install 'obs[{extra.name}]'"
        )


__all__ = ["BUILD", "GRAFANALIB", "Extra", "MissingExtraError", "missing", "require"]
