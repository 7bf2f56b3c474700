"""Find and load a platform: a YAML file (data, never code) or a Python file or module exporting
``platform``, with the folder its content references are relative to.

Without ``--platform``, obs looks for ``OBS_PLATFORM``, then ``[tool.obs] platform`` in the
nearest ``pyproject.toml`` above the current folder (a team's repository says once where its
platform is), then ``obs.yaml`` in the current folder.

YAML is read strictly: a duplicate key, an alias bomb or nesting deeper than any platform needs is
an error with the line, not a silent last-one-wins or an out-of-memory crash.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from obs import model
from obs.content import import_module_file
from obs.convert import platform_from_dict, platform_json_schema
from obs.errors import ModelError

PLATFORM_ENV = "OBS_PLATFORM"
DEFAULT_FILE = "obs.yaml"
#: Generous for any real platform; a YAML file beyond these is broken or hostile.
MAX_YAML_NODES = 200_000
MAX_YAML_DEPTH = 64
MAX_YAML_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Project:
    """A loaded platform and where its content lives.

    ``root`` is the folder references (alerts, dashboards, ...) are relative to; ``allow_code`` is
    false for YAML platforms, whose content may not run Python; ``source`` is what was loaded, for
    messages and for refusing to write over it.
    """

    platform: model.Platform
    root: Path
    allow_code: bool
    source: Path | None = None


# --- strict YAML --------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and bounds the document's size and depth."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._nodes = 0
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._nodes += 1
        if self._nodes > MAX_YAML_NODES:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
            raise yaml.YAMLError(f"more than {MAX_YAML_NODES} values (line {mark.line + 1}): aliases expand too far")
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.YAMLError(f"nested deeper than {MAX_YAML_DEPTH} levels (line {mark.line + 1})")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.YAMLError(f"line {key_node.start_mark.line + 1}: a mapping key must be a plain value") from None
            if key in seen:
                raise yaml.YAMLError(
                    f"line {key_node.start_mark.line + 1}: key {key!r} appears twice in one mapping "
                    f"(first on line {seen[key]}); YAML would keep only the last"
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def safe_load(text: str, source: str) -> Any:
    """Parse YAML strictly; any problem is a :class:`ModelError` naming ``source`` and the line."""
    if len(text) > MAX_YAML_BYTES:
        raise ModelError(source, f"is larger than {MAX_YAML_BYTES // 2**20} MiB", "a platform file is a few KB")
    loader = _StrictLoader(text)
    try:
        data = loader.get_single_data()
        _check_expansion(data, source)
        return data
    except yaml.YAMLError as exc:
        problem = str(exc).replace("\n", " ")
        raise ModelError(source, f"not valid YAML: {problem}", "fix the syntax") from None
    except RecursionError:
        raise ModelError(source, "nested too deeply", "a platform is a few levels deep") from None
    finally:
        loader.dispose()


def _check_expansion(data: Any, source: str) -> None:
    """Aliases share nodes, so a small file can describe a huge tree: walk it with a budget."""
    budget = MAX_YAML_NODES
    stack = [data]
    while stack:
        value = stack.pop()
        budget -= 1
        if budget < 0:
            raise ModelError(source, f"expands to more than {MAX_YAML_NODES} values through aliases", "write the values out, without alias chains")
        if isinstance(value, Mapping):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


# --- loading ------------------------------------------------------------------------------------


def _read(path: Path, text: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ModelError(text, f"is not UTF-8 text ({exc.reason} at byte {exc.start})", "save it as UTF-8") from None
    except IsADirectoryError:
        raise ModelError(text, "is a folder", "pass the platform file inside it, e.g. obs.yaml") from None
    except OSError as exc:
        raise ModelError(text, f"cannot be read: {exc.strerror or exc}", "check the path and its permissions") from None


def _from_yaml(path: Path, text: str) -> model.Platform:
    data = safe_load(_read(path, text), text)
    if not isinstance(data, Mapping):
        raise ModelError(text, "the top level must be a mapping", "start with `name: ...`")
    try:
        return platform_from_dict(data)
    except ModelError as err:
        raise _prefixed(err, text) from None


def _prefixed(err: ModelError, source: str) -> ModelError:
    from obs.errors import ModelErrors

    if isinstance(err, ModelErrors):
        return ModelErrors([_prefixed(e, source) for e in err.errors])
    return ModelError(f"{source}: {err.path}" if err.path else source, err.problem, err.fix)


def _from_python(path: Path | None, text: str) -> model.Platform:
    if path is not None:
        module = import_module_file(path, text, path.parent)
    else:
        try:
            module = importlib.import_module(text)
        except ModuleNotFoundError as exc:
            raise ModelError(text, f"no such file or module ({exc.name})", "pass a .yaml or .py file, or an importable module") from None
        except SystemExit as exc:
            raise ModelError(text, f"called sys.exit({exc.code!r})", "a platform module must not exit") from None
        except Exception as exc:
            raise ModelError(text, f"raised {type(exc).__name__}: {exc}", "fix the module") from None
    found = getattr(module, "platform", None)
    if not isinstance(found, model.Platform):
        raise ModelError(text, "does not export `platform`", "define `platform = Platform(...)` at module level")
    return found


def load_project(source: str | Path | None = None, cwd: Path | None = None) -> Project:
    """Load the platform ``source`` names (see the module's docstring for the lookup without one)."""
    here = (cwd or Path.cwd()).resolve()
    text = str(source) if source is not None else discover(here)
    path = Path(text)
    if not path.is_absolute():
        path = here / path
    if path.suffix in (".yaml", ".yml", ".json"):
        if not path.exists():
            raise ModelError(text, "no such file", "pass the path of a platform YAML file")
        return Project(_from_yaml(path, text), path.parent, allow_code=False, source=path)
    if path.suffix == ".py":
        if not path.exists():
            raise ModelError(text, "no such file", "pass the path of a Python module that defines `platform`")
        if path.is_dir():
            raise ModelError(text, "is a folder", "pass the platform file inside it")
        return Project(_from_python(path, text), path.parent, allow_code=True, source=path)
    if path.is_dir():
        raise ModelError(text, "is a folder", f"pass the platform file inside it, e.g. {text.rstrip('/')}/{DEFAULT_FILE}")
    platform = _from_python(None, text)
    module_file = getattr(sys.modules.get(text), "__file__", None)
    root = Path(module_file).parent if module_file else here
    return Project(platform, root, allow_code=True, source=Path(module_file) if module_file else None)


def discover(cwd: Path) -> str:
    """The platform file used when none is given; ModelError with the ways to name one."""
    from_env = os.environ.get(PLATFORM_ENV)
    if from_env:
        return from_env
    for folder in (cwd, *cwd.parents):
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            try:
                config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise ModelError(str(pyproject), f"cannot be read: {exc}", "fix the TOML") from None
            configured = config.get("tool", {}).get("obs", {}).get("platform")
            if isinstance(configured, str) and configured:
                return str(folder / configured)
            break
    if (cwd / DEFAULT_FILE).is_file():
        return str(cwd / DEFAULT_FILE)
    raise ModelError(
        "--platform",
        "no platform given",
        f"pass --platform FILE, set {PLATFORM_ENV}, add `[tool.obs] platform = \"...\"` to pyproject.toml, "
        f"or write {DEFAULT_FILE} here",
    )


def load_platform(source: str | Path | None = None) -> model.Platform:
    """The platform alone (see :func:`load_project`)."""
    return load_project(source).platform


__all__ = ["PLATFORM_ENV", "Project", "discover", "load_platform", "load_project", "platform_json_schema", "safe_load"]
