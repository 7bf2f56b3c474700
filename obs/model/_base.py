"""Validation helpers and value conventions shared by the model's dataclasses.

Every check raises :class:`~obs.errors.ModelError` with the path of the field, the problem and the
fix. Durations are Prometheus-style with one unit (``5m``, ``30d``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from dataclasses import field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from obs.errors import ModelError

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_ROUTE = re.compile(r"^/\S*$")
_URL = re.compile(r"^https?://\S+$")

#: Where Alertmanager's secrets are mounted when the model names no folder for them.
DEFAULT_SECRETS_DIR = "/etc/alertmanager/secrets"
#: The audit trail and ticket bot every alert is also sent to, when the platform names no other.
DEFAULT_ALERT_WEBHOOK_URL = "http://alert-log:9095/alerts"
#: The team that owns shared infrastructure jobs (node, blackbox probes, Prometheus, Alertmanager).
DEFAULT_INFRA_TEAM = "platform"


def doc(text: str, **kwargs: Any) -> Any:
    """A dataclass field with a description for the JSON Schema."""
    return field(metadata={"doc": text}, **kwargs)


def _freeze_map(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


def _check_name(value: str, path: str, what: str) -> None:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ModelError(
            path,
            f"{value!r} is not a valid {what} name",
            "use lower-case letters, digits and '-', starting with a letter, at most 40 characters, e.g. 'backend'",
        )


def _check_unique(names: list[str], path: str, what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ModelError(
                f"{path}[{name}]", f"duplicate {what} name {name!r}", f"give each {what} a unique name"
            )
        seen.add(name)


def _check_url(value: str, path: str, example: str) -> None:
    if not isinstance(value, str) or not _URL.match(value):
        raise ModelError(path, f"{value!r} is not an http(s) URL", f"e.g. {example!r}")


def _check_endpoint(value: str, path: str, example: str) -> None:
    """A gRPC endpoint given as an http(s) URL with a port and nothing after it."""
    parts = urlsplit(value) if isinstance(value, str) else None
    try:
        port = parts.port if parts is not None else None
    except ValueError:
        port = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or port is None
        or parts.path not in ("", "/")
        or parts.query
        or parts.username is not None
    ):
        raise ModelError(
            path, f"{value!r} is not http(s)://host:port (the scheme says whether it is TLS)", f"e.g. {example!r}"
        )


def _check_file(value: str, path: str, example: str) -> None:
    if not isinstance(value, str) or not value.startswith("/"):
        raise ModelError(path, f"{value!r} is not an absolute path", f"e.g. {example!r}")


def _reference_fix(value: str, known: Collection[str], add: str) -> str:
    """The fix for a name that refers to nothing: the close match if there is one, else the choices."""
    close = difflib.get_close_matches(value, sorted(known), n=1) if isinstance(value, str) else []
    if close:
        return f"did you mean {close[0]!r}?"
    return f"{add} or use one of {', '.join(sorted(known))}"


# --- durations ----------------------------------------------------------------------------------

_DURATION = re.compile(r"^(\d+)(s|m|h|d|w)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str, path: str = "") -> int:
    """Seconds in a Prometheus-style duration with one unit (``5m``, ``30d``)."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match:
        raise ModelError(
            path, f"{value!r} is not a duration", "write a number and one unit of s, m, h, d, w, e.g. '30d'"
        )
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def format_duration(seconds: int) -> str:
    """The shortest exact Prometheus duration for ``seconds`` (``3600`` → ``1h``)."""
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0 and seconds >= _UNIT_SECONDS[unit]:
            if unit == "w" and seconds % _UNIT_SECONDS["d"] == 0:
                # Days read better than weeks in SLO windows (28d rather than 4w).
                return f"{seconds // _UNIT_SECONDS['d']}d"
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


