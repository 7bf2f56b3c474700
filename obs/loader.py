"""Load a platform from a Python module or a YAML file, and describe the schema they share.

Both forms go through the same dataclasses: YAML mappings are converted field by field (with the
path of every value tracked for error messages), and ``obs schema`` is derived from the same field
types and docs, so the YAML schema cannot drift from the Python API.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import importlib.util
import sys
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from obs import model
from obs.errors import ModelError

# --- conversion ---------------------------------------------------------------------------------

_SLI_TYPES: dict[str, type[Any]] = {cls.type: cls for cls in (model.AvailabilitySLI, model.LatencySLI)}


def _hints(cls: type[Any]) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(model))


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _convert(tp: Any, value: Any, path: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is model.SLI or (
        origin in (typing.Union, types.UnionType) and set(args) == set(_SLI_TYPES.values())
    ):
        return _convert_sli(value, path)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        return _convert(non_none[0], value, path)
    if origin is typing.Literal:
        if value not in args:
            raise ModelError(path, f"{value!r} is not allowed", f"use one of {', '.join(map(repr, args))}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ModelError(path, f"expected a list, got {type(value).__name__}", "write a YAML list")
        item_tp = args[0]
        items = []
        for i, item in enumerate(value):
            key = item.get("name", i) if isinstance(item, Mapping) else i
            items.append(_convert(item_tp, item, f"{path}[{key}]"))
        return tuple(items)
    if origin in (Mapping, dict) or tp is Mapping:
        if not isinstance(value, Mapping):
            raise ModelError(
                path, f"expected a mapping, got {type(value).__name__}", "write key: value pairs"
            )
        return {str(k): _convert(args[1] if args else Any, v, f"{path}[{k}]") for k, v in value.items()}
    if _is_dataclass_type(tp):
        return _convert_dataclass(tp, value, path)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return value  # the dataclass validates enum values with a helpful message
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ModelError(path, f"{value!r} is not a number", "e.g. 0.999")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ModelError(path, f"{value!r} is not a whole number", "e.g. 8000")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ModelError(path, f"{value!r} is not a string", "quote it in YAML")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ModelError(path, f"{value!r} is not true or false", "write true or false")
        return value
    return value


def _convert_sli(value: Any, path: str) -> Any:
    if not isinstance(value, Mapping) or value.get("type") not in _SLI_TYPES:
        raise ModelError(
            f"{path}.type",
            f"{value.get('type') if isinstance(value, Mapping) else value!r} is not an SLI type",
            "use availability or latency",
        )
    rest = {k: v for k, v in value.items() if k != "type"}
    return _convert_dataclass(_SLI_TYPES[value["type"]], rest, path)


def _convert_dataclass(cls: type[Any], value: Any, path: str) -> Any:
    if not isinstance(value, Mapping):
        raise ModelError(path, f"expected a mapping, got {type(value).__name__}", "write key: value pairs")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for key, raw in value.items():
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            fix = f"did you mean {close[0]!r}?" if close else f"known fields: {', '.join(fields)}"
            raise ModelError(f"{path}.{key}" if path else str(key), "unknown field", fix)
        kwargs[key] = _convert(hints[key], raw, f"{path}.{key}" if path else key)
    for name, f in fields.items():
        if (
            name not in kwargs
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ):
            raise ModelError(f"{path}.{name}" if path else name, "is required", f.metadata.get("doc", ""))
    try:
        return cls(**kwargs)
    except ModelError as err:
        # Objects with a name already start their paths with their own `collection[name]`.
        prefix = (
            path.rsplit(".", 1)[0] if "name" in fields and "." in path else ("" if "name" in fields else path)
        )
        raise err.at(prefix) from None


def platform_from_dict(data: Mapping[str, Any]) -> model.Platform:
    """Build a :class:`~obs.model.Platform` from plain data (parsed YAML or JSON)."""
    return typing.cast(model.Platform, _convert_dataclass(model.Platform, data, ""))


def load_platform(source: str | Path | None = None) -> model.Platform:
    """Load a platform from a YAML file, a Python file or module exporting ``platform``.

    ``None`` returns the built-in educational platform.
    """
    if source is None:
        from obs.builtin import platform

        return platform
    text = str(source)
    path = Path(text)
    if path.suffix in (".yaml", ".yml", ".json"):
        if not path.is_file():
            raise ModelError(text, "no such file", "pass the path of a platform YAML file")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ModelError(text, f"not valid YAML: {exc}", "fix the syntax") from exc
        if not isinstance(data, Mapping):
            raise ModelError(text, "the top level must be a mapping", "start with `name: ...`")
        try:
            return platform_from_dict(data)
        except ModelError as err:
            raise ModelError(f"{text}: {err.path}", err.problem, err.fix) from None
    if path.suffix == ".py":
        if not path.is_file():
            raise ModelError(text, "no such file", "pass the path of a Python module that defines `platform`")
        spec = importlib.util.spec_from_file_location(f"obs_platform_{path.stem}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(text)
    found = getattr(module, "platform", None)
    if not isinstance(found, model.Platform):
        raise ModelError(
            text, "does not export `platform`", "define `platform = Platform(...)` at module level"
        )
    return found


# --- schema -------------------------------------------------------------------------------------


def _schema_for(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is model.SLI or (
        origin in (typing.Union, types.UnionType) and set(args) == set(_SLI_TYPES.values())
    ):
        return {"oneOf": [_schema_for(cls, defs) for cls in _SLI_TYPES.values()]}
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_schema_for(a, defs) for a in args]}
    if tp is type(None):
        return {"type": "null"}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin is tuple:
        return {"type": "array", "items": _schema_for(args[0], defs)}
    if origin in (Mapping, dict):
        return {"type": "object", "additionalProperties": _schema_for(args[1], defs)}
    if _is_dataclass_type(tp):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}  # placeholder against recursion
            hints = _hints(tp)
            props: dict[str, Any] = {}
            required: list[str] = []
            sli_type = getattr(tp, "type", None)
            if isinstance(sli_type, str):
                props["type"] = {"const": sli_type}
                required.append("type")
            for f in dataclasses.fields(tp):
                prop = _schema_for(hints[f.name], defs)
                if f.metadata.get("doc"):
                    prop["description"] = f.metadata["doc"]
                if f.default is not dataclasses.MISSING:
                    prop["default"] = f.default.value if isinstance(f.default, enum.Enum) else f.default
                elif f.default_factory is dataclasses.MISSING:
                    required.append(f.name)
                props[f.name] = prop
            defs[name] = {
                "type": "object",
                "description": (tp.__doc__ or "").strip().splitlines()[0],
                "properties": props,
                "required": required,
                "additionalProperties": False,
            }
        return {"$ref": f"#/$defs/{name}"}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"enum": [m.value for m in tp]}
    if tp is float:
        return {"type": "number"}
    if tp is int:
        return {"type": "integer"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is str:
        return {"type": "string"}
    return {}


def platform_json_schema() -> dict[str, Any]:
    """The JSON Schema of a platform YAML file, derived from the model's dataclasses."""
    defs: dict[str, Any] = {}
    root = _schema_for(model.Platform, defs)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://obs.dev/schema/platform.json",
        "title": "obs platform",
        **root,
        "$defs": defs,
    }


__all__ = ["load_platform", "platform_from_dict", "platform_json_schema"]
