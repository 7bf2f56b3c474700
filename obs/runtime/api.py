"""A small typed HTTP client (urllib) for what the demo and the end-to-end tests read from the servers.

- :class:`PrometheusAPI`: ``/-/ready``, targets, rules, alerts, instant/range queries, exemplars, ``/-/reload``;
- :class:`AlertmanagerAPI`: ``/api/v2/alerts`` (active, inhibited, silenced) and ``/api/v2/status``;
- :class:`VictoriaMetricsAPI`: ``/health``, PromQL queries, the ``remote_write`` URL, imports and a flush;
- :class:`VmalertAPI`: ``/health``, ``/api/v1/rules`` and ``/api/v1/alerts`` (Prometheus' shapes).

Every failure is an :class:`ApiError` whose one-line message has the method, the URL and what the
server said.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from obs.errors import ObsError
from obs.runtime.api_values import (
    Alert,
    AmAlert,
    AmStatus,
    Exemplar,
    ExemplarSeries,
    Rule,
    RuleGroup,
    Sample,
    Series,
    Target,
)


class ApiError(ObsError):
    """A request failed: cannot connect, HTTP error, or an answer that is not what the API documents."""


# -- transport ------------------------------------------------------------------------------------


class _Client:
    def __init__(self, base_url: str, *, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _url(self, path: str, params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None) -> str:
        query = f"?{urlencode(params, doseq=True)}" if params else ""
        return f"{self.base_url}{path}{query}"

    def _send(self, method: str, path: str, params: Any = None, body: bytes | None = None, content_type: str = "") -> tuple[int, bytes]:
        url = self._url(path, params)
        request = urllib.request.Request(url, data=body, method=method)
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return int(response.status), response.read()
        except urllib.error.HTTPError as exc:
            raise ApiError(f"{method} {url}: HTTP {exc.code}: {_error_text(exc.read())}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiError(f"{method} {url}: cannot connect: {reason}") from None

    def _json(self, method: str, path: str, params: Any = None, body: bytes | None = None, content_type: str = "") -> Any:
        _, raw = self._send(method, path, params, body, content_type)
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(f"{method} {self._url(path, params)}: not JSON: {raw[:200]!r}") from None

    def _data(self, path: str, params: Any = None, method: str = "GET", body: bytes | None = None, content_type: str = "") -> Any:
        """The ``data`` of a Prometheus-style ``{"status": "success", "data": ...}`` answer."""
        answer = self._json(method, path, params, body, content_type)
        if not isinstance(answer, dict) or answer.get("status") != "success":
            raise ApiError(f"{method} {self._url(path, params)}: {_error_text(json.dumps(answer).encode())}")
        return answer.get("data")

    def _ok(self, path: str) -> bool:
        try:
            status, _ = self._send("GET", path)
        except ApiError:
            return False
        return 200 <= status < 300


def _error_text(raw: bytes) -> str:
    text = raw.decode(errors="replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        return " ".join(text.split())[:300] or "(empty body)"
    if isinstance(parsed, dict) and "error" in parsed:
        kind = parsed.get("errorType")
        return f"{kind}: {parsed['error']}" if kind else str(parsed["error"])
    return " ".join(text.split())[:300]


# -- parsing --------------------------------------------------------------------------------------


def _labels(raw: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (raw or {}).items()}


def _samples(data: Any) -> list[Sample]:
    kind, result = data.get("resultType"), data.get("result")
    if kind == "vector":
        return [Sample(_labels(r.get("metric")), float(r["value"][0]), float(r["value"][1])) for r in result]
    if kind == "scalar":
        return [Sample({}, float(result[0]), float(result[1]))]
    if kind == "matrix":
        return [Sample(_labels(r.get("metric")), float(t), float(v)) for r in result for t, v in r.get("values", [])]
    raise ApiError(f"unexpected query result type {kind!r}")


def _series(data: Any) -> list[Series]:
    return [
        Series(_labels(r.get("metric")), tuple((float(t), float(v)) for t, v in r.get("values", [])))
        for r in data.get("result", [])
    ]


def _alert(raw: Mapping[str, Any]) -> Alert:
    return Alert(
        _labels(raw.get("labels")), _labels(raw.get("annotations")), str(raw.get("state", "")),
        str(raw.get("activeAt") or ""), str(raw.get("value", "")),
    )  # fmt: skip


def _rule(raw: Mapping[str, Any]) -> Rule:
    return Rule(
        name=str(raw.get("name", "")), kind=str(raw.get("type", "")), query=str(raw.get("query", "")),
        health=str(raw.get("health", "")), last_error=str(raw.get("lastError") or ""), state=str(raw.get("state") or ""),
        for_seconds=float(raw.get("duration") or 0), labels=_labels(raw.get("labels")),
        annotations=_labels(raw.get("annotations")), alerts=tuple(_alert(a) for a in raw.get("alerts") or ()),
    )  # fmt: skip


def _rule_groups(data: Any) -> list[RuleGroup]:
    return [
        RuleGroup(str(g.get("name", "")), str(g.get("file", "")), float(g.get("interval") or 0), tuple(_rule(r) for r in g.get("rules") or ()))
        for g in data.get("groups") or ()
    ]


# -- clients --------------------------------------------------------------------------------------


class _PromQL(_Client):
    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        """Instant query: one sample per series (a scalar comes back as one sample without labels)."""
        params = {"query": expr, **({"time": f"{at:.3f}"} if at is not None else {})}
        return _samples(self._data("/api/v1/query", params))

    def value(self, expr: str) -> float | None:
        """The value of a query expected to return at most one sample; ``None`` when it returns none."""
        samples = self.query(expr)
        if len(samples) > 1:
            raise ApiError(f"{expr!r} returned {len(samples)} series where one was expected: {[dict(s.labels) for s in samples[:5]]}")
        return samples[0].value if samples else None

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[Series]:
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        return _series(self._data("/api/v1/query_range", params))


class PrometheusAPI(_PromQL):
    """Prometheus' HTTP API at ``base_url`` (e.g. ``http://127.0.0.1:9090``)."""

    def ready(self) -> bool:
        return self._ok("/-/ready")

    def targets(self, state: str = "active") -> list[Target]:
        data = self._data("/api/v1/targets", {"state": state})
        return [
            Target(
                job=str(t.get("labels", {}).get("job", "")), instance=str(t.get("labels", {}).get("instance", "")),
                health=str(t.get("health", "")), scrape_url=str(t.get("scrapeUrl", "")),
                last_error=str(t.get("lastError") or ""), labels=_labels(t.get("labels")), scrape_pool=str(t.get("scrapePool", "")),
            )
            for t in data.get("activeTargets") or ()
        ]

    def rules(self, kind: str | None = None) -> list[RuleGroup]:
        """Rule groups; ``kind`` ``"alert"`` or ``"record"`` filters them."""
        return _rule_groups(self._data("/api/v1/rules", {"type": kind} if kind else None))

    def alerts(self) -> list[Alert]:
        return [_alert(a) for a in self._data("/api/v1/alerts").get("alerts") or ()]

    def query_exemplars(self, expr: str, start: float, end: float) -> list[ExemplarSeries]:
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}"}
        return [
            ExemplarSeries(
                _labels(s.get("seriesLabels")),
                tuple(Exemplar(_labels(e.get("labels")), float(e["value"]), float(e["timestamp"])) for e in s.get("exemplars") or ()),
            )
            for s in self._data("/api/v1/query_exemplars", params) or ()
        ]

    def config_yaml(self) -> str:
        """The configuration Prometheus runs now, as it prints it (defaults filled in)."""
        return str(self._data("/api/v1/status/config").get("yaml", ""))

    def reload(self) -> None:
        """Reload configuration and rules (needs ``--web.enable-lifecycle``); raises if Prometheus refuses."""
        self._send("POST", "/-/reload")


class AlertmanagerAPI(_Client):
    """Alertmanager's v2 API at ``base_url`` (e.g. ``http://127.0.0.1:9093``)."""

    def ready(self) -> bool:
        return self._ok("/-/ready")

    def alerts(
        self, *, active: bool = True, silenced: bool = True, inhibited: bool = True, unprocessed: bool = True,
        receiver: str | None = None, matchers: Sequence[str] = (),
    ) -> list[AmAlert]:  # fmt: skip
        """Alerts Alertmanager holds; by default every state, so inhibited ones can be asserted on.

        ``receiver`` is a regular expression on receiver names; ``matchers`` are label matchers
        such as ``'alertname="HighErrorRate"'``.
        """
        params: list[tuple[str, Any]] = [
            ("active", str(active).lower()), ("silenced", str(silenced).lower()),
            ("inhibited", str(inhibited).lower()), ("unprocessed", str(unprocessed).lower()),
            *(("filter", m) for m in matchers), *((("receiver", receiver),) if receiver else ()),
        ]  # fmt: skip
        answer = self._json("GET", "/api/v2/alerts", params)
        return [
            AmAlert(
                labels=_labels(a.get("labels")), annotations=_labels(a.get("annotations")),
                state=str(a.get("status", {}).get("state", "")),
                inhibited_by=tuple(a.get("status", {}).get("inhibitedBy") or ()),
                silenced_by=tuple(a.get("status", {}).get("silencedBy") or ()),
                receivers=tuple(str(r.get("name", "")) for r in a.get("receivers") or ()),
                fingerprint=str(a.get("fingerprint", "")), starts_at=str(a.get("startsAt", "")),
                ends_at=str(a.get("endsAt", "")), generator_url=str(a.get("generatorURL", "")),
            )
            for a in answer
        ]

    def status(self) -> AmStatus:
        s = self._json("GET", "/api/v2/status")
        return AmStatus(
            version=str(s.get("versionInfo", {}).get("version", "")), uptime=str(s.get("uptime", "")),
            cluster_status=str(s.get("cluster", {}).get("status", "")), config_yaml=str(s.get("config", {}).get("original", "")),
        )  # fmt: skip


class VictoriaMetricsAPI(_PromQL):
    """Single-node VictoriaMetrics at ``base_url`` (e.g. ``http://127.0.0.1:8428``): PromQL plus ingestion."""

    def healthy(self) -> bool:
        return self._ok("/health")

    @property
    def write_url(self) -> str:
        """Where Prometheus' ``remote_write`` sends samples."""
        return f"{self.base_url}/api/v1/write"

    def import_prometheus(self, exposition: str) -> None:
        """Ingest samples in the text exposition format (``name{labels} value [timestamp_ms]`` lines)."""
        self._send("POST", "/api/v1/import/prometheus", body=exposition.encode(), content_type="text/plain")

    def force_flush(self) -> None:
        """Make recently ingested samples searchable now; a new series is otherwise seen after ~10 s."""
        self._send("GET", "/internal/force_flush")


class VmalertAPI(_Client):
    """vmalert at ``base_url``: its rule groups and alerts, in Prometheus' API shapes."""

    def healthy(self) -> bool:
        return self._ok("/health")

    def rules(self) -> list[RuleGroup]:
        return _rule_groups(self._data("/api/v1/rules"))

    def alerts(self) -> list[Alert]:
        return [_alert(a) for a in self._data("/api/v1/alerts").get("alerts") or ()]


__all__ = [
    "Alert",
    "AlertmanagerAPI",
    "AmAlert",
    "AmStatus",
    "ApiError",
    "Exemplar",
    "ExemplarSeries",
    "PrometheusAPI",
    "Rule",
    "RuleGroup",
    "Sample",
    "Series",
    "Target",
    "VictoriaMetricsAPI",
    "VmalertAPI",
]
