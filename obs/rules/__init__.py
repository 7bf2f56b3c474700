"""The machinery of rule files and their promtool tests, shared by the catalogue and the
platform's own alerts: a rule file under construction (:mod:`obs.rules.rulefile`) and the
generators of test series and cases (:mod:`obs.rules.testgen`)."""
