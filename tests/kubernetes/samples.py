"""Valid Kubernetes objects of every kind obs writes, written by hand from the API reference, and a
way to break one field at a time."""

from __future__ import annotations

import copy
from typing import Any

DELETE = object()

NAMESPACE = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "toolboxai-production", "labels": {"app": "toolboxai", "environment": "production"}}}

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "postgres-exporter", "namespace": "toolboxai-production"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app.kubernetes.io/name": "postgres-exporter"}},
        "template": {
            "metadata": {"labels": {"app.kubernetes.io/name": "postgres-exporter"}},
            "spec": {
                "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [
                    {
                        "name": "postgres-exporter",
                        "image": "quay.io/prometheuscommunity/postgres-exporter:v0.15.0",
                        "ports": [{"name": "metrics", "containerPort": 9187}],
                        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
                        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
                    }
                ],
            },
        },
    },
}

SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "postgres-exporter", "namespace": "toolboxai-production", "labels": {"app.kubernetes.io/name": "postgres-exporter"}},
    "spec": {"selector": {"app.kubernetes.io/name": "postgres-exporter"}, "ports": [{"name": "metrics", "port": 9187, "targetPort": "metrics"}]},
}

CONFIGMAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "obs-dashboards-learning", "namespace": "monitoring", "labels": {"grafana_dashboard": "1"}, "annotations": {"grafana_folder": "learning"}},
    "data": {"obs-svc-backend.json": '{"title": "backend"}'},
}

SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "alertmanager-main", "namespace": "monitoring"},
    "type": "Opaque",
    "stringData": {"alertmanager.yaml": "route: {receiver: log}\nreceivers: [{name: log}]\n"},
}

HPA = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "backend", "namespace": "toolboxai-production"},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "backend"},
        "minReplicas": 3,
        "maxReplicas": 10,
        "metrics": [
            {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}},
            {"type": "Pods", "pods": {"metric": {"name": "http_server_requests_per_second"}, "target": {"type": "AverageValue", "averageValue": "10"}}},
        ],
    },
}

SERVICE_MONITOR = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "ServiceMonitor",
    "metadata": {"name": "backend", "namespace": "toolboxai-production", "labels": {"release": "kube-prometheus-stack"}},
    "spec": {
        "selector": {"matchLabels": {"app": "backend"}},
        "namespaceSelector": {"matchNames": ["toolboxai-production"]},
        "endpoints": [
            {
                "port": "http",
                "path": "/metrics",
                "interval": "30s",
                "authorization": {"type": "Bearer", "credentials": {"name": "backend-metrics", "key": "token"}},
                "relabelings": [{"action": "replace", "targetLabel": "team", "replacement": "learning"}],
            }
        ],
    },
}

POD_MONITOR = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "PodMonitor",
    "metadata": {"name": "backend", "namespace": "toolboxai-production", "labels": {"release": "kube-prometheus-stack"}},
    "spec": {"selector": {"matchLabels": {"app": "backend"}}, "podMetricsEndpoints": [{"port": "http", "interval": "30s"}]},
}

PROBE = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "Probe",
    "metadata": {"name": "cms", "namespace": "toolboxai-production", "labels": {"release": "kube-prometheus-stack"}},
    "spec": {
        "module": "http_2xx",
        "prober": {"url": "blackbox-exporter.monitoring.svc:9115"},
        "targets": {"staticConfig": {"static": ["https://cms.example.org"], "labels": {"service": "cms"}}},
    },
}

PROMETHEUS_RULE = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "PrometheusRule",
    "metadata": {"name": "backend", "namespace": "toolboxai-production", "labels": {"release": "kube-prometheus-stack"}},
    "spec": {
        "groups": [
            {
                "name": "backend-slo",
                "interval": "30s",
                "rules": [
                    {"record": "job:requests:rate5m", "expr": "sum by (job) (rate(http_server_request_duration_seconds_count[5m]))"},
                    {"alert": "BackendDown", "expr": "up == 0", "for": "5m", "labels": {"severity": "page"}, "annotations": {"summary": "down"}},
                ],
            }
        ]
    },
}

ALERTMANAGER_CONFIG = {
    "apiVersion": "monitoring.coreos.com/v1alpha1",
    "kind": "AlertmanagerConfig",
    "metadata": {"name": "obs", "namespace": "monitoring"},
    "spec": {
        "route": {
            "receiver": "alert-log",
            "groupBy": ["alertname"],
            "routes": [{"receiver": "learning-chat", "matchers": [{"name": "team", "value": "learning", "matchType": "="}]}],
        },
        "receivers": [
            {"name": "alert-log", "webhookConfigs": [{"url": "http://alert-log:9095/alerts"}]},
            {"name": "learning-chat", "slackConfigs": [{"apiURL": {"name": "learning-chat", "key": "url"}, "channel": "#learning"}]},
        ],
    },
}

VALID: dict[str, dict[str, Any]] = {
    "Namespace": NAMESPACE,
    "Deployment": DEPLOYMENT,
    "Service": SERVICE,
    "ConfigMap": CONFIGMAP,
    "Secret": SECRET,
    "HorizontalPodAutoscaler": HPA,
    "ServiceMonitor": SERVICE_MONITOR,
    "PodMonitor": POD_MONITOR,
    "Probe": PROBE,
    "PrometheusRule": PROMETHEUS_RULE,
    "AlertmanagerConfig": ALERTMANAGER_CONFIG,
}


def broken(kind: str, path: str | tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of the valid ``kind`` with ``path`` (dotted, or a tuple where keys hold dots) set to
    ``value``, or removed (DELETE); a list index one past the end appends."""
    obj = copy.deepcopy(VALID[kind])
    *parents, last = path.split(".") if isinstance(path, str) else path
    node: Any = obj
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if value is DELETE:
        del node[int(last) if isinstance(node, list) else last]
    elif isinstance(node, list) and int(last) == len(node):
        node.append(value)
    else:
        node[int(last) if isinstance(node, list) else last] = value
    return obj
