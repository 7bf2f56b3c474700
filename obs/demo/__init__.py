"""``obs demo`` and the end-to-end tests: an environment's generated stack, running for real on 127.0.0.1.

- :mod:`obs.demo.loopback`: the environment on loopback, derived from the model (free ports for
  every listener), and its generated secrets;
- :mod:`obs.demo.timescale`: rule windows, ``for`` durations and Alertmanager timings divided by a factor;
- :mod:`obs.demo.stack`: :class:`~obs.demo.stack.Stack` builds it and starts every server, the
  demo services (:mod:`obs.demo.apps`), the receivers' stand-ins (:mod:`obs.demo.sites`,
  :mod:`obs.demo.web`), and stops them all;
- :mod:`obs.demo.traffic`, :mod:`obs.demo.scenario`: bounded traffic and the incidents of the story;
- :mod:`obs.demo.observe`, :mod:`obs.demo.view`, :mod:`obs.demo.report`: what the stack says, the
  live view, the HTML report;
- :mod:`obs.demo.run`: the command's loop (``obs demo``, see docs/demo.md).
"""
