"""The rules the Functions host applies to the worker's metadata before it loads any function.

The worker runtime checks each function against its Python signature; the host then checks the
metadata itself (names, triggers, app-setting expressions). Either refusal means Azure loads no
function of the app, so devhost refuses to start, naming every function and reason at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from devhost.appsettings import resolve_setting_expressions
from devhost.errors import StartupError
from devhost.loader import BindingSpec, FunctionSpec

FUNCTION_NAME = re.compile(r"[a-z][a-z0-9_\-]{0,127}", re.IGNORECASE)
BINDING_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9]{0,127}|\$return")
RESERVED_FUNCTION_NAMES = frozenset({"host"})


@dataclass(frozen=True)
class IndexedFunction:
    """A function as the worker runtime's metadata names it, before the host's checks."""

    name: str
    function_id: str
    bindings: tuple[BindingSpec, ...]

    def spec(self) -> FunctionSpec:
        trigger = next(b for b in self.bindings if _is_trigger(b))
        return FunctionSpec(
            name=self.name,
            function_id=self.function_id,
            trigger=trigger,
            bindings=tuple(b for b in self.bindings if b is not trigger),
        )


def enforce(functions: Iterable[IndexedFunction], environ: Mapping[str, str]) -> list[FunctionSpec]:
    """The functions as specs, or StartupError naming every rule the app breaks."""
    functions = list(functions)
    problems = [*_duplicate_names(functions)]
    for function in functions:
        problems.extend(f"function {function.name}: {problem}" for problem in _problems(function, environ))
    if problems:
        raise StartupError("the Functions host refuses the app:\n  " + "\n  ".join(problems))
    return [function.spec() for function in functions]


def validate_instance_id(instance_id: str) -> str | None:
    """Why the Durable extension refuses this orchestration instance id, or None if it accepts it."""
    if not instance_id:
        return "an instance id must not be empty"
    if len(instance_id) > 256:
        return "an instance id must be at most 256 characters"
    if instance_id.startswith("@"):
        return "an instance id must not start with '@'"
    if any(character in "/\\#?" for character in instance_id):
        return "an instance id must not contain '/', '\\', '#' or '?'"
    if any(ord(character) < 0x20 or 0x7F <= ord(character) <= 0x9F for character in instance_id):
        return "an instance id must not contain control characters"
    return None


def _problems(function: IndexedFunction, environ: Mapping[str, str]) -> Iterator[str]:
    if not FUNCTION_NAME.fullmatch(function.name) or function.name.casefold() in RESERVED_FUNCTION_NAMES:
        yield f"invalid function name '{function.name}' (letters, digits, '_', '-'; a letter first)"
    if not function.bindings:
        yield "no bindings"
    triggers = [b.name for b in function.bindings if _is_trigger(b)]
    if len(triggers) != 1:
        yield f"exactly one trigger binding is required, found {len(triggers)}"
    seen: set[str] = set()
    for binding in function.bindings:
        if not BINDING_NAME.fullmatch(binding.name):
            yield f"invalid binding name '{binding.name}' (letters and digits only, starting with a letter)"
        if binding.name.casefold() in seen:
            yield f"binding name '{binding.name}' is used twice"
        seen.add(binding.name.casefold())
        for value in _strings(binding.raw):
            try:
                resolve_setting_expressions(value, environ, where=f"binding '{binding.name}'")
            except StartupError as exc:
                yield str(exc)


def _duplicate_names(functions: list[IndexedFunction]) -> Iterator[str]:
    seen: dict[str, str] = {}
    for function in functions:
        key = function.name.casefold()
        if key in seen:
            yield f"functions {seen[key]} and {function.name}: function names must be unique"
        seen[key] = function.name


def _is_trigger(binding: BindingSpec) -> bool:
    return binding.type.endswith("Trigger")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
