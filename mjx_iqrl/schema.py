"""Typed, frozen configuration trees: strict construction from plain dicts, field documentation, flattening.

A config is a tree of frozen dataclasses whose fields carry an attribute docstring (a string literal right under
the field). `from_mapping` builds one from nested dicts (e.g. hydra's composed config), failing with a one-line
`ConfigError` that names the dotted key for an unknown key or a value of the wrong type.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import itertools
import textwrap
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any

from mjx_iqrl.errors import ConfigError


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The attribute docstrings of a dataclass's fields (the string literal under each field), by field name."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body
        for node, nxt in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def describe(hint: Any) -> str:
    """A short human name of a type hint ('int', 'tuple of int', 'float or None', ...)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in typing.get_args(hint))
    if origin is tuple:
        return f"tuple of {describe(typing.get_args(hint)[0])}"
    if hint is type(None):
        return "None"
    return getattr(hint, "__name__", str(hint))


def coerce(value: Any, hint: Any, key: str) -> Any:
    """`value` as type `hint` (ints accepted for floats, lists for tuples), else a one-line ConfigError."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            try:
                return coerce(value, arg, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}={value!r} must be {describe(hint)}")
    if hint is type(None):
        if value is None:
            return None
        raise ConfigError(f"{key}={value!r} must be None")
    if origin is tuple:
        if isinstance(value, (list, tuple)):
            (item,) = typing.get_args(hint)[:1]
            return tuple(coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value))
        raise ConfigError(f"{key}={value!r} must be {describe(hint)}")
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
    elif dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        if isinstance(value, Mapping):
            return from_mapping(hint, value, key)
    elif hint is Any:
        return value
    raise ConfigError(f"{key}={value!r} must be {describe(hint)}")


def from_mapping(cls: type, values: Mapping[str, Any], prefix: str = "") -> Any:
    """Builds dataclass `cls` from a (nested) mapping; missing keys keep their defaults."""
    hints = _hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for name, value in values.items():
        key = f"{prefix}.{name}" if prefix else name
        if name not in known:
            where = prefix or "the top level"
            raise ConfigError(f"unknown config key {key!r}; known under {where}: {', '.join(sorted(known))}")
        kwargs[name] = coerce(value, hints[name], key)
    try:
        return cls(**kwargs)
    except TypeError as err:  # a required field without a value
        raise ConfigError(f"{prefix or cls.__name__}: {err}") from None


def to_dict(cfg: Any) -> dict[str, Any]:
    """Nested plain dict of a config tree (tuples become lists, for YAML/JSON)."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        return v

    return plain(cfg)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested dict as dotted keys: {'a': {'b': 1}} -> {'a.b': 1} (lists kept as values)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def walk_fields(cls: type, prefix: str = "") -> Iterator[tuple[str, Any, Any, str]]:
    """(dotted key, type hint, default, doc) of every leaf field of a config class tree."""
    hints = _hints(cls)
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}.{f.name}" if prefix else f.name
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            yield from walk_fields(hint, key)
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        yield key, hint, default, docs.get(f.name, "")


def leaf_hint(cls: type, dotted: str) -> Any:
    """The type hint of a dotted leaf key, or a ConfigError naming the unknown part."""
    hint: Any = cls
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if not dataclasses.is_dataclass(hint):
            raise ConfigError(f"unknown config key {dotted!r}: {'.'.join(parts[:i])} has no sub-keys")
        names = {f.name for f in dataclasses.fields(hint)}
        if part not in names:
            where = ".".join(parts[:i]) or "the top level"
            raise ConfigError(f"unknown config key {dotted!r}; known under {where}: {', '.join(sorted(names))}")
        hint = _hints(hint)[part]
    return hint


def parse_value(raw: str, hint: Any, key: str) -> Any:
    """A command-line value (YAML syntax) checked against type `hint`; a one-line ConfigError naming `key`."""
    import yaml

    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str) and describe(hint) in ("int", "float", "bool"):
        raise ConfigError(f"{key}={raw!r} must be {describe(hint)}")
    coerce(value, hint, key)
    return value
