"""Plain data (parsed YAML or JSON) into the model's dataclasses, and their JSON Schema.

Both directions read the same field types and docs, so a YAML file, the Python API and the schema
an editor uses cannot drift apart. Conversion tracks the path of every value and keeps going after
a mistake: every problem of a definition is reported at once (:class:`~obs.errors.ModelErrors`),
each with its path and fix. A field's ``metadata["schema"]`` adds JSON Schema constraints (a
pattern, a range) that say in the schema what the dataclass checks when it is built.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import math
import types
import typing
from collections.abc import Mapping
from typing import Any

from obs import model
from obs.errors import ModelError, ModelErrors, collect
from obs.model._base import key_of

#: Unions of dataclasses told apart by a ``type`` key (``{type: latency, ...}``).
_TAGGED: tuple[dict[str, type[Any]], ...] = (
    {cls.type: cls for cls in (model.AvailabilitySLI, model.LatencySLI)},
    {cls.type: cls for cls in (model.Compose, model.Kubernetes, model.Local)},
)


def _hints(cls: type[Any]) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _tagged(tp: Any) -> dict[str, type[Any]] | None:
    """The type → class table when ``tp`` is one of the tagged unions."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        for table in _TAGGED:
            if set(args) == set(table.values()):
                return table
    return None


def _key(f: dataclasses.Field[Any]) -> str:
    """The field's name in YAML (``for`` for ``for_``)."""
    return str(f.metadata.get("key") or f.name)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def convert(tp: Any, value: Any, path: str) -> Any:
    """``value`` as an instance of the type ``tp``; raises ModelError (or ModelErrors) with paths."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    table = _tagged(tp)
    if table is not None:
        return _convert_tagged(table, value, path)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        return convert(non_none[0], value, path)
    if origin is typing.Literal:
        if value not in args:
            raise ModelError(path, f"{value!r} is not allowed", f"use one of {', '.join(map(repr, args))}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ModelError(path, f"expected a list, got {type(value).__name__}", "write a YAML list")
        items: list[Any] = []
        errors: list[ModelError] = []
        for i, item in enumerate(value):
            key = key_of(item.get("name", i)) if isinstance(item, Mapping) else i
            try:
                items.append(convert(args[0], item, f"{path}[{key}]"))
            except ModelError as err:
                errors.append(err)
        collect(errors)
        return tuple(items)
    if origin in (Mapping, dict) or tp is Mapping:
        if not isinstance(value, Mapping):
            raise ModelError(path, f"expected a mapping, got {type(value).__name__}", "write key: value pairs")
        out: dict[str, Any] = {}
        errors = []
        for k, v in value.items():
            try:
                out[str(k)] = convert(args[1] if args else Any, v, f"{path}[{key_of(k)}]")
            except ModelError as err:
                errors.append(err)
        collect(errors)
        return out
    if _is_dataclass_type(tp):
        return convert_dataclass(tp, value, path)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return value  # the dataclass validates enum values with a helpful message
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ModelError(path, f"{value!r} is not a number", "e.g. 0.999")
        if not math.isfinite(value):
            raise ModelError(path, f"{value!r} is not a finite number", "write a plain number, e.g. 0.05")
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


def _convert_tagged(table: dict[str, type[Any]], value: Any, path: str) -> Any:
    tag = value.get("type") if isinstance(value, Mapping) else None
    if not isinstance(tag, str) or tag not in table:
        what = "an SLI" if model.AvailabilitySLI in table.values() else "a runtime"
        raise ModelError(
            f"{path}.type",
            f"{value.get('type') if isinstance(value, Mapping) else value!r} is not {what} type",
            f"use {' or '.join(table)}",
        )
    rest = {k: v for k, v in value.items() if k != "type"}
    return convert_dataclass(table[tag], rest, path)


def convert_dataclass(cls: type[Any], value: Any, path: str) -> Any:
    """An instance of the dataclass ``cls`` from a mapping: every field's problem is collected
    before anything is raised, then the object's own checks run if its fields were sound."""
    if not isinstance(value, Mapping):
        raise ModelError(path, f"expected a mapping, got {type(value).__name__}", "write key: value pairs")
    fields = {_key(f): f for f in dataclasses.fields(cls) if f.init}
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    errors: list[ModelError] = []
    for key, raw in value.items():
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            fix = f"did you mean {close[0]!r}?" if close else f"known fields: {', '.join(fields)}"
            errors.append(ModelError(_join(path, key_of(key)), "unknown field", fix))
            continue
        try:
            kwargs[fields[key].name] = convert(hints[fields[key].name], raw, _join(path, key))
        except ModelError as err:
            errors.append(err)
            continue
        field_check = fields[key].metadata.get("check")
        if field_check is not None:
            try:
                field_check(kwargs[fields[key].name], _join(_own_path(cls, path, value), key))
            except ModelError as err:
                errors.append(err)
    for key, f in fields.items():
        if (
            key not in value
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ):
            errors.append(ModelError(_join(path, key), "is required", f.metadata.get("doc", "")))
    collect(errors)
    try:
        return cls(**kwargs)
    except ModelError as err:
        # Objects with a name already start their paths with their own `collection[name]`.
        prefix = path.rsplit(".", 1)[0] if "name" in fields and "." in path else ("" if "name" in fields else path)
        raise err.at(prefix) from None


def _own_path(cls: type[Any], path: str, value: Mapping[str, Any]) -> str:
    """The path an object's own checks use: named objects are ``<collection>[<name>]``."""
    if "name" not in {f.name for f in dataclasses.fields(cls)}:
        return path
    return path if path.endswith("]") or not path else path.rsplit(".", 1)[0]


# --- schema -------------------------------------------------------------------------------------


def _schema_for(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    table = _tagged(tp)
    if table is not None:
        return {"oneOf": [_schema_for(cls, defs) for cls in table.values()]}
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
            tag = getattr(tp, "type", None)
            if isinstance(tag, str):
                props["type"] = {"const": tag}
                required.append("type")
            for f in dataclasses.fields(tp):
                if not f.init:
                    continue
                prop = _schema_for(hints[f.name], defs)
                extra = dict(f.metadata.get("schema") or {})
                if "items" in extra and "items" in prop:
                    prop["items"] = {**prop["items"], **extra.pop("items")}
                if extra:
                    target = prop["items"] if prop.get("type") == "array" and "items" in prop else prop
                    target.update(extra)
                _whole_patterns(prop)
                if f.metadata.get("doc"):
                    prop["description"] = f.metadata["doc"]
                if f.default is not dataclasses.MISSING:
                    prop["default"] = f.default.value if isinstance(f.default, enum.Enum) else f.default
                elif f.default_factory is dataclasses.MISSING:
                    required.append(_key(f))
                props[_key(f)] = prop
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


def _whole_patterns(node: Any) -> None:
    """Anchor every pattern at the true end of the text: JSON Schema patterns are ECMA-262, whose
    ``$`` does not match before a final newline, but the validators in Python use ``re``, whose
    ``$`` does; ``(?![\\s\\S])`` means "nothing follows" in both."""
    if isinstance(node, dict):
        pattern = node.get("pattern")
        if isinstance(pattern, str) and pattern.endswith("$") and not pattern.endswith("\\$"):
            node["pattern"] = pattern[:-1] + "(?![\\s\\S])"
        for value in node.values():
            _whole_patterns(value)


def dataclass_schema(cls: type[Any], title: str, schema_id: str = "") -> dict[str, Any]:
    """The JSON Schema of a document converted to ``cls``."""
    defs: dict[str, Any] = {}
    root = _schema_for(cls, defs)
    head = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": title}
    if schema_id:
        head["$id"] = schema_id
    return {**head, **root, "$defs": defs}


def platform_from_dict(data: Mapping[str, Any]) -> model.Platform:
    """Build a :class:`~obs.model.Platform` from plain data (parsed YAML or JSON)."""
    return typing.cast(model.Platform, convert_dataclass(model.Platform, data, ""))


def platform_json_schema() -> dict[str, Any]:
    """The JSON Schema of a platform YAML file, derived from the model's dataclasses."""
    return dataclass_schema(model.Platform, "obs platform", "https://obs.dev/schema/platform.json")


__all__ = [
    "ModelErrors",
    "convert",
    "convert_dataclass",
    "dataclass_schema",
    "platform_from_dict",
    "platform_json_schema",
]
