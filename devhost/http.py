"""HTTP triggers: the route table, request and response conversion, and the aiohttp handler."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import format_datetime
from http.cookies import SimpleCookie
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from devhost.errors import StartupError
from devhost.invocation import FAILED, SUCCEEDED, Invoker, log_failure, log_invocation
from devhost.loader import BindingSpec, FunctionSpec
from devhost.routing import (
    Route,
    RouteTable,
    RouteTemplate,
    RouteTemplateError,
    parse_template,
    split_path,
)
from devhost.worker import typed_http

logger = logging.getLogger(__name__)

HTTP_TRIGGER = "httpTrigger"
HTTP_OUTPUT = "http"
RETURN_BINDING = "$return"
# The Functions host's default maxRequestBodySize.
DEFAULT_MAX_BODY_BYTES = 100 * 1024 * 1024
_READ_CHUNK_BYTES = 64 * 1024
# aiohttp frames the body itself; copying these from the function's response would corrupt it.
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})
# RpcHttpCookie.SameSite: 0 None (not set), 1 Lax, 2 Strict, 3 ExplicitNone.
_SAME_SITE = {1: "Lax", 2: "Strict", 3: "None"}


@dataclass(frozen=True)
class HttpFunction:
    spec: FunctionSpec
    request_parameter: str
    # "$return", the name of a func.Out parameter, or None when the function has no http output
    # (the Functions host then answers 204 No Content).
    output: str | None


class HttpTriggers:
    """Serves every httpTrigger function of the app behind one catch-all aiohttp route."""

    trigger_type = HTTP_TRIGGER

    def __init__(self, invoker: Invoker, *, route_prefix: str, max_body_bytes: int) -> None:
        self._invoker = invoker
        self._route_prefix = route_prefix
        self._max_body_bytes = max_body_bytes
        self._routes: list[Route[HttpFunction]] = []
        self._table: RouteTable[HttpFunction] = RouteTable(())

    def accepts_binding(self, binding: BindingSpec) -> bool:
        return _is_http_output(binding) or self._invoker.provides(binding)

    def add_function(self, spec: FunctionSpec) -> None:
        outputs = [b.name for b in spec.bindings if _is_http_output(b)]
        if len(outputs) > 1:
            raise StartupError(f"function {spec.name} declares several http outputs: {outputs}")
        route = str(spec.trigger.raw.get("route") or spec.name)
        try:
            template = parse_template(f"{self._route_prefix}/{route.strip().lstrip('/')}")
        except RouteTemplateError as exc:
            raise StartupError(f"function {spec.name}: {exc}") from exc
        for constraint in template.unknown_constraints:
            logger.warning(
                "function %s: route constraint '%s' is unknown to devhost and is ignored",
                spec.name,
                constraint,
            )
        new = Route(
            template=template,
            methods=_methods(spec.trigger.raw.get("methods")),
            target=HttpFunction(spec, spec.trigger.name, outputs[0] if outputs else None),
        )
        for existing in self._routes:
            if _conflict(existing, new):
                raise StartupError(
                    f"functions {existing.target.spec.name} and {spec.name} both serve route "
                    f"'{template.text}' for the same methods"
                )
        self._routes.append(new)

    def describe(self, base_url: str) -> list[str]:
        return [
            f"{route.target.spec.name}: [{','.join(sorted(route.methods or ['*']))}] "
            f"{base_url}{_display(route.template)}"
            for route in sorted(self._routes, key=lambda r: r.target.spec.name)
        ]

    def setup(self, web_app: web.Application) -> None:
        self._table = RouteTable(self._routes)
        # A catch-all: routing follows Functions' template rules, not aiohttp's.
        web_app.router.add_route("*", "/{tail:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        method = request.method.upper()
        resolved = self._table.resolve(method, split_path(request.rel_url.raw_path))
        if resolved.route is None:
            if resolved.allowed_methods:
                allowed = ", ".join(sorted(resolved.allowed_methods))
                return _refuse(
                    request,
                    405,
                    "method_not_allowed",
                    f"{method} is not allowed on {request.path}; allowed: {allowed}",
                    headers={"Allow": allowed},
                )
            return _refuse(request, 404, "not_found", f"no function serves {request.path}")
        body = await _read_body(request, self._max_body_bytes)
        if body is None:
            response = _refuse(
                request,
                413,
                "payload_too_large",
                f"the request body exceeds the limit of {self._max_body_bytes} bytes",
            )
            # The rest of the body stays unread, so the connection cannot be reused.
            response.force_close()
            return response
        return await self._invoke(resolved.route.target, request, body, resolved.values)

    async def _invoke(
        self, target: HttpFunction, request: web.Request, body: bytes, values: dict[str, str]
    ) -> web.StreamResponse:
        spec = target.spec
        invocation_id = self._invoker.new_invocation_id()
        started = time.perf_counter()
        try:
            response = await self._run(target, request, body, values, invocation_id)
            outcome = SUCCEEDED
        except Exception as exc:
            # The traceback stays in the host log: exception text can carry secrets.
            log_failure(spec, invocation_id, exc)
            response = _error(500, "function_error", f"Exception while executing function: {spec.name}")
            outcome = FAILED
        log_invocation(
            spec,
            trigger="http",
            detail=f"{request.method} {request.path} -> {response.status}",
            outcome=outcome,
            duration_ms=(time.perf_counter() - started) * 1000,
            invocation_id=invocation_id,
        )
        return response

    async def _run(
        self,
        target: HttpFunction,
        request: web.Request,
        body: bytes,
        values: dict[str, str],
        invocation_id: str,
    ) -> web.Response:
        invocation = await self._invoker.invoke(
            target.spec, invocation_id, to_typed_request(request, body, values)
        )
        if target.output == RETURN_BINDING:
            result = invocation.return_value
        else:
            result = invocation.outputs.get(target.output) if target.output else None
        # No http output, or an output the function never set: the host answers 204.
        return web.Response(status=204) if result is None else to_web_response(result)


def to_typed_request(request: web.Request, body: bytes, route_values: Mapping[str, str]) -> Any:
    """The request as the host sends it to the worker.

    Like the host's gRPC conversion: header names are lower-cased, repeated headers and query
    parameters are joined with commas, and query parameters with empty values are dropped. The
    worker asks for raw body bytes, so get_json() decodes them on demand.
    """
    return typed_http(
        method=request.method,
        url=str(request.url),
        headers=_joined((name.lower(), value) for name, value in request.headers.items()),
        query=_joined((name, value) for name, value in request.query.items() if value),
        params=dict(route_values),
        body=body,
    )


def to_web_response(data: Any) -> web.Response:
    """The host's answer from the worker's encoded result (``RpcHttp``, or a string as text)."""
    kind = data.WhichOneof("data")
    if kind == "string":
        return web.Response(text=data.string, content_type="text/plain", charset="utf-8")
    if kind != "http":
        raise TypeError(f"an http output must be an HTTP response, got TypedData {kind}")
    encoded = data.http
    headers: CIMultiDict[str] = CIMultiDict()
    for name, header in encoded.headers.items():
        if name.lower() not in _FRAMING_HEADERS:
            headers.add(name, header)
    for cookie in encoded.cookies:
        headers.add("Set-Cookie", _set_cookie(cookie))
    status = int(encoded.status_code or 200)
    return web.Response(status=status, body=_body_bytes(encoded.body), headers=headers)


def _body_bytes(body: Any) -> bytes:
    kind = body.WhichOneof("data")
    if kind == "bytes":
        return bytes(body.bytes)
    if kind == "string":
        return str(body.string).encode("utf-8")
    return b""


def _set_cookie(cookie: Any) -> str:
    """An ``RpcHttpCookie`` as a Set-Cookie value."""
    jar: SimpleCookie = SimpleCookie()
    jar[cookie.name] = cookie.value
    morsel = jar[cookie.name]
    for field, attribute in (("domain", "domain"), ("path", "path")):
        if cookie.HasField(field) and getattr(cookie, field).value:
            morsel[attribute] = getattr(cookie, field).value
    if cookie.HasField("expires"):
        morsel["expires"] = format_datetime(cookie.expires.value.ToDatetime(UTC), usegmt=True)
    if cookie.HasField("max_age"):
        morsel["max-age"] = str(int(cookie.max_age.value))
    same_site = _SAME_SITE.get(cookie.same_site)
    if same_site:
        morsel["samesite"] = same_site
    if cookie.HasField("secure") and cookie.secure.value:
        morsel["secure"] = True
    if cookie.HasField("http_only") and cookie.http_only.value:
        morsel["httponly"] = True
    return morsel.OutputString()


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The whole body, or None once it is known to exceed ``limit`` (chunked bodies included)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    buffer = bytearray()
    async for chunk in request.content.iter_chunked(_READ_CHUNK_BYTES):
        buffer += chunk
        if len(buffer) > limit:
            return None
    return bytes(buffer)


def _is_http_output(binding: BindingSpec) -> bool:
    return binding.type == HTTP_OUTPUT and binding.direction == "out"


def _joined(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def _methods(raw: Any) -> frozenset[str] | None:
    if not raw:
        return None
    # The SDK stores HttpMethod enums; generic triggers carry plain strings in any case.
    return frozenset(str(getattr(method, "value", method)).upper() for method in raw)


def _conflict(a: Route[HttpFunction], b: Route[HttpFunction]) -> bool:
    if a.template.text.strip("/").casefold() != b.template.text.strip("/").casefold():
        return False
    return a.methods is None or b.methods is None or bool(a.methods & b.methods)


def _display(template: RouteTemplate) -> str:
    return template.text.strip("/")


def _error(status: int, code: str, detail: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"code": code, "detail": detail}, status=status, headers=headers)


def _refuse(
    request: web.Request,
    status: int,
    code: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    logger.info("%s %s -> %d (%s)", request.method, request.path, status, code)
    return _error(status, code, detail, headers)
