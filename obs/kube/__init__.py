"""Kubernetes pieces of obs: the objects it writes for a cluster, and their validation.

- ``objects`` (with ``alertmanager`` and ``base``): pure builders of plain-dict objects shaped as
  kube-prometheus-stack picks them up;
- ``validate``: every object against the Kubernetes schemas of a pinned release
  (``schemas``, from kubernetes-validate), the Prometheus Operator's CRD schemas (``crds``, data in
  ``obs/schemas/kubernetes/``) and the API server's name and size rules (``meta``); a folder built
  with ``kubectl kustomize``;
- ``stack``: the Helm values kube-prometheus-stack, Grafana and prometheus-adapter need to read them;
- ``discovery``: the ``kubernetes_sd_configs`` scrape job that finds a service's pods for plain
  Prometheus, and ``scrapecheck``, which checks such jobs with vmagent (Debian's promtool cannot).
"""
