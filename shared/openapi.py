"""The OpenAPI 3.1 document of Herald's API, generated from the routes and their pydantic models.

Routes describe themselves where they are registered (`blueprints/_http.py`), so the document
cannot drift from what is served.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

LIST_PARAMETERS = ("limit", "iterator", "order")
_BOOLEAN_QUERY = (
    "with_content",
    "get_if_exists",
    "include_archived",
    "expunge",
    "with_msg",
    "expanded_statuses",
)


@dataclass(frozen=True)
class RouteDoc:
    name: str
    method: str
    # Relative to the API root, e.g. "v1/app/{app_id}".
    route: str
    scope: str | None
    # Names of models in `shared.models`; "ListResponse[X]" for a page of X.
    body: str | None = None
    returns: str | None = None
    status: int = 200
    query: tuple[str, ...] = field(default_factory=tuple)
    # The capability an app portal token needs here; None: no portal token may call the route.
    portal: str | None = None


def _parameter(name: str, where: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if name == "limit":
        schema = {"type": "integer", "minimum": 1, "maximum": 250}
    elif name == "order":
        schema = {"type": "string", "enum": ["ascending", "descending"]}
    elif name in _BOOLEAN_QUERY or name.startswith("exclude_apps_with_"):
        schema = {"type": "boolean"}
    elif name == "status_code_class":
        schema = {"type": "integer", "enum": [0, 100, 200, 300, 400, 500]}
    return {"name": name, "in": where, "required": where == "path", "schema": schema}


def _model(name: str) -> Any:
    from shared import models

    generic = re.fullmatch(r"(\w+)\[(\w+)\]", name)
    if generic:
        return getattr(models, generic.group(1))[getattr(models, generic.group(2))]
    return getattr(models, name)


def build_document(routes: list[RouteDoc], *, version: str) -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema

    names = {name for route in routes for name in (route.body, route.returns) if name is not None}
    models = {name: _model(name) for name in names}
    keyed, definitions = models_json_schema(
        [(models[name], "validation") for name in sorted(models)],
        by_alias=True,
        ref_template="#/components/schemas/{model}",
    )
    refs = {name: keyed[(model, "validation")] for name, model in models.items()}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        path = "/api/" + route.route
        operation: dict[str, Any] = {
            "operationId": route.name,
            "parameters": [_parameter(p, "path") for p in re.findall(r"{(\w+)}", route.route)]
            + [_parameter(p, "query") for p in route.query],
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
    schemas = dict(definitions.get("$defs", {}))
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
