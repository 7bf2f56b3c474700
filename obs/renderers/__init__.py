"""Renderers: pure functions from the model to plain data, one module per artifact group.

See :mod:`obs.artifacts` for the protocol and the registry.
"""
