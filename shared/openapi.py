"""Route contracts, and the OpenAPI 3.1 document of Herald's API generated from them.

A route declares its contract once, where it is registered (`blueprints._http.api_function`):
the request parsing and this document both read it, so they cannot drift apart. Models are named,
not imported, and resolved on first use: registering routes at cold start imports no pydantic.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel

BODY_MODELS = "shared.models"
QUERY_MODELS = "shared.queries"


@dataclass(frozen=True)
class RouteContract:
    """What one route takes and answers."""

    name: str
    method: str
    # Relative to the API root, e.g. "v1/app/{app_id}".
    route: str
    scope: str | None
    # The name of a model of `shared.models` the JSON body must satisfy.
    body: str | None = None
    # The name of a model of `shared.queries`: the query parameters the route reads.
    query: str | None = None
    # The name of a model of `shared.models`; "ListResponse[X]" for a page of X.
    returns: str | None = None
    status: int = 200
    # The capability an app portal token needs here; None: no portal token may call the route.
    portal: str | None = None

    def body_model(self) -> type[BaseModel] | None:
        return None if self.body is None else resolve(BODY_MODELS, self.body)

    def query_model(self) -> type[BaseModel] | None:
        return None if self.query is None else resolve(QUERY_MODELS, self.query)

    def returns_model(self) -> type[BaseModel] | None:
        return None if self.returns is None else resolve(BODY_MODELS, self.returns)


@cache
def resolve(module: str, name: str) -> type[BaseModel]:
    """The model `module.name`; `name` may be a generic of one parameter, e.g. "ListResponse[X]"."""
    models = importlib.import_module(module)
    generic = re.fullmatch(r"(\w+)\[(\w+)\]", name)
    model: type[BaseModel] = (
        getattr(models, generic.group(1))[getattr(models, generic.group(2))]
        if generic
        else getattr(models, name)
    )
    return model


def _parameter_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A query field's JSON schema as a parameter's: no title, and no null (a parameter that may
    be left out says so with `required: false`; on the wire there is no null)."""
    plain = {key: value for key, value in schema.items() if key not in ("title", "description")}
    variants = [variant for variant in plain.pop("anyOf", []) if variant != {"type": "null"}]
    if len(variants) == 1:
        plain = {**variants[0], **plain}
    elif variants:
        plain["anyOf"] = variants
    if plain.get("default", ...) is None:
        del plain["default"]
    return plain


def query_parameters(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """The query parameters of a query model, from its JSON schema: one per field, in order."""
    required = set(definition.get("required", ()))
    parameters = []
    for name, schema in definition.get("properties", {}).items():
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": _parameter_schema(schema),
        }
        if "description" in schema:
            parameter["description"] = schema["description"]
        parameters.append(parameter)
    return parameters


def build_document(routes: list[RouteContract], *, version: str) -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema

    wire: dict[str, type[BaseModel]] = {}
    queries: dict[str, type[BaseModel]] = {}
    for route in routes:
        for name, model in ((route.body, route.body_model()), (route.returns, route.returns_model())):
            if name is not None and model is not None:
                wire[name] = model
        query = route.query_model()
        if route.query is not None and query is not None:
            queries[route.query] = query
    # One generation for all of them: definitions the models share (enums) are written once.
    everything = [*wire.values(), *queries.values()]
    keyed, definitions = models_json_schema(
        [(model, "validation") for model in everything],
        by_alias=True,
        ref_template="#/components/schemas/{model}",
    )
    schemas = dict(definitions.get("$defs", {}))
    refs = {name: keyed[(model, "validation")] for name, model in wire.items()}
    # Query models are spelled out as parameters, not kept as schemas of their own.
    parameters: dict[str, list[dict[str, Any]]] = {}
    for name, model in queries.items():
        key = keyed[(model, "validation")]["$ref"].rsplit("/", 1)[-1]
        parameters[name] = query_parameters(schemas.pop(key))
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        path = "/api/" + route.route
        operation: dict[str, Any] = {
            "operationId": route.name,
            "parameters": [
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                for name in re.findall(r"{(\w+)}", route.route)
            ]
            + (parameters[route.query] if route.query is not None else []),
            "responses": {
                str(route.status): {"description": "Success"}
                | (
                    {"content": {"application/json": {"schema": refs[route.returns]}}}
                    if route.returns is not None
                    else {}
                ),
                "default": {
                    "description": "Error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        }
        if route.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[route.body]}},
            }
        if route.scope is not None:
            operation["security"] = [{"bearer": [route.scope]}]
        else:
            operation["security"] = []
        paths.setdefault(path, {})[route.method.lower()] = operation
    schemas["Error"] = {
        "type": "object",
        "properties": {"code": {"type": "string"}, "detail": {}},
        "required": ["detail"],
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Herald", "version": version, "description": "Svix-compatible webhook API."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
