"""Validators and tests over written output, kept apart from the renderers that produce it.

Each module is named after its artifact group and may define:

``verify(artifacts) -> list[str]``
    in-process checks of the rendered data, run by the build before anything is written (no
    external tool, no file system): a problem stops the build;
``check(env_dir) -> Iterable[Outcome]``
    validators over the written files (``obs check``): promtool, amtool, schemas, parsers;
``test(env_dir) -> Iterable[Outcome]``
    unit tests over the written files (``obs test``).
"""
