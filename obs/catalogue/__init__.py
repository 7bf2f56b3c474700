"""The generic catalogue obs ships: alerts per component (:mod:`obs.catalogue.alerts`) and the
dashboards that go with them (:mod:`obs.catalogue.dashboards`). A platform switches catalogue alerts
off or retunes them from the model; its own content comes on top (:mod:`obs.content`)."""
