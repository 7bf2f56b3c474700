"""Grafana reads an environment with a metrics store from the store, scoped to the environment."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from obs.checks.grafana import _check_datasources
from obs.grafana import provisioning
from obs.model import Environment
from tests.scaleout.platforms import MIMIR, THANOS, VM, shop


def _datasources(platform: Any, env: str = "prod") -> dict[str, dict[str, Any]]:
    environment = platform.environment(env)
    data = provisioning.datasources(platform.in_environment(environment), environment)
    assert _check_datasources(data) == []  # the provisioning check obs check runs
    return {d["uid"]: d for d in data["datasources"]}


def test_without_a_store_the_environment_reads_its_prometheus() -> None:
    prod = _datasources(shop())["prometheus-prod"]
    assert prod["url"] == "$OBS_PROMETHEUS_URL_PROD" and prod["isDefault"] is True
    assert "prometheus-prod-local" not in _datasources(shop())


@pytest.mark.parametrize(
    ("store", "json_data", "secure", "auth"),
    [
        # VictoriaMetrics enforces extra_label on every selector: the environment's series only.
        (VM, {"customQueryParameters": "extra_label=environment%3Dprod", "prometheusType": "Prometheus"}, None, {}),
        (MIMIR, {"httpHeaderName1": "X-Scope-OrgID", "prometheusType": "Mimir"},
         {"httpHeaderValue1": "$OBS_METRICS_STORE_TENANT_PROD", "basicAuthPassword": "$OBS_METRICS_STORE_PASSWORD_PROD"},
         {"basicAuth": True, "basicAuthUser": "shop"}),
        (THANOS, {"httpHeaderName1": "THANOS-TENANT", "httpHeaderName2": "Authorization", "prometheusType": "Thanos"},
         {"httpHeaderValue1": "$OBS_METRICS_STORE_TENANT_PROD", "httpHeaderValue2": "$OBS_METRICS_STORE_AUTHORIZATION_PROD"}, {}),
    ],
)  # fmt: skip
def test_the_store_is_the_environments_datasource(store: Any, json_data: dict[str, Any], secure: Any, auth: dict[str, Any]) -> None:
    sources = _datasources(shop(store))
    prod = sources["prometheus-prod"]  # the uid every dashboard defaults to
    assert prod["url"] == store.query_url and prod["isDefault"] is True
    assert json_data.items() <= prod["jsonData"].items()
    assert prod.get("secureJsonData") == secure
    assert auth.items() <= prod.items()
    # The local Prometheus stays reachable for recent samples and the local rules.
    local = sources["prometheus-prod-local"]
    assert local["url"] == "$OBS_PROMETHEUS_URL_PROD" and local["isDefault"] is False


def test_an_agent_has_no_datasource_of_its_own() -> None:
    sources = _datasources(shop(VM, agent=True))
    assert sources["prometheus-prod"]["url"] == VM.query_url
    assert "prometheus-prod-local" not in sources


def test_other_environments_are_listed_with_their_own_store() -> None:
    platform = shop(VM)  # prod has the store, dev none
    sources = _datasources(platform, "dev")
    assert sources["prometheus-prod"]["url"] == VM.query_url and sources["prometheus-prod"]["isDefault"] is False
    assert sources["prometheus-dev"]["url"] == "$OBS_PROMETHEUS_URL_DEV"
    # A platform-wide store reaches every environment, each scoped to itself.
    everywhere = dataclasses.replace(platform, metrics_store=MIMIR, environments=(Environment("prod"), Environment("dev")))
    dev = _datasources(everywhere, "dev")
    assert {dev[uid]["url"] for uid in ("prometheus-prod", "prometheus-dev")} == {MIMIR.query_url}
    assert dev["prometheus-prod"]["secureJsonData"]["httpHeaderValue1"] == "$OBS_METRICS_STORE_TENANT_PROD"
