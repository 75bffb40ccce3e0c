"""Route contracts: the query parsing and the OpenAPI document come from the same models.

Pure: no emulator, no server. Builds the document once (about 0.3 s) and parses a few hundred
query strings.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

import function_app  # noqa: F401 (registers every route, as the host does)
from blueprints._http import ROUTES, Call, Reply, api_function, parse_query
from shared.errors import ValidationFailedError
from shared.openapi import RouteContract, build_document
from shared.queries import (
    AttemptsByEndpointQuery,
    AttemptsByMessageQuery,
    BackgroundTaskListQuery,
    DescendingListQuery,
    MessageListQuery,
    StatsWindowQuery,
)
from shared.scopes import Scope

BLUEPRINTS = Path(__file__).resolve().parents[2] / "blueprints"


@cache
def _document() -> dict[str, Any]:
    return build_document(ROUTES, version="test")


def _operation(route: RouteContract) -> dict[str, Any]:
    operation: dict[str, Any] = _document()["paths"]["/api/" + route.route][route.method.lower()]
    return operation


def _listed(route: RouteContract) -> list[dict[str, Any]]:
    return [p for p in _operation(route)["parameters"] if p["in"] == "query"]


def _errors(model: type[Any], params: dict[str, str]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationFailedError) as caught:
        parse_query(model, params)
    return caught.value.errors


def _sample(schema: dict[str, Any], default: Any) -> tuple[str, Any]:
    """A value of a parameter's documented schema other than its default: (on the wire, parsed)."""
    if "$ref" in schema:
        schema = _document()["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    if "enum" in schema:
        value = next(member for member in reversed(schema["enum"]) if member != default)
        return str(value), value
    if schema["type"] == "boolean":
        return ("false", False) if default else ("true", True)
    if schema["type"] == "integer":
        value = schema["minimum"] if schema["minimum"] != default else schema["maximum"]
        return str(value), value
    if schema.get("format") == "date-time":
        return "2024-01-02T03:04:05+01:00", "2024-01-02T02:04:05Z"
    assert schema == {"type": "string"}, schema
    return "x-1", "x-1"


def test_every_route_reads_exactly_the_query_parameters_its_document_lists() -> None:
    with_query = 0
    for route in ROUTES:
        model = route.query_model()
        listed = _listed(route)
        readable = list(model.model_fields) if model is not None else []
        assert [p["name"] for p in listed] == readable, route.name
        if model is None:
            continue
        with_query += 1
        defaults = parse_query(model, {})
        samples = {}
        for parameter in listed:
            name = parameter["name"]
            wire, parsed = _sample(parameter["schema"], getattr(defaults, name))
            # Each parameter is read under the name listed, as the type listed.
            assert getattr(parse_query(model, {name: wire}), name) == parsed, (route.name, name)
            samples[name] = wire
        # And all of them together, as an SDK sends them.
        parse_query(model, samples)
    assert with_query >= 18


def test_no_handler_reads_the_query_string_but_through_its_model() -> None:
    for path in sorted(BLUEPRINTS.glob("*.py")):
        if path.name == "_http.py":
            continue
        tree = ast.parse(path.read_text())
        reads = [
            node.lineno
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "params"
        ]
        assert reads == [], f"{path.name} reads the query string at lines {reads}"


def test_every_query_parameter_is_described_and_typed_by_its_model() -> None:
    for route in ROUTES:
        for parameter in _listed(route):
            where = (route.name, parameter["name"])
            assert parameter["description"], where
            assert parameter["required"] is False, where
            schema = parameter["schema"]
            assert "type" in schema or "$ref" in schema, where
            assert "anyOf" not in schema and "title" not in schema, where


def test_the_document_takes_defaults_and_enums_from_the_models() -> None:
    by_name = {route.name: route for route in ROUTES}
    messages = {p["name"]: p["schema"] for p in _listed(by_name["list_messages"])}
    assert messages["with_content"] == {"type": "boolean", "default": True}
    assert messages["order"] == {
        "type": "string",
        "enum": ["ascending", "descending"],
        "default": "descending",
    }
    assert messages["limit"] == {"type": "integer", "minimum": 1, "maximum": 250, "default": 50}
    assert messages["before"] == {"type": "string", "format": "date-time"}
    event_types = {p["name"]: p["schema"] for p in _listed(by_name["list_event_types"])}
    assert event_types["with_content"] == {"type": "boolean", "default": False}
    assert event_types["order"]["default"] == "ascending"
    attempts = {p["name"]: p["schema"] for p in _listed(by_name["list_attempts_by_endpoint"])}
    assert attempts["status_code_class"] == {"$ref": "#/components/schemas/StatusCodeClass"}
    assert _document()["components"]["schemas"]["StatusCodeClass"]["enum"] == [0, 100, 200, 300, 400, 500]
    # Query models are spelled out as parameters, not published as body schemas.
    assert not [name for name in _document()["components"]["schemas"] if name.endswith("Query")]


def test_a_parameter_a_route_does_not_declare_is_ignored() -> None:
    assert "with_msg" not in AttemptsByMessageQuery.model_fields
    assert parse_query(AttemptsByMessageQuery, {"with_msg": "maybe"}) == parse_query(
        AttemptsByMessageQuery, {}
    )
    assert _errors(AttemptsByEndpointQuery, {"with_msg": "maybe"}) == [
        {"loc": ["query", "with_msg"], "msg": "with_msg must be true or false", "type": "type_error.bool"}
    ]


@pytest.mark.parametrize(
    ("wire", "parsed"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("", True),
    ],
)
def test_booleans_are_true_false_1_or_0_and_empty_is_the_default(wire: str, parsed: bool) -> None:
    assert parse_query(MessageListQuery, {"with_content": wire}).with_content is parsed


def test_timestamps_need_a_zone_and_are_normalized_to_the_stored_form() -> None:
    window = parse_query(StatsWindowQuery, {"since": "2024-01-02T03:04:05+01:00", "until": ""})
    assert (window.since, window.until) == ("2024-01-02T02:04:05Z", None)
    # A `+` the caller did not encode arrives as a space.
    assert (
        parse_query(StatsWindowQuery, {"since": "2024-01-02T03:04:05 01:00"}).since == "2024-01-02T02:04:05Z"
    )
    for bad in ("2024-01-02T03:04:05", "yesterday"):
        assert _errors(StatsWindowQuery, {"since": bad}) == [
            {
                "loc": ["query", "since"],
                "msg": "since must be an ISO 8601 time with a zone",
                "type": "value_error",
            }
        ]


def test_list_parameters_keep_their_rules_and_refusals() -> None:
    params = parse_query(
        DescendingListQuery, {"limit": "250", "iterator": "", "order": "ascending"}
    ).list_params()
    assert (params.limit, params.iterator, params.order) == (250, None, "ascending")
    assert _errors(DescendingListQuery, {"limit": "ten"}) == [
        {"loc": ["query", "limit"], "msg": "limit must be an integer", "type": "type_error.integer"}
    ]
    for bad in ("0", "251"):
        assert _errors(DescendingListQuery, {"limit": bad}) == [
            {"loc": ["query", "limit"], "msg": "limit must be between 1 and 250", "type": "value_error"}
        ]
    assert _errors(DescendingListQuery, {"order": "sideways"}) == [
        {"loc": ["query", "order"], "msg": "order must be 'ascending' or 'descending'", "type": "value_error"}
    ]


def test_enumerated_filters_are_refused_with_the_values_they_take() -> None:
    assert _errors(AttemptsByMessageQuery, {"status": "9"}) == [
        {"loc": ["query", "status"], "msg": "unknown status", "type": "value_error"}
    ]
    assert _errors(AttemptsByMessageQuery, {"status_code_class": "600"}) == [
        {
            "loc": ["query", "status_code_class"],
            "msg": "status_code_class must be one of 0, 100, 200, 300, 400, 500",
            "type": "value_error",
        }
    ]
    assert _errors(BackgroundTaskListQuery, {"status": "paused"}) == [
        {
            "loc": ["query", "status"],
            "msg": "status must be one of: running, finished, failed",
            "type": "value_error",
        }
    ]
    assert parse_query(BackgroundTaskListQuery, {"status": "", "task": "endpoint.recover"}).filters() == {
        "status": None,
        "task": "endpoint.recover",
    }


def test_a_handler_must_name_its_models_and_take_only_call_body_and_query() -> None:
    bp, registered = func.Blueprint(), len(ROUTES)

    async def by_class(call: Call, body: Any) -> Reply:
        return 204, None

    # What a module without `from __future__ import annotations` would hold: the class itself,
    # imported for real, which would load pydantic at every cold start.
    by_class.__annotations__["body"] = dict

    async def other_input(call: Call, data: Any) -> Reply:
        return 204, None

    async def no_call(body: Any) -> Reply:
        return 204, None

    for handler in (by_class, other_input, no_call):
        with pytest.raises(TypeError, match=handler.__name__):
            api_function(bp, "refused", "v1/refused", ["POST"], scope=Scope.WRITE)(handler)
    assert len(ROUTES) == registered
