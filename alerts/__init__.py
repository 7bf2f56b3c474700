"""The built-in platform's own alerts (referenced from ``edu_platform.py``), beside obs's catalogue.

Each module defines ``alerts(platform) -> Iterable[Alert]`` built with
:func:`obs.alerting.service_alert` / :func:`obs.alerting.component_alert`, so an alert of the
platform gets the same severity scale, team/service labels, runbook and dashboard links, PromQL
contract check and test requirement as a catalogue one. obs loads the modules of this folder by
path (files starting with ``_`` are helpers) and names each alert's file in its messages.

Hand-written promtool test files live in ``tests/`` (``rule_tests`` in the platform).
"""
