"""The HTTP edge: parse the request, call a service, map the result or the error to a response.

This is the one place where Herald's errors become HTTP statuses and Svix error bodies. Every answer
is JSON (the Svix SDKs call `.json()` on every non-2xx response), except a handler's `RawReply`,
sent as it is (the Prometheus text of /api/v1/metrics; the OpenAPI document, serialized once).
Every call is a server span, a count in herald.api.requests and one log line.

A route declares its contract once. The decorator names the route, its scope, what it answers
(`returns`, a model of `shared.models` by name) and its success status; the handler's signature
names what it takes, as Svix's handlers take `ValidatedJson<ApplicationIn>` and `ValidatedQuery<...>`:

    from __future__ import annotations  # annotations stay names: nothing is imported to register

    if TYPE_CHECKING:
        from shared.models import ApplicationIn
        from shared.queries import CreateApplicationQuery

    @api_function(bp, "create_application", "v1/app", ["POST"], scope=Scope.WRITE, returns="ApplicationOut")
    async def create_application(call: Call, body: ApplicationIn, query: CreateApplicationQuery) -> Reply:
        ...

`body` (optional) is a model of `shared.models`: the JSON body is validated with it (413, 415, 400
or 422 before the handler runs). `query` (optional) is a model of `shared.queries`: the query
string is validated with it (422 with `loc: ["query", name]`), and a parameter it does not declare
is ignored. The handler gets both as validated objects; the OpenAPI document is generated from the
same models. They are resolved by name on the first request, so registering routes at cold start
imports no pydantic. (The earlier form, `api_function(..., body="X", query=("a", "b"))` with
`call.body(models.X)` and `call.flag("a")` in the handler, becomes exactly this: drop `body=` and
`query=`, add the parameters, and declare the query parameters in a model of `shared.queries`.)
Service modules, which load pydantic and the SDKs, are imported inside the handlers that use them.
"""

import hashlib
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import azure.functions as func

from shared import jsonbody, telemetry
from shared.errors import (
    ForbiddenError,
    HeraldError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    ServiceUnavailableError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
    ValidationFailedError,
)
from shared.openapi import RouteContract
from shared.ratelimit import retry_after_header
from shared.scopes import Capability, Scope

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

    from shared.auth import Principal
    from shared.services.registry import Services
    from shared.settings import HeraldSettings

log = logging.getLogger("herald.api")

Reply = tuple[int, Any]
Handler = Callable[["Call"], Awaitable[Reply]]
TOO_LARGE = "The request body is too large."


@dataclass
class Call:
    """One API request, as handlers see it."""

    req: func.HttpRequest
    services: "Services"
    tenant_id: str
    # The Durable client, for routes registered with `durable_client=True`.
    client: Any = None
    # The caller's scopes and roles (empty on public routes).
    scopes: frozenset[str] = frozenset()
    # The caller (None on public routes).
    principal: "Principal | None" = None

    async def app_id(self) -> str:
        """The id of the application the path names by id or uid (404 when there is none)."""
        app = await self.services.applications.get(self.tenant_id, self.route("app_id"))
        return str(app["id"])

    def portal_app_id(self) -> str | None:
        """The application an app portal token confines the call to; None for a tenant's token."""
        portal = self.principal.portal if self.principal is not None else None
        return portal.app_id if portal is not None else None

    def route(self, name: str) -> str:
        portal_app_id = self.portal_app_id()
        if name == "app_id" and portal_app_id is not None:
            # `_admit` confined the call to the token's application: handlers address it by id,
            # never by a uid that could name another application by the time they read it.
            return portal_app_id
        return str(self.req.route_params[name])

    def fingerprint(self) -> str:
        """What makes two requests with one idempotency key the same request: their bodies."""
        return hashlib.sha256(self.req.get_body() or b"").hexdigest()

    async def once(self, action: Callable[[str | None], Awaitable[Reply]], *, secret: bool = False) -> Reply:
        """Runs a create at most once per `idempotency-key`, replaying the first answer after.

        `secret`: the answer carries a secret, so the stored answer is sealed as endpoint secrets are.
        """
        key = self.req.headers.get("idempotency-key")
        if not key:
            return await action(None)

        from shared.services.idempotency import StoredResponse

        async def stored(seed: str) -> StoredResponse:
            status, body = await action(seed)
            return StoredResponse(status, _jsonable(body))

        path = self.req.url.split("?", 1)[0].split("://", 1)[-1].split("/", 1)[-1]
        scope = f"{self.req.method} /{path}"
        result = await self.services.idempotency.run(
            self.tenant_id, scope, key, self.fingerprint(), stored, sealed=secret
        )
        return result.status, result.body


# Sent on every API answer: nothing here is a page to render, frame, sniff or cache.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _jsonable(body: Any) -> Any:
    """Plain JSON data of a reply body: wire models in camelCase, datetimes in ISO 8601."""
    from pydantic_core import to_jsonable_python

    return to_jsonable_python(body, by_alias=True)


def _json_default(value: Any) -> Any:
    """What `json.dumps` cannot write itself: a model as plain data, a datetime in ISO 8601.

    A model is dumped in Python mode and its payloads written by `json.dumps`: pydantic's JSON
    serializer refuses data nested deeper than 255 levels, so a stored payload that deep (accepted
    before bodies were bounded) would fail every read of it.
    """
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True)
    return _jsonable(value)


@dataclass(frozen=True)
class RawReply:
    """A reply body that is not JSON, sent as is with its own content type."""

    content_type: str
    text: str


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> func.HttpResponse:
    all_headers = {**SECURITY_HEADERS, **(headers or {})}
    if status == 204:
        return func.HttpResponse(status_code=204, headers=all_headers)
    if isinstance(body, RawReply):
        return func.HttpResponse(
            body.text, status_code=status, headers={**all_headers, "Content-Type": body.content_type}
        )
    # Plain data is dumped as is; pydantic converts only what json cannot (models, datetimes), so an
    # answer like /health's does not load pydantic on a cold start.
    payload = json.dumps(body, separators=(",", ":"), default=_json_default)
    return func.HttpResponse(payload, status_code=status, headers=all_headers, mimetype="application/json")


def _error_headers(exc: HeraldError) -> dict[str, str]:
    if isinstance(exc, UnauthorizedError | ForbiddenError):
        return {"WWW-Authenticate": exc.challenge()}
    if isinstance(exc, ServiceUnavailableError | RateLimitedError):
        return {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, MethodNotAllowedError):
        return {"Allow": ", ".join(exc.allowed)}
    return {}


def _cors_headers(req: func.HttpRequest, settings: "HeraldSettings") -> dict[str, str]:
    origin = req.headers.get("origin")
    if not origin or origin not in settings.cors_allowed_origins:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": "Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining",
        "Vary": "Origin",
    }


async def _admit(
    req: func.HttpRequest, services: "Services", scope: Scope, portal: Capability | None = None
) -> tuple["Principal", dict[str, str]]:
    """Authenticates, authorizes and rate-limits a request; returns its caller and limit headers.

    An app portal token is admitted only where the route names a capability it holds (`portal`),
    and only for its own application: a path naming another one is a 404, as a missing one is.
    """
    principal = await services.tokens.authenticate(req.headers.get("authorization"))
    principal.admit(scope, portal)
    settings = services.settings
    # A tenant's customers in the portal spend a budget of their own, not the tenant's.
    bucket = f"api:{principal.tenant_id}"
    if principal.portal is not None:
        bucket = f"{bucket}:portal:{principal.portal.app_id}"
    decision = await services.rate_limiter.take(
        bucket, rate=settings.api_rate_per_second, burst=settings.api_burst
    )
    headers = {"X-RateLimit-Limit": str(decision.limit), "X-RateLimit-Remaining": str(decision.remaining)}
    if not decision.allowed:
        raise RateLimitedError(
            "Too many requests for this tenant; retry later.",
            retry_after=int(retry_after_header(decision)),
            limit=decision.limit,
        )
    named = req.route_params.get("app_id")
    if principal.portal is not None and named is not None and named != principal.portal.app_id:
        app = await services.applications.find(principal.tenant_id, str(named))
        if app is None or app["id"] != principal.portal.app_id:
            raise NotFoundError("Application not found.")
    return principal, headers


async def serve(
    req: func.HttpRequest,
    handler: Handler,
    scope: Scope | None,
    client: Any = None,
    *,
    route: str = "",
    portal: Capability | None = None,
) -> func.HttpResponse:
    """Runs one API call: `scope` None means a public route (no token, no rate limit).

    `route` is the route template (e.g. "v1/app/{app_id}/msg"): it names the span and the metrics.
    `portal` is the capability an app portal token needs here; None: no portal token may call it.
    """
    started = time.perf_counter()
    method = req.method.upper()
    template = f"/api/{route}" if route else ""
    attributes = {
        "http.request.method": method,
        "http.route": template,
        "url.path": "/" + req.url.split("?", 1)[0].split("://", 1)[-1].partition("/")[2],
    }
    # A caller's `traceparent` continues its trace; the span covers the handler and what it starts.
    with telemetry.span(
        f"{method} {template}".strip(),
        kind="server",
        carrier=req.headers,
        attributes=attributes,
        app_id=req.route_params.get("app_id"),
    ) as activity:
        response = await _serve(req, handler, scope, client, activity, portal)
        status = response.status_code
        activity.set_attributes({"http.response.status_code": status})
        if status >= 500:
            # HTTP semantic conventions: a server span's error.type is its 5xx status.
            activity.set_attributes({"error.type": str(status)})
            activity.fail(str(status))
        seconds = time.perf_counter() - started
        log.info(
            "api request",
            extra={
                "method": method,
                "route": template,
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
            },
        )
    telemetry.record_api_request(route, method, status, seconds)
    return response


async def _serve(
    req: func.HttpRequest,
    handler: Handler,
    scope: Scope | None,
    client: Any,
    activity: telemetry.Activity,
    portal: Capability | None,
) -> func.HttpResponse:
    # Imported on first use: the services pull in the Cosmos, JWT and crypto SDKs, which would
    # otherwise weigh on every cold start, including the ones that only answer /health.
    from shared.services.registry import get_services

    headers: dict[str, str] = {}
    try:
        services = await get_services()
        headers.update(_cors_headers(req, services.settings))
        _refuse_declared_oversize(req, services.settings.max_request_bytes)
        tenant_id, scopes, principal = "", frozenset[str](), None
        if scope is not None:
            principal, limit_headers = await _admit(req, services, scope, portal)
            tenant_id, scopes = principal.tenant_id, principal.scopes
            headers.update(limit_headers)
            activity.bind(tenant_id=tenant_id)
        call = Call(
            req=req, services=services, tenant_id=tenant_id, client=client, scopes=scopes, principal=principal
        )
        status, body = await handler(call)
        # Serialized here, inside the error map: an answer that cannot be written is a JSON 500.
        return json_response(status, body, headers)
    except HeraldError as exc:
        return json_response(exc.status, exc.to_body(), {**headers, **_error_headers(exc)})
    except Exception:
        # The traceback goes to the log; the caller learns nothing about internals or secrets.
        log.exception("unhandled error in %s", getattr(handler, "__name__", "handler"))
        return json_response(500, {"code": "internal_error", "detail": "Internal server error."}, headers)


def _refuse_declared_oversize(req: func.HttpRequest, limit: int) -> None:
    """413 for a body whose `Content-Length` is over `limit`, before anything reads it.

    Herald never touches such a body (no parsing, no hashing for idempotency). The host has
    buffered it already (up to its own limit: see the README's Security section).
    """
    declared = (req.headers.get("content-length") or "").strip()
    # Anything but one plain number was refused by the host; the body's own length still counts.
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(TOO_LARGE)


def _parse_body[M: BaseModel](call: Call, model: type[M]) -> M:
    """The JSON body validated by `model`: 413 when too large, 415 when not JSON, 400 when not
    parseable (or nested too deep, or not Unicode text: see `shared.jsonbody`), 422 when invalid."""
    raw = call.req.get_body() or b""
    # A body without Content-Length (chunked) is measured once read; a declared one was refused
    # before reading (`_serve`).
    if len(raw) > call.services.settings.max_request_bytes:
        raise PayloadTooLargeError(TOO_LARGE)
    content_type = (call.req.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if raw.strip() and not (content_type == "application/json" or content_type.endswith("+json")):
        raise UnsupportedMediaTypeError("Request bodies must be application/json.")
    if not raw.strip():
        raise ValidationFailedError.single(["body"], "Field required", "missing")
    data = jsonbody.loads(raw)
    from pydantic import ValidationError  # pydantic loads with the first request, not at start

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _invalid("body", exc) from None


def parse_query[M: BaseModel](model: type[M], params: Mapping[str, str]) -> M:
    """The query string validated by `model` (422 when invalid); parameters it lacks are ignored."""
    from pydantic import ValidationError

    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:
        raise _invalid("query", exc) from None


def _invalid(where: str, exc: "ValidationError") -> ValidationFailedError:
    return ValidationFailedError(
        [
            {"loc": [where, *error["loc"]], "msg": error["msg"], "type": error["type"]}
            for error in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
    )


# Every API route, as registered: the OpenAPI document is generated from this list.
ROUTES: list[RouteContract] = []
_SUCCESS = {"GET": 200, "POST": 201, "PUT": 200, "PATCH": 200, "DELETE": 204}
# What a handler may take besides `call`, and where the model it names lives.
_INPUTS = {"body": "shared.models", "query": "shared.queries"}


def _declared_inputs(handler: Callable[..., Awaitable[Reply]]) -> dict[str, str]:
    """The models a handler's signature names for `body` and `query`, by name, unresolved."""
    where = f"{handler.__module__}.{handler.__qualname__}"
    parameters = list(inspect.signature(handler).parameters.values())
    if not parameters or parameters[0].name != "call":
        raise TypeError(f"{where}: a route's handler takes `call` first")
    inputs: dict[str, str] = {}
    for parameter in parameters[1:]:
        if parameter.name not in _INPUTS:
            raise TypeError(f"{where}: a route's handler takes only `call`, `body` and `query`")
        annotation = parameter.annotation
        # A name, not a class: importing the model here would load pydantic at every cold start.
        if not (isinstance(annotation, str) and annotation.isidentifier()):
            raise TypeError(
                f"{where}: annotate `{parameter.name}` with the name of a model of "
                f"{_INPUTS[parameter.name]} (with `from __future__ import annotations`)"
            )
        inputs[parameter.name] = annotation
    return inputs


def api_function(
    bp: Any,
    name: str,
    route: str,
    methods: list[str],
    *,
    scope: Scope | None,
    returns: str | None = None,
    status: int | None = None,
    durable_client: bool = False,
    portal: Capability | None = None,
) -> Callable[[Callable[..., Awaitable[Reply]]], Handler]:
    """Registers `handler` as the HTTP function `name` on `bp`, and records its contract for OpenAPI.

    `returns` names a model of `shared.models` (e.g. "ListResponse[MessageOut]"); the handler's
    `body` and `query` parameters name theirs (see the module's docstring). Returns the handler
    as `serve` calls it: parsing first, then the handler with what it declared.

    The host's auth level is ANONYMOUS: Herald checks bearer tokens itself, for `scope`. `portal`
    names the capability an app portal token needs to call the route; without it, none can.
    """

    def register(handler: Callable[..., Awaitable[Reply]]) -> Handler:
        inputs = _declared_inputs(handler)
        contracts = [
            RouteContract(
                name=name,
                method=method,
                route=route,
                scope=scope.value if scope else None,
                body=inputs.get("body"),
                query=inputs.get("query"),
                returns=returns,
                status=status or _SUCCESS[method],
                portal=portal.value if portal else None,
            )
            for method in methods
        ]
        ROUTES.extend(contracts)
        # Whatever the method, the handler takes the same body and query.
        contract = contracts[0]

        async def parsed(call: Call) -> Reply:
            arguments: dict[str, Any] = {}
            body_model = contract.body_model()
            if body_model is not None:
                arguments["body"] = _parse_body(call, body_model)
            query_model = contract.query_model()
            if query_model is not None:
                arguments["query"] = parse_query(query_model, call.req.params)
            return await handler(call, **arguments)

        parsed.__name__, parsed.__qualname__ = handler.__name__, handler.__qualname__
        parsed.__module__, parsed.__doc__ = handler.__module__, handler.__doc__

        route_decorator = bp.route(route=route, methods=methods, auth_level=func.AuthLevel.ANONYMOUS)
        if durable_client:

            async def http_entry_with_client(req: func.HttpRequest, client: Any) -> func.HttpResponse:
                return await serve(req, parsed, scope, client, route=route, portal=portal)

            http_entry_with_client.__name__ = name
            bp.function_name(name)(
                route_decorator(bp.durable_client_input(client_name="client")(http_entry_with_client))
            )
            return parsed

        async def http_entry(req: func.HttpRequest) -> func.HttpResponse:
            return await serve(req, parsed, scope, route=route, portal=portal)

        http_entry.__name__ = name
        bp.function_name(name)(route_decorator(http_entry))
        return parsed

    return register
