"""Validation helpers and value conventions shared by the model's dataclasses.

Every check raises :class:`~obs.errors.ModelError` with the path of the field, the problem and the
fix. Durations are Prometheus-style with one unit (``5m``, ``30d``).
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import field
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from obs.errors import ModelError, collect

# Patterns are matched whole (fullmatch) and ASCII-only: a trailing newline or a non-ASCII digit
# is not a name, a port or a duration.
_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}", re.ASCII)
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*", re.ASCII)
_LABEL_VALUE = re.compile(r"[A-Za-z0-9._/-]{1,63}", re.ASCII)
_ROUTE = re.compile(r"/[!-~]*", re.ASCII)
_HOST_PORT = re.compile(r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):(?P<port>[0-9]{1,5})", re.ASCII)
_SAFE_TEXT = re.compile(r"[^\x00-\x1f\x7f]*")

#: Where Alertmanager's secrets are mounted when the model names no folder for them.
DEFAULT_SECRETS_DIR = "/etc/alertmanager/secrets"
#: The audit trail and ticket bot every alert is also sent to, when the platform names no other.
DEFAULT_ALERT_WEBHOOK_URL = "http://alert-log:9095/alerts"
#: The team that owns shared infrastructure jobs (node, blackbox probes, Prometheus, Alertmanager).
DEFAULT_INFRA_TEAM = "platform"
#: Names obs gives its own scrape jobs and stack components: a service or dependency of the same
#: name would share their job label (promtool rejects the duplicate job) or their container.
RESERVED_NAMES = frozenset(
    {
        "node",
        "node-exporter",
        "prometheus",
        "alertmanager",
        "blackbox",
        "blackbox-http",
        "blackbox-exporter",
        "grafana",
        "jaeger",
        "otel-collector",
        "elasticsearch",
        "elasticsearch-setup",
        "kibana",
        "logstash",
        "fluentd",
        "alert-log",
    }
)


def doc(
    text: str,
    *,
    schema: Mapping[str, Any] | None = None,
    key: str = "",
    check: Callable[[Any, str], None] | None = None,
    **kwargs: Any,
) -> Any:
    """A dataclass field with a description for the JSON Schema; ``schema`` adds constraints the
    schema states (a pattern, a range), ``key`` the name in YAML where it differs, and ``check(value,
    path)`` a check the loader runs on the field alone, so its problem is reported even when
    another field of the same object is wrong too (the object's own checks run it as well)."""
    metadata: dict[str, Any] = {"doc": text}
    if schema:
        metadata["schema"] = dict(schema)
    if key:
        metadata["key"] = key
    if check is not None:
        metadata["check"] = check
    return field(metadata=metadata, **kwargs)


def name_check(what: str) -> Callable[[Any, str], None]:
    """The field check of a name (``check=name_check("service")``)."""

    def check(value: Any, path: str) -> None:
        _check_name(value, path, what)

    return check


#: JSON Schema fragments shared by the fields that carry the same kind of value.
NAME_SCHEMA: Mapping[str, Any] = {"pattern": r"^[a-z][a-z0-9-]{0,39}$"}
DURATION_SCHEMA: Mapping[str, Any] = {"pattern": r"^[0-9]+[smhdw]$"}
POSITIVE_DURATION_SCHEMA: Mapping[str, Any] = {"pattern": r"^(?!0+[smhdw]$)[0-9]+[smhdw]$"}
URL_SCHEMA: Mapping[str, Any] = {"pattern": r"^https?://[^\s@/]+(/[^\s]*)?$"}
HOST_PORT_SCHEMA: Mapping[str, Any] = {"pattern": r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?:[0-9]{1,5}$"}
FILE_SCHEMA: Mapping[str, Any] = {"pattern": r"^/[^\x00-\x1f]*$"}
RATIO_SCHEMA: Mapping[str, Any] = {"minimum": 0, "maximum": 1}
PORT_SCHEMA: Mapping[str, Any] = {"minimum": 1, "maximum": 65535}


class Problems:
    """Collects every problem of one object, so a definition reports all its mistakes at once."""

    def __init__(self) -> None:
        self.errors: list[ModelError] = []

    def add(self, path: str, problem: str, fix: str = "") -> None:
        self.errors.append(ModelError(path, problem, fix))

    def check(self, check: Callable[..., Any], *args: Any) -> bool:
        """Run a check that raises :class:`ModelError`; keep its error and say whether it passed."""
        try:
            check(*args)
        except ModelError as err:
            self.errors.append(err)
            return False
        return True

    def done(self) -> None:
        collect(self.errors)


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.:/@#-]{1,64}", re.ASCII)


def key_of(value: Any) -> str:
    """How a name shows inside a path (``services[backend]``): as it is when it is plain, quoted
    (and cut) when it holds anything that could break the line or the path."""
    if isinstance(value, str) and _PLAIN_KEY.fullmatch(value):
        return value
    return repr(value)[:66]


def _freeze_map(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


def _check_name(value: str, path: str, what: str) -> None:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
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
                f"{path}[{key_of(name)}]", f"duplicate {what} name {name!r}", f"give each {what} a unique name"
            )
        seen.add(name)


def _check_number(value: Any, path: str, low: float, high: float, example: str, *, open_low: bool = False, open_high: bool = False) -> None:
    """A finite number within [low, high] (ends open where asked)."""
    ok = (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and (value > low if open_low else value >= low)
        and (value < high if open_high else value <= high)
    )
    if not ok:
        left, right = "(" if open_low else "[", ")" if open_high else "]"
        raise ModelError(path, f"{value!r} must be a number in {left}{low:g}, {high:g}{right}", f"e.g. {example}")


def _check_text(value: Any, path: str) -> None:
    """Free text that ends up in YAML, JSON and templates: one line, no control characters."""
    if not isinstance(value, str) or not _SAFE_TEXT.fullmatch(value):
        raise ModelError(path, f"{value!r} holds a line break or a control character", "write one line of plain text")


def _check_url(value: str, path: str, example: str, credentials_fix: str = "") -> None:
    """An http(s) URL with a host, no spaces or control characters, and no credentials in it: a
    password in a URL would be copied into every file that names it."""
    parts = urlsplit(value) if isinstance(value, str) and value.isascii() else None
    try:
        port = parts.port if parts is not None else None
    except ValueError:
        parts = None
        port = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c.isspace() or ord(c) < 32 or c in "'\"\\`<>{}" for c in value)
        or (port is not None and not 0 < port < 65536)
    ):
        raise ModelError(path, f"{value!r} is not an http(s) URL", f"e.g. {example!r}")
    if parts.username is not None or parts.password is not None:
        raise ModelError(
            path,
            "holds credentials, which would be copied in clear into every file that names the URL",
            credentials_fix or "give the URL without user:password@ and the credentials by file",
        )


def _check_endpoint(value: str, path: str, example: str) -> None:
    """A gRPC endpoint given as an http(s) URL with a port and nothing after it."""
    problem = ModelError(path, f"{value!r} is not http(s)://host:port (the scheme says whether it is TLS)", f"e.g. {example!r}")
    try:
        _check_url(value, path, example)
    except ModelError:
        raise problem from None
    parts = urlsplit(value)
    if parts.port is None or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise problem


def _check_host_port(value: str, path: str, example: str) -> None:
    match = _HOST_PORT.fullmatch(value) if isinstance(value, str) else None
    if match is None or not 0 < int(match.group("port")) < 65536:
        raise ModelError(path, f"{value!r} is not host:port", f"e.g. {example!r}")


def _check_file(value: str, path: str, example: str) -> None:
    if not isinstance(value, str) or not value.startswith("/"):
        raise ModelError(path, f"{value!r} is not an absolute path", f"e.g. {example!r}")
    if not _SAFE_TEXT.fullmatch(value) or any(c in value for c in "'\"`$\\"):
        raise ModelError(path, f"{value!r} holds a quote, '$', a backslash or a control character", f"e.g. {example!r}")


def _reference_fix(value: str, known: Collection[str], add: str) -> str:
    """The fix for a name that refers to nothing: the close match if there is one, else the choices."""
    close = difflib.get_close_matches(value, sorted(known), n=1) if isinstance(value, str) else []
    if close:
        return f"did you mean {close[0]!r}?"
    return f"{add} or use one of {', '.join(sorted(known))}"


# --- durations ----------------------------------------------------------------------------------

_DURATION = re.compile(r"([0-9]{1,9})(s|m|h|d|w)", re.ASCII)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str, path: str = "", *, positive: bool = False) -> int:
    """Seconds in a Prometheus-style duration with one unit (``5m``, ``30d``); ``positive``
    refuses zero (an interval of 0s, which Prometheus would silently replace)."""
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise ModelError(
            path, f"{value!r} is not a duration", "write a number and one unit of s, m, h, d, w, e.g. '30d'"
        )
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if positive and seconds == 0:
        raise ModelError(path, f"{value!r} is zero", "write a positive duration, e.g. '30s'")
    return seconds


def format_duration(seconds: int) -> str:
    """The shortest exact Prometheus duration for ``seconds`` (``3600`` → ``1h``)."""
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0 and seconds >= _UNIT_SECONDS[unit]:
            if unit == "w" and seconds % _UNIT_SECONDS["d"] == 0:
                # Days read better than weeks in SLO windows (28d rather than 4w).
                return f"{seconds // _UNIT_SECONDS['d']}d"
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


