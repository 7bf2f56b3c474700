"""The Prometheus a preview queries: ranges, instants and exemplars over its HTTP API."""

from __future__ import annotations

import json
import logging
import math
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from obs.errors import RenderError
from obs.preview.variables import Window

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Series:
    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]

    def last(self) -> float | None:
        for _, value in reversed(self.points):
            if not math.isnan(value):
                return value
        return None


@dataclass(frozen=True, slots=True)
class Exemplar:
    t: float
    value: float
    trace_id: str


class Prometheus:
    """The three read endpoints a preview needs, over plain HTTP."""

    def __init__(self, url: str, timeout: float = 15.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str, params: Mapping[str, str | float]) -> Any:
        query = urllib.parse.urlencode({k: str(v) for k, v in params.items()})
        request = urllib.request.Request(f"{self.url}{path}?{query}", headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            # Prometheus answers a bad query with 400 and a JSON error: that is the panel's problem.
            try:
                body = json.loads(exc.read())
            except ValueError:
                raise QueryError(f"HTTP {exc.code} from {path}") from None
        if body.get("status") != "success":
            raise QueryError(str(body.get("error") or body))
        return body["data"]

    def check(self) -> None:
        try:
            self._get("/api/v1/status/buildinfo", {})
        except (OSError, QueryError) as exc:
            raise RenderError(f"preview: cannot reach Prometheus at {self.url}: {exc}") from None

    def query_range(self, expr: str, window: Window) -> list[Series]:
        data = self._get(
            "/api/v1/query_range",
            {"query": expr, "start": window.start, "end": window.end, "step": window.step},
        )
        return [
            Series(r.get("metric", {}), tuple((float(t), _float(v)) for t, v in r.get("values", [])))
            for r in data.get("result", [])
        ]

    def query(self, expr: str, at: float) -> list[Series]:
        data = self._get("/api/v1/query", {"query": expr, "time": at})
        if data.get("resultType") == "scalar":
            t, v = data["result"]
            return [Series({}, ((float(t), _float(v)),))]
        return [
            Series(r.get("metric", {}), ((float(r["value"][0]), _float(r["value"][1])),))
            for r in data.get("result", [])
        ]

    def exemplars(self, expr: str, window: Window) -> list[Exemplar]:
        try:
            data = self._get(
                "/api/v1/query_exemplars", {"query": expr, "start": window.start, "end": window.end}
            )
        except QueryError:
            return []  # exemplar storage is optional in Prometheus: no dots rather than no panel
        found: list[Exemplar] = []
        for group in data or []:
            for ex in group.get("exemplars") or []:
                trace_id = (ex.get("labels") or {}).get("trace_id")
                if trace_id:
                    found.append(Exemplar(float(ex["timestamp"]), _float(ex["value"]), trace_id))
        return found


class QueryError(Exception):
    """Prometheus refused a query; shown in the panel, never fatal to the preview."""


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


__all__ = ["Exemplar", "Prometheus", "QueryError", "Series"]
