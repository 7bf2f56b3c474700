"""The rendered Alertmanager configuration, made to deliver to a local sink in seconds."""

from __future__ import annotations

from typing import Any

from obs.runtime import WebhookSink


def to_sink(config: dict[str, Any], sink: WebhookSink) -> dict[str, Any]:
    """The rendered configuration with every integration a webhook to ``sink`` under the
    receiver's name, and timings in seconds."""
    config = dict(config)
    config["receivers"] = [
        {"name": r["name"], **({"webhook_configs": [{"url": sink.url_for(r["name"]), "send_resolved": True}]} if len(r) > 1 else {})}
        for r in config["receivers"]
    ]
    config["global"] = {"resolve_timeout": "5m"}
    route = dict(config["route"], group_wait="0s", group_interval="1s", repeat_interval="1h")
    route["routes"] = [{**r, **({"repeat_interval": "1h"} if "repeat_interval" in r else {})} for r in route.get("routes", [])]
    config["route"] = route
    return config
