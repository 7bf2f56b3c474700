"""Kubernetes pieces of obs: the objects it writes for a cluster, and their validation.

``objects`` builds the plain-dict objects (kube-prometheus-stack's conventions), ``validate``
checks them against the Kubernetes schemas of a pinned release and the Prometheus Operator's CRD
schemas (``crds``), and builds a folder with ``kubectl kustomize``; ``discovery`` gives plain
Prometheus the ``kubernetes_sd_configs`` that find a service's pods.
"""
