"""Typed syntax trees for the configuration languages obs writes that are neither YAML nor JSON.

Each module renders its tree to text and parses text back into the same tree, so a rendered file can
be checked structurally (routing, reachability) without the server that would read it.
"""
