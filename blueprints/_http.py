"""The HTTP edge: parse the request, call a service, map the result or the error to a response.

This is the one place where Herald's errors become HTTP statuses and Svix error bodies. Every answer
is JSON (the Svix SDKs call `.json()` on every non-2xx response).
"""

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import azure.functions as func
from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from shared.clock import from_wire, to_wire
from shared.errors import (
    BadRequestError,
    HeraldError,
    PayloadTooLargeError,
    ServiceUnavailableError,
    ValidationFailedError,
)
from shared.pagination import ListParams, Order, parse_list_params
from shared.services.idempotency import StoredResponse
from shared.services.registry import Services, get_services

log = logging.getLogger("herald.api")

M = TypeVar("M", bound=BaseModel)
Reply = tuple[int, Any]
Handler = Callable[["Call"], Awaitable[Reply]]


@dataclass
class Call:
    """One API request, as handlers see it."""

    req: func.HttpRequest
    services: Services
    tenant_id: str

    async def app_id(self) -> str:
        """The id of the application the path names by id or uid (404 when there is none)."""
        app = await self.services.applications.get(self.tenant_id, self.route("app_id"))
        return str(app["id"])

    def route(self, name: str) -> str:
        return str(self.req.route_params[name])

    def query(self, name: str) -> str | None:
        value = self.req.params.get(name)
        return str(value) if value is not None else None

    def flag(self, name: str, *, default: bool) -> bool:
        value = self.req.params.get(name)
        if value is None or value == "":
            return default
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise ValidationFailedError.single(
            ["query", name], f"{name} must be true or false", "type_error.bool"
        )

    def time(self, name: str) -> str | None:
        """A timestamp query parameter, normalized to the stored form (422 when malformed)."""
        value = self.req.params.get(name)
        if not value:
            return None
        try:
            moment = from_wire(value.replace(" ", "+"))
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise ValidationFailedError.single(
                ["query", name], f"{name} must be an ISO 8601 time with a zone"
            )
        return to_wire(moment)

    def list_params(self, *, default_order: Order) -> ListParams:
        return parse_list_params(self.req.params, default_order=default_order)

    def body(self, model: type[M]) -> M:
        """The JSON body validated by `model`: 413 when too large, 400 when not JSON, 422 when invalid."""
        raw = self.req.get_body() or b""
        if len(raw) > self.services.settings.max_request_bytes:
            raise PayloadTooLargeError("The request body is too large.")
        if not raw.strip():
            raise ValidationFailedError.single(["body"], "Field required", "missing")
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BadRequestError("The request body is not valid JSON.", code="invalid_json") from None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise ValidationFailedError(
                [
                    {"loc": ["body", *error["loc"]], "msg": error["msg"], "type": error["type"]}
                    for error in exc.errors(include_url=False, include_context=False, include_input=False)
                ]
            ) from None

    async def once(self, action: Callable[[str | None], Awaitable[Reply]]) -> Reply:
        """Runs a create at most once per `idempotency-key`, replaying the first answer after."""
        key = self.req.headers.get("idempotency-key")
        if not key:
            return await action(None)

        async def stored(seed: str) -> StoredResponse:
            status, body = await action(seed)
            return StoredResponse(status, to_jsonable_python(body, by_alias=True))

        path = self.req.url.split("?", 1)[0].split("://", 1)[-1].split("/", 1)[-1]
        scope = f"{self.req.method} /{path}"
        fingerprint = hashlib.sha256(self.req.get_body() or b"").hexdigest()
        result = await self.services.idempotency.run(self.tenant_id, scope, key, fingerprint, stored)
        return result.status, result.body


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> func.HttpResponse:
    if status == 204:
        return func.HttpResponse(status_code=204, headers=headers)
    payload = json.dumps(to_jsonable_python(body, by_alias=True), separators=(",", ":"))
    return func.HttpResponse(payload, status_code=status, headers=headers, mimetype="application/json")


def error_response(exc: HeraldError) -> func.HttpResponse:
    headers = {}
    if isinstance(exc, ServiceUnavailableError):
        headers["Retry-After"] = str(exc.retry_after)
    return json_response(exc.status, exc.to_body(), headers)


async def serve(req: func.HttpRequest, handler: Handler) -> func.HttpResponse:
    try:
        services = await get_services()
        call = Call(req=req, services=services, tenant_id=services.settings.default_tenant_id)
        status, body = await handler(call)
    except HeraldError as exc:
        return error_response(exc)
    except Exception:
        log.exception("unhandled error in %s", getattr(handler, "__name__", "handler"))
        return json_response(500, {"code": "internal_error", "detail": "Internal server error."})
    return json_response(status, body)


def api_function(
    bp: func.Blueprint, name: str, route: str, methods: list[str]
) -> Callable[[Handler], Handler]:
    """Registers `handler` as the HTTP function `name` on `bp` (auth is Herald's, not the host's)."""

    def register(handler: Handler) -> Handler:
        async def http_entry(req: func.HttpRequest) -> func.HttpResponse:
            return await serve(req, handler)

        http_entry.__name__ = name
        bp.function_name(name)(
            bp.route(route=route, methods=methods, auth_level=func.AuthLevel.ANONYMOUS)(http_entry)
        )
        return handler

    return register
