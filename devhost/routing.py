"""Route templates as the Functions host (ASP.NET Core routing) understands them.

Supported: literal segments (case-insensitive), ``{name}``, optional ``{name?}``, defaults
``{name=value}``, inline constraints ``{id:int}``, ``{id:int:min(1)}``, catch-alls ``{*rest}`` and
``{**rest}``, and complex segments such as ``{name}.{ext}``. Unknown constraints are reported and
ignored rather than guessed at.

When several templates match a path, the most specific wins, using ASP.NET Core's inbound
precedence: segment by segment, literal < complex or constrained parameter < parameter <
catch-all; ties break on the template text, so the outcome never depends on registration order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import unquote

from devhost.route_constraints import Constraint, parse_constraint

T = TypeVar("T")


class RouteTemplateError(ValueError):
    """A route template that the Functions host would reject."""


@dataclass(frozen=True)
class Parameter:
    name: str
    constraints: tuple[Constraint, ...] = ()
    optional: bool = False
    default: str | None = None
    catch_all: bool = False

    def accepts(self, value: str) -> bool:
        return all(constraint(value) for constraint in self.constraints)


Part = str | Parameter


@dataclass(frozen=True)
class Segment:
    parts: tuple[Part, ...]
    pattern: re.Pattern[str] | None = None  # set for complex segments only

    @property
    def literal(self) -> str | None:
        only = self.parts[0]
        return only if len(self.parts) == 1 and isinstance(only, str) else None

    @property
    def parameter(self) -> Parameter | None:
        only = self.parts[0]
        return only if len(self.parts) == 1 and isinstance(only, Parameter) else None

    def precedence(self) -> int:
        """ASP.NET Core's inbound precedence digit: lower is more specific."""
        parameter = self.parameter
        if self.literal is not None:
            return 1
        if parameter is None:
            return 2
        digit = 5 if parameter.catch_all else 3
        return digit - 1 if parameter.constraints else digit


@dataclass(frozen=True)
class RouteTemplate:
    text: str
    segments: tuple[Segment, ...]
    unknown_constraints: tuple[str, ...] = ()

    def precedence(self) -> tuple[int, ...]:
        return tuple(segment.precedence() for segment in self.segments)

    def match(self, path: Sequence[str]) -> dict[str, str] | None:
        """Route values for decoded path segments, or None when the template does not match."""
        values: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            parameter = segment.parameter
            if parameter is not None and parameter.catch_all:
                rest = "/".join(path[index:])
                if rest and not parameter.accepts(rest):
                    return None
                value = rest or parameter.default
                if value is not None:
                    values[parameter.name] = value
                return values
            if index >= len(path):
                return values if self._rest_is_optional(index, values) else None
            if not _match_segment(segment, path[index], values):
                return None
        return values if len(path) == len(self.segments) else None

    def _rest_is_optional(self, start: int, values: dict[str, str]) -> bool:
        for segment in self.segments[start:]:
            parameter = segment.parameter
            if parameter is None or not (
                parameter.optional or parameter.catch_all or parameter.default is not None
            ):
                return False
            if parameter.default is not None:
                values[parameter.name] = parameter.default
        return True


def _match_segment(segment: Segment, text: str, values: dict[str, str]) -> bool:
    literal = segment.literal
    if literal is not None:
        return literal.casefold() == text.casefold()
    parameter = segment.parameter
    if parameter is not None:
        if not text or not parameter.accepts(text):
            return False
        values[parameter.name] = text
        return True
    assert segment.pattern is not None
    found = segment.pattern.fullmatch(text)
    if found is None:
        return False
    parameters = [part for part in segment.parts if isinstance(part, Parameter)]
    if not all(p.accepts(found.group(p.name)) for p in parameters):
        return False
    values.update({p.name: found.group(p.name) for p in parameters})
    return True


def split_path(raw_path: str) -> list[str]:
    """Decoded path segments of a raw (percent-encoded) request path.

    Like Kestrel, ``%2F`` stays encoded so an encoded slash never splits a segment; one trailing
    slash is ignored, as ASP.NET routing does.
    """
    segments = raw_path.lstrip("/").split("/")
    if segments and segments[-1] == "":
        segments.pop()
    return [unquote(re.sub("%2[fF]", "%252F", segment)) for segment in segments]


def parse_template(text: str) -> RouteTemplate:
    cleaned = text.strip().removeprefix("~").strip("/")
    if not cleaned:
        return RouteTemplate(text=text, segments=())
    segments: list[Segment] = []
    unknown: list[str] = []
    names: set[str] = set()
    raw_segments = cleaned.split("/")
    for position, raw in enumerate(raw_segments):
        if raw == "":
            raise RouteTemplateError(f"route '{text}' has an empty segment")
        parts = _parse_parts(raw, text, unknown)
        parameters = [part for part in parts if isinstance(part, Parameter)]
        for parameter in parameters:
            if parameter.name.casefold() in names:
                raise RouteTemplateError(f"route '{text}' repeats parameter '{parameter.name}'")
            names.add(parameter.name.casefold())
        is_last = position == len(raw_segments) - 1
        if len(parts) > 1:
            if any(p.catch_all or p.optional for p in parameters):
                raise RouteTemplateError(
                    f"route '{text}': optional and catch-all parameters must fill a whole segment"
                )
            segments.append(Segment(parts=parts, pattern=_complex_pattern(parts)))
            continue
        only = parts[0]
        if isinstance(only, Parameter) and only.catch_all and not is_last:
            raise RouteTemplateError(f"route '{text}': a catch-all must be the last segment")
        segments.append(Segment(parts=parts))
    _check_optional_tail(text, segments)
    return RouteTemplate(text=text, segments=tuple(segments), unknown_constraints=tuple(unknown))


def _check_optional_tail(text: str, segments: Sequence[Segment]) -> None:
    # A missing segment can only be skipped at the end of the path, so optional parameters may
    # only be followed by other optional or catch-all parameters.
    seen_optional = False
    for segment in segments:
        parameter = segment.parameter
        skippable = parameter is not None and (
            parameter.optional or parameter.catch_all or parameter.default is not None
        )
        if seen_optional and not skippable:
            raise RouteTemplateError(
                f"route '{text}': an optional parameter must be followed only by optional ones"
            )
        seen_optional = seen_optional or skippable


def _parse_parts(raw: str, template: str, unknown: list[str]) -> tuple[Part, ...]:
    parts: list[Part] = []
    literal: list[str] = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if raw.startswith("{{", index) or raw.startswith("}}", index):
            literal.append(char)
            index += 2
        elif char == "{":
            end = _parameter_end(raw, index + 1, template)
            if literal:
                parts.append("".join(literal))
                literal = []
            elif parts and isinstance(parts[-1], Parameter):
                raise RouteTemplateError(f"route '{template}': two parameters need a literal between them")
            body = raw[index + 1 : end].replace("{{", "{").replace("}}", "}")
            parts.append(_parse_parameter(body, template, unknown))
            index = end + 1
        elif char == "}":
            raise RouteTemplateError(f"route '{template}' has an unmatched '}}'")
        else:
            literal.append(char)
            index += 1
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


def _parameter_end(raw: str, start: int, template: str) -> int:
    index = start
    while index < len(raw):
        if raw.startswith("{{", index) or raw.startswith("}}", index):
            index += 2
        elif raw[index] == "}":
            return index
        elif raw[index] == "{":
            break
        else:
            index += 1
    raise RouteTemplateError(f"route '{template}' has an unmatched '{{'")


_NAME = re.compile(r"[^{}/?*=:()]+")


def _parse_parameter(body: str, template: str, unknown: list[str]) -> Parameter:
    catch_all = body.startswith("*")
    body = body.lstrip("*")
    default: str | None = None
    pieces = _split_top_level(body, "=")
    if len(pieces) > 1:
        body, default = pieces[0], "=".join(pieces[1:])
    optional = body.endswith("?")
    body = body.removesuffix("?")
    name, *constraint_texts = _split_top_level(body, ":")
    if not _NAME.fullmatch(name):
        raise RouteTemplateError(f"route '{template}' has an invalid parameter name '{name}'")
    if optional and default is not None:
        raise RouteTemplateError(f"route '{template}': '{name}' cannot be optional with a default")
    constraints = []
    for constraint_text in constraint_texts:
        try:
            constraint = parse_constraint(constraint_text)
        except ValueError as exc:
            raise RouteTemplateError(
                f"route '{template}': bad constraint '{constraint_text}': {exc}"
            ) from exc
        if constraint is None:
            unknown.append(constraint_text)
        else:
            constraints.append(constraint)
    return Parameter(
        name=name,
        constraints=tuple(constraints),
        optional=optional,
        default=default,
        catch_all=catch_all,
    )


def _split_top_level(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside parentheses, so ``regex(a:b)`` stays whole."""
    pieces: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        if char == separator and depth == 0:
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
    pieces.append("".join(current))
    return pieces


def _complex_pattern(parts: Iterable[Part]) -> re.Pattern[str]:
    # Greedy groups give the last separator to the last parameter ("a.b.c" -> "a.b" + "c"),
    # which is what ASP.NET's right-to-left matching of complex segments yields.
    regex = "".join(
        f"(?P<{_group(part.name)}>.+)" if isinstance(part, Parameter) else re.escape(part) for part in parts
    )
    return re.compile(regex, re.IGNORECASE)


def _group(name: str) -> str:
    if not name.isidentifier():
        raise RouteTemplateError(f"parameter '{name}' in a complex segment must be an identifier")
    return name


# --- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route[T]:
    template: RouteTemplate
    methods: frozenset[str] | None  # None accepts every method
    target: T

    def allows(self, method: str) -> bool:
        return self.methods is None or method in self.methods


@dataclass(frozen=True)
class Resolved[T]:
    """What a request resolves to: a target and its route values, or which methods would do."""

    route: Route[T] | None = None
    values: dict[str, str] = field(default_factory=dict)
    allowed_methods: frozenset[str] = frozenset()  # non-empty when only the method is wrong


# Resolutions a route table remembers before it starts again (paths come from clients).
_RESOLVED_MAX = 1024


class RouteTable[T]:
    """Routes ordered most-specific first; resolution is deterministic."""

    def __init__(self, routes: Iterable[Route[T]]) -> None:
        self.routes: tuple[Route[T], ...] = tuple(
            sorted(routes, key=lambda r: (r.template.precedence(), r.template.text.casefold()))
        )
        self._resolved: dict[tuple[str, tuple[str, ...]], Resolved[T]] = {}

    def resolve(self, method: str, path: Sequence[str]) -> Resolved[T]:
        # Remembered per method and path (bounded; the table never changes): a busy route's
        # requests repeat their paths, and matching each against every template cost a few
        # percent of the host's CPU in bench/delivery.
        key = (method, tuple(path))
        known = self._resolved.get(key)
        if known is None:
            known = self._resolve(method, path)
            if len(self._resolved) >= _RESOLVED_MAX:
                self._resolved.clear()
            self._resolved[key] = known
        # The caller gets its own route values to keep.
        return Resolved(route=known.route, values=dict(known.values), allowed_methods=known.allowed_methods)

    def _resolve(self, method: str, path: Sequence[str]) -> Resolved[T]:
        allowed: set[str] = set()
        for route in self.routes:
            values = route.template.match(path)
            if values is None:
                continue
            # A route that matches the path but not the method must not hide a less specific
            # route that accepts the method; that is how endpoint routing's method policy works.
            if route.allows(method):
                return Resolved(route=route, values=values)
            allowed.update(route.methods or ())
        return Resolved(allowed_methods=frozenset(allowed))
