"""Converting a setting's value (TOML, environment text or a flag) to its field's type. Pure."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def describe(kind: Any) -> str:
    """A reader's name for a type: ``int``, ``path or empty``, ``one of 'a', 'b'``..."""
    origin, args = get_origin(kind), get_args(kind)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return " or ".join(describe(a) for a in inner) + " or empty"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (tuple, list):
        return f"a list of {describe(args[0])}" if args else "a list"
    if kind is Path:
        return "path"
    return getattr(kind, "__name__", str(kind))


def coerce(kind: Any, value: Any) -> Any:
    """``value`` as ``kind``; raises ``ValueError`` (or ``TypeError``) when it is not one.

    Text (from the environment or a flag) is parsed: booleans as 1/0, true/false, yes/no,
    on/off; lists as comma-separated items; an empty text is None for an optional field.
    TOML values must already have the right type (an integer is accepted for a float).
    """
    origin, args = get_origin(kind), get_args(kind)
    text = isinstance(value, str)
    if origin in (Union, types.UnionType):
        if (value is None or value == "") and type(None) in args:
            return None
        for option in (a for a in args if a is not type(None)):
            try:
                return coerce(option, value)
            except (TypeError, ValueError):
                continue
        raise ValueError(value)
    if origin is Literal:
        for option in args:
            if value == option or (text and not isinstance(option, str) and value == str(option)):
                return option
        raise ValueError(value)
    if origin in (tuple, list):
        item = args[0] if args else str
        items = [v.strip() for v in value.split(",") if v.strip()] if text else value
        if not isinstance(items, (list, tuple)):
            raise TypeError(value)
        converted = [coerce(item, v) for v in items]
        return tuple(converted) if origin is tuple else converted
    if kind is bool:
        if isinstance(value, bool):
            return value
        if text and value.strip().lower() in _TRUE:
            return True
        if text and value.strip().lower() in _FALSE:
            return False
        raise ValueError(value)
    if kind is int:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(value)
        if not isinstance(value, (int, float, str)):
            raise TypeError(value)
        return int(value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(value)
        return float(value)
    if kind is str:
        if not text:
            raise TypeError(value)
        return value
    if kind is Path:
        if not isinstance(value, (str, Path)) or value == "":
            raise TypeError(value)
        return Path(value)
    raise TypeError(f"unsupported setting type {kind!r}")
