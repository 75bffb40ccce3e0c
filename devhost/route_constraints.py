"""Inline route constraints (``{id:int}``, ``{code:length(3)}``...) as ASP.NET Core defines them."""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Callable, Mapping

Constraint = Callable[[str], bool]

_INTEGER = re.compile(r"\s*[+-]?\d+\s*")
_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
_ALPHA = re.compile(r"[A-Za-z]+")
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


def _integer_between(low: int, high: int) -> Constraint:
    return lambda value: bool(_INTEGER.fullmatch(value)) and low <= int(value) <= high


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    try:
        datetime.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _looks_like_file(value: str) -> bool:
    last = value.rsplit("/", 1)[-1]
    stem, dot, extension = last.rpartition(".")
    return bool(dot and stem and extension)


def _int_args(name: str, args: list[str], count: int) -> list[int]:
    if len(args) != count or not all(_INTEGER.fullmatch(a) for a in args):
        raise ValueError(f"'{name}' takes {count} integer argument(s)")
    return [int(a) for a in args]


def _with_args(name: str, args: list[str], raw_args: str) -> Constraint:
    if name in ("min", "max", "minlength", "maxlength"):
        (bound,) = _int_args(name, args, 1)
        if name == "min":
            return _integer_between(bound, _INT64[1])
        if name == "max":
            return _integer_between(_INT64[0], bound)
        if name == "minlength":
            return lambda value: len(value) >= bound
        return lambda value: len(value) <= bound
    if name == "range":
        low, high = _int_args(name, args, 2)
        return _integer_between(low, high)
    if name == "length":
        if len(args) not in (1, 2):
            raise ValueError("'length' takes 1 or 2 integer arguments")
        bounds = _int_args(name, args, len(args))
        low, high = bounds[0], bounds[-1]
        return lambda value: low <= len(value) <= high
    # regex(...): unanchored and case-insensitive, like ASP.NET's RegexRouteConstraint.
    pattern = re.compile(raw_args, re.IGNORECASE)
    return lambda value: pattern.search(value) is not None


_SIMPLE_CONSTRAINTS: Mapping[str, Constraint] = {
    "int": _integer_between(*_INT32),
    "long": _integer_between(*_INT64),
    "bool": lambda value: value.casefold() in ("true", "false"),
    "decimal": lambda value: bool(_NUMBER.fullmatch(value)),
    "double": lambda value: bool(_NUMBER.fullmatch(value)),
    "float": lambda value: bool(_NUMBER.fullmatch(value)),
    "guid": _is_guid,
    "datetime": _is_datetime,
    "alpha": lambda value: bool(_ALPHA.fullmatch(value)),
    "required": lambda value: value != "",
    "file": _looks_like_file,
    "nonfile": lambda value: not _looks_like_file(value),
}
_CONSTRAINTS_WITH_ARGS = frozenset({"min", "max", "minlength", "maxlength", "length", "range", "regex"})


def parse_constraint(text: str) -> Constraint | None:
    """The predicate for one inline constraint, or None for one devhost does not know.

    Raises ValueError when a known constraint has unusable arguments.
    """
    found = re.fullmatch(r"(\w+)(?:\((.*)\))?", text, re.DOTALL)
    if found is None:
        return None
    name, raw_args = found.group(1).lower(), found.group(2)
    if raw_args is None:
        return _SIMPLE_CONSTRAINTS.get(name)
    if name not in _CONSTRAINTS_WITH_ARGS:
        return None
    try:
        return _with_args(name, [a.strip() for a in raw_args.split(",")], raw_args)
    except re.error as exc:
        raise ValueError(str(exc)) from exc
