"""Event types imported from an OpenAPI document through the svix SDK (`event_type.import_openapi`).

Each test has a tenant of its own: `replaceAll` acts on every event type of the tenant.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from svix.api import EventTypeImportOpenApiIn, EventTypeIn, EventTypeListOptions, Svix, SvixOptions
from svix.exceptions import HttpError, HTTPValidationError

from tests.support.tokens import Minter

PET = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {"id": {"type": "integer", "format": "int64"}, "name": {"type": "string"}},
}
SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Webhook Example", "version": "1.0.0"},
    "webhooks": {
        "pet.new": {
            "post": {
                "requestBody": {
                    "description": "Information about a new pet in the system",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}},
                },
                "responses": {"200": {"description": "OK"}},
            }
        },
        "TreeGrown": {
            "post": {
                "summary": "A tree grew",
                "deprecated": True,
                "x-svix-event-type": "tree.grown",
                "x-svix-group-name": "trees",
                "x-svix-feature-flags": ["beta"],
                "requestBody": {"$ref": "#/components/requestBodies/Tree"},
            }
        },
    },
    "components": {
        "schemas": {
            "Pet": PET,
            "Tree": {
                "type": "object",
                "properties": {
                    "owner": {"$ref": "#/components/schemas/Pet", "description": "Who planted it"},
                    "children": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}},
                },
            },
        },
        "requestBodies": {
            "Tree": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Tree"}}}}
        },
    },
}
TREE = {
    "type": "object",
    "properties": {
        "owner": {**PET, "description": "Who planted it"},
        "children": {"type": "array", "items": {"$ref": "#/definitions/Tree"}},
    },
}
TREE_SCHEMA = {
    **TREE,
    "definitions": {"Tree": TREE},
}


@pytest.fixture
def own(herald_url: str, mint: Minter) -> Callable[..., Svix]:
    """A client for a tenant of the test's own: `own()` with every scope, `own(scopes)` with fewer."""
    tenant = f"tenant-{uuid.uuid4().hex[:12]}"
    return lambda scopes="herald.read herald.write herald.admin": Svix(
        mint(tenant, scopes), SvixOptions(server_url=herald_url)
    )


def _names(svix: Svix, *, archived: bool = False) -> dict[str, bool]:
    page = svix.event_type.list(EventTypeListOptions(limit=250, include_archived=archived))
    return {et.name: bool(et.archived) for et in page.data}


def test_import_creates_event_types_from_webhooks_with_their_schemas(own: Callable[..., Svix]) -> None:
    svix = own()
    preview = svix.event_type.import_openapi(EventTypeImportOpenApiIn(spec=SPEC, dry_run=True))
    assert preview.data.modified == []
    assert [et.name for et in preview.data.to_modify or []] == ["pet.new", "tree.grown"]
    assert _names(svix, archived=True) == {}, "a dry run writes nothing"

    done = svix.event_type.import_openapi(EventTypeImportOpenApiIn(spec=SPEC))
    assert done.data.modified == ["pet.new", "tree.grown"]
    pet = svix.event_type.get("pet.new")
    assert (pet.description, pet.schemas, pet.deprecated, pet.archived) == (
        "Information about a new pet in the system",
        {"1": PET},
        False,
        False,
    )
    tree = svix.event_type.get("tree.grown")
    # Every $ref inlined; the self-reference kept through a definition of the schema's own.
    assert tree.schemas == {"1": TREE_SCHEMA}
    assert (tree.description, tree.deprecated, tree.group_name, tree.feature_flags) == (
        "A tree grew",
        True,
        "trees",
        ["beta"],
    )

    again = svix.event_type.import_openapi(EventTypeImportOpenApiIn(spec=SPEC))
    assert again.data.modified == [], "what already matches the document is not written again"


def test_replace_all_archives_the_others_and_an_import_unarchives(own: Callable[..., Svix]) -> None:
    svix = own()
    svix.event_type.create(EventTypeIn(name="old.thing", description="gone soon"))
    svix.event_type.create(EventTypeIn(name="pet.new", description="was archived"))
    svix.event_type.delete("pet.new")
    spec = {**SPEC, "webhooks": {"pet.new": SPEC["webhooks"]["pet.new"]}}

    kept = svix.event_type.import_openapi(EventTypeImportOpenApiIn(spec=spec))
    assert kept.data.modified == ["pet.new"]
    assert _names(svix, archived=True) == {"old.thing": False, "pet.new": False}

    svix.event_type.create(EventTypeIn(name="other", description="d"))
    replaced = svix.event_type.import_openapi(EventTypeImportOpenApiIn(spec=spec, replace_all=True))
    assert sorted(replaced.data.modified) == ["old.thing", "other"]
    assert _names(svix, archived=True) == {"old.thing": True, "other": True, "pet.new": False}
    assert svix.event_type.get("old.thing").description == "gone soon", "archived, not changed"


YAML_SPEC = """
openapi: 3.0.3
info: {title: Example, version: "1"}
x-webhooks:
  invoice.paid:
    post:
      description: An invoice was paid
      x-svix-feature-flag: billing
      requestBody:
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Invoice"}
      responses:
        200: {description: OK}
components:
  schemas:
    Money: &money {type: object, properties: {amount: {type: integer}, currency: {type: string}}}
    Invoice:
      type: object
      properties:
        id: {type: string, example: 2026-01-01}
        total: *money
        due: {$ref: "#/components/schemas/Money"}
"""


def test_spec_raw_is_read_as_yaml_or_json(own: Callable[..., Svix]) -> None:
    svix = own()
    svix.event_type.import_openapi(EventTypeImportOpenApiIn(spec_raw=YAML_SPEC))
    invoice = svix.event_type.get("invoice.paid")
    money = {"type": "object", "properties": {"amount": {"type": "integer"}, "currency": {"type": "string"}}}
    assert invoice.schemas == {
        "1": {
            "type": "object",
            # YAML's unquoted date is text in JSON.
            "properties": {"id": {"type": "string", "example": "2026-01-01"}, "total": money, "due": money},
        }
    }
    assert (invoice.description, invoice.feature_flags) == ("An invoice was paid", ["billing"])
    svix.event_type.import_openapi(EventTypeImportOpenApiIn(spec_raw=json.dumps(SPEC)))
    assert svix.event_type.get("pet.new").schemas == {"1": PET}


def _webhook(schema: Any) -> dict[str, Any]:
    return {"post": {"requestBody": {"content": {"application/json": {"schema": schema}}}}}


def _ref_bomb(levels: int) -> dict[str, Any]:
    # Each level refers to the next twice: 2**levels copies once inlined.
    schemas: dict[str, Any] = {
        f"S{n}": {
            "properties": {
                "a": {"$ref": f"#/components/schemas/S{n + 1}"},
                "b": {"$ref": f"#/components/schemas/S{n + 1}"},
            }
        }
        for n in range(levels)
    }
    schemas[f"S{levels}"] = {"type": "string"}
    return {
        "webhooks": {"x": _webhook({"$ref": "#/components/schemas/S0"})},
        "components": {"schemas": schemas},
    }


def _laughs() -> str:
    # YAML's billion laughs: nine aliases of nine aliases of ... of one list.
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 10)]
    return "\n".join([*lines, "webhooks: {x: {post: {}}}"])


def _chain(length: int) -> dict[str, Any]:
    # Each schema nests the next two levels down: deeper than 64 levels once inlined.
    schemas: dict[str, Any] = {
        f"C{n}": {"type": "object", "properties": {"next": {"$ref": f"#/components/schemas/C{n + 1}"}}}
        for n in range(length)
    }
    schemas[f"C{length}"] = {"type": "string"}
    return {
        "webhooks": {"x": _webhook({"$ref": "#/components/schemas/C0"})},
        "components": {"schemas": schemas},
    }


HOSTILE: dict[str, tuple[dict[str, Any], str]] = {
    "a name outside Svix's pattern": ({"spec": {"webhooks": {"pet new": {"post": {}}}}}, "webhooks"),
    "an x-svix-event-type outside the pattern": (
        {"spec": {"webhooks": {"a": {"post": {"x-svix-event-type": "a/../b"}}}}},
        "x-svix-event-type",
    ),
    "a group name outside the pattern": (
        {"spec": {"webhooks": {"a": {"post": {"x-svix-group-name": "a b"}}}}},
        "x-svix-group-name",
    ),
    "a reference to another host (never fetched)": (
        {"spec": {"webhooks": {"x": _webhook({"$ref": "http://169.254.169.254/latest/meta-data"})}}},
        "refers outside",
    ),
    "a reference to a file": (
        {"spec": {"webhooks": {"x": _webhook({"$ref": "other.yaml#/Pet"})}}},
        "refers outside",
    ),
    "a reference to nothing": (
        {"spec": {"webhooks": {"x": _webhook({"$ref": "#/components/schemas/Nope"})}}},
        "nothing",
    ),
    "a reference bomb": ({"spec": _ref_bomb(30)}, "larger than"),
    "nesting that $refs make too deep": ({"spec": _chain(40)}, "deeper than"),
    "a reference loop of path items": (
        {"spec": {"webhooks": {"x": {"$ref": "#/webhooks/x"}}}},
        "$refs in a row",
    ),
    "no webhooks": ({"spec": {"openapi": "3.1.0", "paths": {}}}, "no webhooks"),
    "two webhooks naming one event type": (
        {"spec": {"webhooks": {"a": {"post": {"x-svix-event-type": "b"}}, "b": {"post": {}}}}},
        "another webhook",
    ),
    "too many webhooks": (
        {"spec": {"webhooks": {f"e{n}": {"post": {}} for n in range(1001)}}},
        "more than 1000",
    ),
    "YAML that is not YAML": ({"specRaw": "webhooks: [unclosed"}, "neither JSON nor YAML"),
    "YAML's billion laughs": ({"specRaw": _laughs()}, "aliases are expanded"),
    "a long YAML string aliased many times": (
        {
            "specRaw": f"d: &d {'x' * 100_000}\nwebhooks:\n"
            + "".join(f"  e{n}: {{post: {{description: *d}}}}\n" for n in range(30))
        },
        "characters of text",
    ),
    "descriptions and schemas larger than a stored answer": (
        {"spec": {"webhooks": {f"e{n}": {"post": {"description": "x" * 200_000}} for n in range(4)}}},
        "in all",
    ),
    "a YAML alias that contains itself": ({"specRaw": "webhooks: &w {x: {post: {a: *w}}}"}, "deeper than"),
    "YAML nested too deep": ({"specRaw": "[" * 200 + "]" * 200}, "deeper than"),
    "YAML binary data": ({"specRaw": "webhooks: {x: {post: {a: !!binary aGk=}}}"}, "cannot write"),
    "YAML .nan": ({"specRaw": "webhooks: {x: {post: {a: .nan}}}"}, "cannot write"),
    "YAML that is a list": ({"specRaw": "- webhooks"}, "an object"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_document_that_breaks_a_rule_is_refused_with_422_and_writes_nothing(
    case: str, herald_url: str, mint: Minter
) -> None:
    body, says = HOSTILE[case]
    tenant = f"tenant-{uuid.uuid4().hex[:12]}"
    headers = {"authorization": f"Bearer {mint(tenant)}"}
    answer = httpx.post(
        f"{herald_url}/api/v1/event-type/import/openapi", json=body, headers=headers, timeout=30
    )
    assert answer.status_code == 422, answer.text[:300]
    (error,) = answer.json()["detail"]
    assert error["loc"][:2] == ["body", "spec" if "spec" in body else "specRaw"]
    assert says in error["msg"] or says in error["loc"], error
    listed = httpx.get(
        f"{herald_url}/api/v1/event-type", params={"include_archived": "true"}, headers=headers
    )
    assert listed.json()["data"] == []


def test_spec_and_spec_raw_are_one_or_the_other_and_admin_only(own: Callable[..., Svix]) -> None:
    svix = own()
    for both_or_neither in (EventTypeImportOpenApiIn(), EventTypeImportOpenApiIn(spec=SPEC, spec_raw="{}")):
        with pytest.raises(HttpError) as refused:
            svix.event_type.import_openapi(both_or_neither)
        assert refused.value.status_code == 400
    with pytest.raises(HTTPValidationError):
        svix.event_type.import_openapi(EventTypeImportOpenApiIn(spec_raw="not: [yaml"))
    writer = own("herald.read herald.write")
    with pytest.raises(HttpError) as forbidden:
        writer.event_type.import_openapi(EventTypeImportOpenApiIn(spec=SPEC))
    assert forbidden.value.status_code == 403
    assert _names(svix, archived=True) == {}
