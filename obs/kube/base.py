"""What every builder of :mod:`obs.kube.objects` shares: labels, metadata, Secret references."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

Labels = Mapping[str, str]
NO_LABELS: Labels = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class SecretKey:
    """One key of a Secret in the object's namespace: what is referenced, never the value."""

    name: str
    key: str

    def selector(self) -> dict[str, str]:
        return {"name": self.name, "key": self.key}


def object_meta(name: str, namespace: str | None = None, labels: Labels = NO_LABELS, annotations: Labels = NO_LABELS) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = dict(labels)
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def camel(snake: str) -> str:
    """``api_url`` -> ``apiURL``, ``group_by`` -> ``groupBy``: the operator's field names."""
    first, *rest = snake.split("_")
    return first + "".join(part.upper() if part in ("url", "tls") else part.capitalize() for part in rest)


def copy_data(value: Any) -> Any:
    """A deep copy of plain data, so a built object shares nothing with its input."""
    if isinstance(value, Mapping):
        return {k: copy_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [copy_data(v) for v in value]
    return value


__all__ = ["NO_LABELS", "Labels", "SecretKey", "camel", "copy_data", "object_meta"]
