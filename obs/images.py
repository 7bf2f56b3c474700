"""The container images the generated stack runs (Compose and Kubernetes), each pinned to a version.

Prometheus, Alertmanager and the blackbox exporter are the images ``obs check`` runs promtool,
amtool and ``--config.check`` from (:data:`obs.tools.TOOLS`), so what was checked is what runs.
"""

from __future__ import annotations

from collections.abc import Mapping

from obs.tools import TOOLS

#: Elasticsearch, Logstash and Kibana must share one version.
ELASTIC_VERSION = "8.17.4"
IMAGES: Mapping[str, str] = {
    "prometheus": TOOLS["promtool"].image,
    "alertmanager": TOOLS["amtool"].image,
    "blackbox-exporter": TOOLS["blackbox_exporter"].image,
    "grafana": "grafana/grafana:11.6.0",
    "jaeger": "jaegertracing/jaeger:2.5.0",
    "otel-collector": "otel/opentelemetry-collector-contrib:0.123.0",
    "elasticsearch": f"docker.elastic.co/elasticsearch/elasticsearch:{ELASTIC_VERSION}",
    "logstash": f"docker.elastic.co/logstash/logstash:{ELASTIC_VERSION}",
    "kibana": f"docker.elastic.co/kibana/kibana:{ELASTIC_VERSION}",
    # fluent-plugin-elasticsearch (output and elasticsearch_genid) is in this image, not in fluent/fluentd.
    "fluentd": "fluent/fluentd-kubernetes-daemonset:v1.17.1-debian-elasticsearch8-1.0",
    "postgres-exporter": "quay.io/prometheuscommunity/postgres-exporter:v0.15.0",
    "redis-exporter": "oliver006/redis_exporter:v1.62.0",
    "node-exporter": "quay.io/prometheus/node-exporter:v1.8.2",
    "setup": "curlimages/curl:8.11.1",
}


__all__ = ["ELASTIC_VERSION", "IMAGES"]
