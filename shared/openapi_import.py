"""Event types from an OpenAPI document's webhooks (Svix's `POST /event-type/import/openapi`).

Each entry of the document's `webhooks` (OpenAPI 3.1) or `x-webhooks` (3.0) is one event type:
named by its key, or by the operation's `x-svix-event-type`; described by the operation's
`description` (else its `summary`, else the request body's); `deprecated` as the operation says;
`x-svix-group-name` and `x-svix-feature-flags` (or the single `x-svix-feature-flag`) set its group
and flags; its schema is the JSON schema of the request body, stored as version "1" of `schemas`.

Schemas are stored self-contained: every `$ref` into the document (`#/...`, RFC 6901 pointers) is
inlined, and a schema that refers to itself keeps `$ref`s to a `definitions` entry of its own.
References outside the document are refused, never fetched. The document comes from a tenant, so
everything it can make Herald do is bounded: its YAML is read by the safe loader, its anchors and
aliases expanded at most to `MAX_DOCUMENT_NODES` values and `MAX_DOCUMENT_CHARS` characters; each
schema once inlined holds at most `MAX_SCHEMA_NODES` values, `MAX_SCHEMA_CHARS` characters and
`jsonbody.MAX_DEPTH` levels, all schemas and descriptions together the `MAX_TOTAL_*` bounds; at
most `MAX_WEBHOOKS` webhooks. What breaks a rule is a 422 naming the place; nothing is written.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from shared import jsonbody
from shared.errors import BadRequestError, ValidationFailedError
from shared.models import EventTypeFromOpenApi

MAX_WEBHOOKS = 1000
# The document once YAML aliases are expanded: its nodes (objects, arrays and scalars), and the
# characters of its strings and keys (an alias of a long string counts each time).
MAX_DOCUMENT_NODES = 500_000
MAX_DOCUMENT_CHARS = 2 * 1024 * 1024
# What inlining may make of the schemas: values, and characters of their strings and keys (a
# string referred to from many places counts each time). The totals keep a dry run's answer,
# which shows every schema and is stored for its idempotency key, within a Cosmos DB item.
MAX_SCHEMA_NODES = 20_000
MAX_SCHEMA_CHARS = 512 * 1024
MAX_TOTAL_NODES = 100_000
MAX_TOTAL_CHARS = 768 * 1024
# `$ref`s followed in a row without an object or array between them.
MAX_REF_HOPS = 64
_NAME = re.compile(r"^[a-zA-Z0-9\-_.]{1,256}$")
_DEFINITION_KEY = re.compile(r"[^a-zA-Z0-9\-_.]")
# The methods a webhook's path item may use, in the order one is chosen.
_METHODS = ("post", "put", "patch", "get", "delete", "options", "head", "trace")
_SURROGATE = re.compile("[\ud800-\udfff]")

Loc = list[str | int]


def _invalid(loc: Loc, msg: str) -> ValidationFailedError:
    return ValidationFailedError.single(loc, msg)


def parse(spec: dict[str, Any] | None, spec_raw: str | None) -> list[EventTypeFromOpenApi]:
    """The event types the document describes, in its order.

    :raises BadRequestError: neither or both of `spec` and `specRaw` (400, as Svix answers).
    :raises ValidationFailedError: the document, a webhook or a schema breaks a rule (422).
    """
    if (spec is None) == (spec_raw is None):
        raise BadRequestError("Send exactly one of spec and specRaw.", code="bad_request")
    if spec is not None:
        return _Document(spec, ["body", "spec"]).event_types()
    assert spec_raw is not None
    return _Document(_load_text(spec_raw), ["body", "specRaw"]).event_types()


def _load_text(text: str) -> dict[str, Any]:
    """`specRaw` as plain JSON data: JSON as the API reads bodies, else YAML (safe loader)."""
    loc: Loc = ["body", "specRaw"]
    value: Any
    try:
        value = jsonbody.loads(text)
    except BadRequestError:
        value = _load_yaml(text, loc)
    if not isinstance(value, dict):
        raise _invalid(loc, "must be an OpenAPI document (an object)")
    return value


def _load_yaml(text: str, loc: Loc) -> Any:
    import yaml  # loaded with the first import of a YAML document, not at start

    # libyaml (shipped in PyYAML's wheels) refuses documents nested beyond its own limit instead
    # of recursing into them; the pure-Python loader recurses, caught below.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        raw = yaml.load(text, Loader=loader)  # noqa: S506 (a safe loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise _invalid(loc, f"is neither JSON nor YAML{where}") from None
    except yaml.YAMLError:
        raise _invalid(loc, "is neither JSON nor YAML") from None
    except RecursionError:
        raise _invalid(loc, f"nests deeper than {jsonbody.MAX_DEPTH} levels") from None
    return _plain(raw, loc)


def _plain(raw: Any, loc: Loc) -> Any:
    """A YAML value as JSON data, level by level (anchors can make it cyclic or enormous)."""
    budget, chars = MAX_DOCUMENT_NODES, MAX_DOCUMENT_CHARS
    root: list[Any] = [None]
    # (value, container, key, depth): each value is written into its converted parent.
    pending: list[tuple[Any, Any, Any, int]] = [(raw, root, 0, 0)]
    while pending:
        value, parent, key, depth = pending.pop()
        budget -= 1
        if budget < 0:
            raise _invalid(loc, f"has more than {MAX_DOCUMENT_NODES} values once its aliases are expanded")
        if isinstance(value, dict | list) and depth >= jsonbody.MAX_DEPTH:
            raise _invalid(loc, f"nests deeper than {jsonbody.MAX_DEPTH} levels")
        chars -= (
            len(value)
            if isinstance(value, str)
            else sum(map(len, map(str, value)))
            if isinstance(value, dict)
            else 0
        )
        if chars < 0:
            raise _invalid(
                loc, f"has more than {MAX_DOCUMENT_CHARS} characters of text once its aliases are expanded"
            )
        converted: Any
        if isinstance(value, dict):
            converted = {}
            pending.extend((item, converted, _key(name, loc), depth + 1) for name, item in value.items())
        elif isinstance(value, list):
            converted = [None] * len(value)
            pending.extend((item, converted, index, depth + 1) for index, item in enumerate(value))
        else:
            converted = _scalar(value, loc)
        parent[key] = converted
    return root[0]


def _key(name: Any, loc: Loc) -> str:
    # YAML reads `200:` as an integer key; JSON keys are strings.
    if isinstance(name, str):
        return _text(name, loc)
    if isinstance(name, bool | int | float) or name is None:
        return json.dumps(name)
    if isinstance(name, dt.date):
        return name.isoformat()
    raise _invalid(loc, "has a key that is not text")


def _scalar(value: Any, loc: Loc) -> Any:
    if isinstance(value, str):
        return _text(value, loc)
    if isinstance(value, float) and not math.isfinite(value):
        raise _invalid(loc, "holds a number JSON cannot write (.nan or .inf)")
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dt.date):
        # YAML reads an unquoted 2026-01-01 as a date; JSON has only its text.
        return value.isoformat()
    raise _invalid(loc, "holds a value JSON cannot write (binary data or a set)")


def _text(value: str, loc: Loc) -> str:
    if _SURROGATE.search(value):
        raise _invalid(loc, "holds a lone UTF-16 surrogate")
    return value


@dataclass
class _Budget:
    total: int = MAX_TOTAL_NODES
    total_chars: int = MAX_TOTAL_CHARS
    schema: int = MAX_SCHEMA_NODES
    schema_chars: int = MAX_SCHEMA_CHARS


class _Document:
    def __init__(self, document: dict[str, Any], loc: Loc) -> None:
        self._doc = document
        self._loc = loc
        self._budget = _Budget()

    def event_types(self) -> list[EventTypeFromOpenApi]:
        webhooks: dict[str, tuple[Any, Loc]] = {}
        for section in ("x-webhooks", "webhooks"):
            entries = self._doc.get(section)
            if entries is None:
                continue
            if not isinstance(entries, dict):
                raise _invalid([*self._loc, section], "must be an object of webhooks")
            # `webhooks` (the standard section) wins over `x-webhooks` for a name in both.
            webhooks.update({key: (item, [*self._loc, section, key]) for key, item in entries.items()})
        if not webhooks:
            raise _invalid(self._loc, "has no webhooks (neither `webhooks` nor `x-webhooks`)")
        if len(webhooks) > MAX_WEBHOOKS:
            raise _invalid(self._loc, f"has more than {MAX_WEBHOOKS} webhooks")
        found: dict[str, EventTypeFromOpenApi] = {}
        for key, (item, loc) in webhooks.items():
            event_type = self._event_type(key, item, loc)
            if event_type.name in found:
                raise _invalid(loc, f"names event type {event_type.name!r}, which another webhook names too")
            found[event_type.name] = event_type
        return list(found.values())

    def _event_type(self, key: str, item: Any, loc: Loc) -> EventTypeFromOpenApi:
        path_item = self._follow(item, loc)
        if not isinstance(path_item, dict):
            raise _invalid(loc, "must be a path item (an object)")
        method = next((m for m in _METHODS if isinstance(path_item.get(m), dict)), None)
        if method is None:
            raise _invalid(loc, "has no operation (post, put, ...)")
        operation: dict[str, Any] = path_item[method]
        op_loc = [*loc, method]
        named = "x-svix-event-type" in operation
        name = operation["x-svix-event-type"] if named else key
        self._check_name(name, [*op_loc, "x-svix-event-type"] if named else loc, "event type name")
        body = self._follow(operation.get("requestBody"), [*op_loc, "requestBody"])
        body = body if isinstance(body, dict) else {}
        description = next(
            (
                text
                for text in (operation.get("description"), operation.get("summary"), body.get("description"))
                if isinstance(text, str) and text
            ),
            "",
        )
        group = operation.get("x-svix-group-name")
        if group is not None:
            self._check_name(group, [*op_loc, "x-svix-group-name"], "group name")
        flags = self._flags(operation, op_loc)
        # The description is stored (and a dry run answers it) like the schema: it counts in the totals.
        self.spend(loc, len(description), schema=False)
        schema = self._body_schema(body, [*op_loc, "requestBody"])
        return EventTypeFromOpenApi(
            name=name,
            description=description,
            schemas={"1": schema} if schema is not None else None,
            deprecated=operation.get("deprecated") is True,
            group_name=group,
            feature_flags=flags,
        )

    def _check_name(self, value: Any, loc: Loc, what: str) -> None:
        if not isinstance(value, str) or not _NAME.match(value):
            raise _invalid(loc, f"{what} must be 1 to 256 characters of letters, digits, '-', '_' and '.'")

    def _flags(self, operation: dict[str, Any], loc: Loc) -> list[str] | None:
        many = operation.get("x-svix-feature-flags")
        one = operation.get("x-svix-feature-flag")
        flags: list[Any] = []
        if one is not None:
            flags.append(one)
        if many is not None:
            if not isinstance(many, list):
                raise _invalid([*loc, "x-svix-feature-flags"], "must be a list of feature flags")
            flags.extend(many)
        for flag in flags:
            self._check_name(flag, [*loc, "x-svix-feature-flags"], "feature flag")
        return list(dict.fromkeys(flags)) or None

    def _body_schema(self, body: dict[str, Any], loc: Loc) -> Any:
        content = self._follow(body.get("content"), [*loc, "content"])
        if not isinstance(content, dict):
            return None
        media = next(
            (name for name in content if name.split(";")[0].strip().lower() == "application/json"),
            next((name for name in content if name.split(";")[0].strip().lower().endswith("+json")), None),
        )
        if media is None or not isinstance(content[media], dict) or "schema" not in content[media]:
            return None
        schema_loc = [*loc, "content", media, "schema"]
        self._budget.schema, self._budget.schema_chars = MAX_SCHEMA_NODES, MAX_SCHEMA_CHARS
        inliner = _Inliner(self, schema_loc)
        return inliner.schema(content[media]["schema"])

    def _follow(self, node: Any, loc: Loc) -> Any:
        """`node`, or what its `$ref` points to (path items, request bodies and content may be refs)."""
        for _ in range(MAX_REF_HOPS):
            if not (isinstance(node, dict) and isinstance(node.get("$ref"), str)):
                return node
            node = self.resolve(node["$ref"], loc)
        raise _invalid(loc, f"follows more than {MAX_REF_HOPS} $refs in a row")

    def resolve(self, ref: str, loc: Loc) -> Any:
        from jsonpointer import JsonPointerException, resolve_pointer

        if not ref.startswith("#"):
            raise _invalid(loc, f"refers outside the document ({ref[:200]!r}): only #/... is resolved")
        try:
            return resolve_pointer(self._doc, unquote(ref[1:]))
        except JsonPointerException:
            raise _invalid(loc, f"refers to nothing in the document ({ref[:200]!r})") from None

    def spend(self, loc: Loc, chars: int = 0, *, schema: bool = True) -> None:
        budget = self._budget
        if schema:
            budget.schema -= 1
            budget.schema_chars -= chars
        budget.total -= 1
        budget.total_chars -= chars
        if budget.schema < 0 or budget.schema_chars < 0:
            raise _invalid(
                loc,
                f"is larger than {MAX_SCHEMA_NODES} values or {MAX_SCHEMA_CHARS} characters once its "
                "$refs are inlined",
            )
        if budget.total < 0 or budget.total_chars < 0:
            raise _invalid(
                self._loc,
                f"has schemas and descriptions larger than {MAX_TOTAL_NODES} values or "
                f"{MAX_TOTAL_CHARS} characters in all once their $refs are inlined",
            )


@dataclass
class _Inliner:
    """One webhook's schema with every `$ref` inlined; self-references go through `definitions`."""

    document: _Document
    loc: Loc
    # Ref -> its key under `definitions`, for the refs met again inside themselves.
    recursive: dict[str, str] = field(default_factory=dict)

    def schema(self, node: Any) -> Any:
        root = self._inline(node, depth=0, active=(), hops=0)
        if not isinstance(root, dict | bool):
            raise _invalid(self.loc, "must be a JSON schema (an object or a boolean)")
        definitions: dict[str, Any] = {}
        done: set[str] = set()
        while pending := [ref for ref in self.recursive if ref not in done]:
            for ref in pending:
                done.add(ref)
                target = self.document.resolve(ref, self.loc)
                # Under root -> definitions -> key: two levels down.
                definitions[self.recursive[ref]] = self._inline(target, depth=2, active=(ref,), hops=0)
        if definitions:
            assert isinstance(root, dict)  # a boolean schema holds no $ref
            own = root.get("definitions")
            root["definitions"] = {**(own if isinstance(own, dict) else {}), **definitions}
        return root

    def _inline(self, node: Any, *, depth: int, active: tuple[str, ...], hops: int) -> Any:
        self.document.spend(
            self.loc,
            len(node) if isinstance(node, str) else sum(map(len, node)) if isinstance(node, dict) else 0,
        )
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref: str = node["$ref"]
            if ref in active:
                return {"$ref": f"#/definitions/{self._definition_key(ref)}"}
            if hops >= MAX_REF_HOPS:
                raise _invalid(self.loc, f"follows more than {MAX_REF_HOPS} $refs in a row")
            target = self._inline(
                self.document.resolve(ref, self.loc), depth=depth, active=(*active, ref), hops=hops + 1
            )
            siblings = {key: value for key, value in node.items() if key != "$ref"}
            if not siblings:
                return target
            # OpenAPI 3.1 lets keywords sit beside a $ref (a description, say): they apply too.
            extra = self._inline(siblings, depth=depth, active=active, hops=0)
            return {**target, **extra} if isinstance(target, dict) else {"allOf": [target], **extra}
        if isinstance(node, dict | list) and depth >= jsonbody.MAX_DEPTH:
            raise _invalid(
                self.loc, f"nests deeper than {jsonbody.MAX_DEPTH} levels once its $refs are inlined"
            )
        if isinstance(node, dict):
            return {
                key: self._inline(value, depth=depth + 1, active=active, hops=0)
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [self._inline(value, depth=depth + 1, active=active, hops=0) for value in node]
        return node

    def _definition_key(self, ref: str) -> str:
        if ref not in self.recursive:
            base = _DEFINITION_KEY.sub("_", unquote(ref).rsplit("/", 1)[-1]) or "schema"
            key, n = base, 1
            while key in self.recursive.values():
                n += 1
                key = f"{base}_{n}"
            self.recursive[ref] = key
        return self.recursive[ref]
