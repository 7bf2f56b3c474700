"""A horizontally scaled metrics store that Prometheus writes to and global rules run in:
Grafana Mimir, Thanos Receive, or a VictoriaMetrics cluster."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from obs.model._base import URL_SCHEMA, Problems, _check_file, _check_url, doc

StoreKind = Literal["mimir", "thanos", "victoriametrics"]
STORE_KINDS: tuple[str, ...] = ("mimir", "thanos", "victoriametrics")
#: The HTTP header that names the tenant, per kind (a VictoriaMetrics cluster takes it in the URL).
TENANT_HEADERS: Mapping[str, str] = MappingProxyType({"mimir": "X-Scope-OrgID", "thanos": "THANOS-TENANT"})
_TENANT = re.compile(r"[A-Za-z0-9!._*'()-]{1,150}", re.ASCII)
#: A VictoriaMetrics cluster tenant: accountID[:projectID], 32-bit unsigned numbers.
_VM_TENANT = re.compile(r"[0-9]{1,10}(?::[0-9]{1,10})?", re.ASCII)


@dataclass(frozen=True, slots=True)
class MetricsStore:
    """Where samples go with remote_write, and where Grafana and the global ruler read them."""

    kind: StoreKind = doc("mimir, thanos (Thanos Receive + Querier) or victoriametrics.")
    write_url: str = doc("remote_write endpoint, e.g. 'https://mimir.example.org/api/v1/push'.", schema=URL_SCHEMA)
    query_url: str = doc("Prometheus-compatible query endpoint (Grafana and the ruler read it), e.g. 'https://mimir.example.org/prometheus'.", schema=URL_SCHEMA)
    tenant: str = doc(
        "Tenant (Mimir X-Scope-OrgID, Thanos THANOS-TENANT header; VictoriaMetrics cluster accountID[:projectID], "
        "also in the URLs' /insert/<tenant>/ and /select/<tenant>/); empty: none.",
        default="",
    )
    bearer_token_file: str = doc("File holding a bearer token for the store; empty: none.", default="", schema={"pattern": r"^$|^/"})
    basic_auth_username: str = doc("User for basic auth (with basic_auth_password_file).", default="")
    basic_auth_password_file: str = doc("File holding the basic auth password.", default="", schema={"pattern": r"^$|^/"})
    agent_mode: bool = doc("Run Prometheus as an agent: scrape and forward only; every rule runs in the store's ruler.", default=False)

    def __post_init__(self) -> None:
        problems = Problems()
        if self.kind not in STORE_KINDS:
            problems.add("metrics_store.kind", f"{self.kind!r} is not a store kind", f"use one of {', '.join(STORE_KINDS)}")
        fix = "give credentials with bearer_token_file or basic_auth_username and basic_auth_password_file"
        problems.check(_check_url, self.write_url, "metrics_store.write_url", "https://mimir.example.org/api/v1/push", fix)
        problems.check(_check_url, self.query_url, "metrics_store.query_url", "https://mimir.example.org/prometheus", fix)
        if self.tenant and self.kind != "victoriametrics" and not _TENANT.fullmatch(self.tenant):
            problems.add("metrics_store.tenant", f"{self.tenant!r} is not a tenant id", "letters, digits and -_.!*'(), e.g. 'edu-prod'")
        for key in ("bearer_token_file", "basic_auth_password_file"):
            if getattr(self, key):
                problems.check(_check_file, getattr(self, key), f"metrics_store.{key}", "/etc/prometheus/secrets/store-token")
        if bool(self.basic_auth_username) != bool(self.basic_auth_password_file):
            problems.add("metrics_store.basic_auth_username", "basic auth needs both a user and a password file", "set both, or neither")
        if self.bearer_token_file and self.basic_auth_username:
            problems.add("metrics_store.bearer_token_file", "a store takes a bearer token or basic auth, not both", "keep one")
        if self.kind == "victoriametrics" and self.tenant and not _VM_TENANT.fullmatch(self.tenant):
            problems.add("metrics_store.tenant", f"{self.tenant!r} is not a VictoriaMetrics tenant", "accountID[:projectID], numbers, e.g. '42' or '42:7'")
        elif self.kind == "victoriametrics" and self.tenant:
            # A VictoriaMetrics cluster takes the tenant (accountID) in the path, not in a header.
            for key, part in (("write_url", "insert"), ("query_url", "select")):
                if isinstance(getattr(self, key), str) and f"/{part}/{self.tenant}/" not in getattr(self, key):
                    problems.add(
                        f"metrics_store.{key}",
                        f"a VictoriaMetrics cluster reads the tenant from the URL, and {getattr(self, key)!r} does not name tenant {self.tenant!r}",
                        f"use .../{part}/{self.tenant}/prometheus{'/api/v1/write' if part == 'insert' else ''}",
                    )
        problems.done()


__all__ = ["STORE_KINDS", "TENANT_HEADERS", "MetricsStore", "StoreKind"]

