"""The built-in platform's own dashboards (referenced from ``edu_platform.py``), beside obs's
catalogue: one of each form obs accepts.

- ``learning_journeys.py``: obs's Python dashboard API (``dashboards(platform, env)``);
- ``integrations/roster-sync.json``: a dashboard exported from Grafana's UI, provisioned as it is;
- ``web/cms.dashboard.py``: a grafanalib module, as teams that already wrote some have them.

A dashboard's folder is its ``team:<name>`` tag, else the folder it sits in.
"""
