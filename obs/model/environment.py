"""Environments: the deployments of a platform (dev, staging, prod), each with its own Prometheus."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from obs import contract
from obs.errors import ModelError
from obs.model._base import _LABEL_NAME, _check_name, _freeze_map, doc, parse_duration


@dataclass(frozen=True, slots=True)
class ComponentOverride:
    """Per-environment changes to one service or dependency."""

    targets: tuple[str, ...] = doc("host:port scrape targets replacing the default.", default=())
    probe_url: str = doc("Probe URL replacing the service's.", default="")
    sampling_ratio: float | None = doc("Default trace sampling ratio replacing the service's.", default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", tuple(self.targets))
        for target in self.targets:
            if not re.match(r"^[A-Za-z0-9.-]+:\d+$", target):
                raise ModelError("targets", f"{target!r} is not host:port", "e.g. 'backend-0.prod.svc:8000'")
        if self.sampling_ratio is not None and not 0 <= self.sampling_ratio <= 1:
            raise ModelError(
                "sampling_ratio", f"{self.sampling_ratio!r} must be between 0 and 1", "e.g. 0.05"
            )


@dataclass(frozen=True, slots=True)
class Environment:
    """A deployment of the platform (dev, staging, prod) with its own Prometheus."""

    name: str = doc("Name, e.g. 'prod'; becomes the 'environment' external label.")
    external_labels: Mapping[str, str] = doc(
        "Extra Prometheus external labels (e.g. region).", default_factory=dict
    )
    overrides: Mapping[str, ComponentOverride] = doc(
        "Component name → per-environment override.", default_factory=dict
    )
    paging: bool = doc(
        "Whether page-severity alerts page here (false in dev: they go to chat).", default=True
    )
    scrape_interval: str = doc("Prometheus scrape and rule evaluation interval.", default="30s")
    prometheus_url: str = doc(
        "Base URL of this environment's Prometheus (Grafana datasource); empty: Grafana reads it from OBS_PROMETHEUS_URL_<ENV>.",
        default="",
    )
    log_retention_days: Mapping[str, int] = doc(
        "Log class → days, replacing the platform's retention.", default_factory=dict
    )

    def __post_init__(self) -> None:
        here = f"environments[{self.name}]"
        _check_name(self.name, f"{here}.name", "environment")
        object.__setattr__(self, "external_labels", _freeze_map(self.external_labels))
        object.__setattr__(self, "overrides", _freeze_map(self.overrides))
        object.__setattr__(self, "log_retention_days", _freeze_map(self.log_retention_days))
        for key in self.external_labels:
            if not _LABEL_NAME.match(key):
                raise ModelError(
                    f"{here}.external_labels[{key}]",
                    f"{key!r} is not a label name",
                    "use letters, digits and '_'",
                )
            if key == contract.ENVIRONMENT_LABEL:
                raise ModelError(
                    f"{here}.external_labels[{key}]",
                    "the environment label is set from the environment's name",
                    "remove it",
                )
        _check_retention(self.log_retention_days, f"{here}.log_retention_days")
        if self.prometheus_url and not re.match(r"^https?://\S+$", self.prometheus_url):
            raise ModelError(
                f"{here}.prometheus_url",
                f"{self.prometheus_url!r} is not an http(s) URL",
                "e.g. 'http://prometheus-prod:9090'",
            )
        if parse_duration(self.scrape_interval, f"{here}.scrape_interval") > 300:
            raise ModelError(
                f"{here}.scrape_interval",
                f"{self.scrape_interval} is too long for 5m rate windows",
                "use at most 5m; 15s-60s are usual",
            )

    @property
    def all_external_labels(self) -> Mapping[str, str]:
        return {contract.ENVIRONMENT_LABEL: self.name, **self.external_labels}


def _check_retention(retention: Mapping[str, int], path: str) -> None:
    for cls, days in retention.items():
        if cls not in contract.LOG_CLASSES:
            raise ModelError(
                f"{path}[{cls}]",
                f"{cls!r} is not a log class",
                f"use one of {', '.join(contract.LOG_CLASSES)}",
            )
        if not isinstance(days, int) or isinstance(days, bool) or days < 1:
            raise ModelError(f"{path}[{cls}]", f"{days!r} is not a number of days", "e.g. 30")


DEFAULT_LOG_RETENTION: Mapping[str, int] = MappingProxyType({"access": 14, "application": 30, "audit": 400})

