"""Redaction for traces and logs: the contract's rules, with a cheap pre-check.

``obs.contract.redact`` applies every rule in turn. Most strings the hot path sees (paths such as
``/api/courses/42``) match none, so a single alternation of the same patterns is searched first and
the full rule chain runs only when it hits: the output is exactly ``redact``'s, for a fraction of
the cost on clean strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from obs.contract import (
    REDACTED,
    REDACTION_RULES,
    SENSITIVE_ATTRIBUTE_KEYS,
    SENSITIVE_HEADERS,
    redact,
    strip_query,
)


def _scoped(pattern: str) -> str:
    # A leading global flag such as ``(?i)`` is illegal inside an alternation; scope it instead.
    m = re.match(r"\(\?([aiLmsux]+)\)", pattern)
    if m:
        return f"(?{m.group(1)}:{pattern[m.end():]})"
    return f"(?:{pattern})"


def _any_rule() -> re.Pattern[str] | None:
    try:
        return re.compile("|".join(_scoped(r.pattern) for r in REDACTION_RULES))
    except re.error:  # a future rule this rewrite cannot scope: fall back to always redacting
        return None


_ANY = _any_rule()


def redact_text(text: str) -> str:
    """``obs.contract.redact(text)``, skipped when no rule can match."""
    if _ANY is not None and _ANY.search(text) is None:
        return text
    return redact(text)


def redact_path(target: str) -> str:
    """A request target as it may be recorded: no query string or fragment, personal data redacted."""
    return redact_text(strip_query(target))


def redact_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """Span/log attributes with sensitive keys' values replaced and string values redacted."""
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        low = key.lower()
        if low in SENSITIVE_ATTRIBUTE_KEYS or _is_sensitive_header_key(low):
            out[key] = REDACTED
        elif isinstance(value, str):
            out[key] = redact_text(value)
        elif isinstance(value, (list, tuple)) and any(isinstance(v, str) for v in value):
            out[key] = [redact_text(v) if isinstance(v, str) else v for v in value]
        else:
            out[key] = value
    return out


def _is_sensitive_header_key(key: str) -> bool:
    for prefix in ("http.request.header.", "http.response.header."):
        if key.startswith(prefix):
            return key[len(prefix):].replace("_", "-") in SENSITIVE_HEADERS
    return False


__all__ = ["redact_attributes", "redact_path", "redact_text"]
