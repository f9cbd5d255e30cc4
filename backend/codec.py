"""Frozen dataclasses to and from their JSON form, by their type hints.

JSON has lists where the dataclasses hold tuples, and a job store written by another version of the app may lack
a field or carry one this version does not know. One decoder for every spec and request, instead of a
hand-written ``from_params`` per kind that coerced each field (and forgot the next one added).
"""

from __future__ import annotations

import types
import typing
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

from pymatgen.core import Structure

T = TypeVar("T")


def encode(value: Any) -> Any:
    """The JSON form of a dataclass (or of one of its fields): tuples as lists, paths as text, a pymatgen
    ``Structure`` as its dict (every site in order, site properties kept -- a CIF would regroup them)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [encode(item) for item in value]
    if isinstance(value, Structure):
        return value.as_dict()
    if isinstance(value, Path):
        return str(value)
    return value


def decode(cls: type[T], data: dict[str, Any]) -> T:
    """An instance of the dataclass ``cls`` from its JSON form: every field coerced to its declared type (tuples
    from lists, nested dataclasses, ``X | None``); unknown keys are left out, missing fields take their defaults."""
    hints = typing.get_type_hints(cls)
    values = {f.name: _coerce(hints[f.name], data[f.name]) for f in fields(cls) if f.name in data}
    return cls(**values)


def _coerce(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        return _coerce(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], item) for item in value)
        return tuple(_coerce(a, item) for a, item in zip(args, value))
    if isinstance(hint, type) and is_dataclass(hint):
        return decode(hint, value)
    if hint is Structure:
        return Structure.from_dict(value)
    if hint is Path:
        return Path(value)
    if hint in (int, float, bool):
        return hint(value)
    return value
