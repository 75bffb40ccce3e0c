"""The Durable HTTP API: the client's RPC endpoint and the public ``/runtime/webhooks/durabletask`` URLs.

Both serve the same API, as the Durable extension's do: the SDK's DurableOrchestrationClient calls
``rpcBaseUrl`` (a loopback port of its own), people and scripts use the status URLs that
create_check_status_response hands out (the app's port). Status codes and bodies follow the
extension's HttpApiHandler, since the SDK branches on them; every body is JSON or empty, as the SDK
parses whatever it gets as JSON. Any ``code`` works.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from devhost.durable.binding import PUBLIC_PATH, management_urls
from devhost.durable.engine import (
    DurableEngine,
    InstanceExists,
    InvalidInstanceId,
    Outcome,
    UnknownOrchestrator,
)
from devhost.durable.history import for_display, format_timestamp, parse_timestamp, utc_now
from devhost.durable.store import (
    COMPLETED,
    CONTINUED_AS_NEW,
    FAILED,
    PENDING,
    RUNNING,
    SUSPENDED,
    TERMINATED,
    Instance,
    InstanceQuery,
)

logger = logging.getLogger(__name__)

_IN_PROGRESS = frozenset({PENDING, RUNNING, CONTINUED_AS_NEW, SUSPENDED})
_STATUSES = {
    status.casefold(): status for status in (*_IN_PROGRESS, COMPLETED, FAILED, TERMINATED, "Canceled")
}


class _BadRequest(Exception):
    """A query parameter devhost cannot read; answered with 400."""


class DurableClientApi:
    def __init__(self, engine: Callable[[], DurableEngine], hub: str) -> None:
        # The engine exists once the server has started; routes are added before that.
        self._engine = engine
        self._hub = hub

    def add_routes(self, router: web.UrlDispatcher, base: str) -> None:
        """Serve the API under ``base`` (the public webhook path or the RPC path)."""
        router.add_post(f"{base}/orchestrators/{{function_name}}", self.start)
        router.add_post(f"{base}/orchestrators/{{function_name}}/{{instance_id}}", self.start)
        for listing in (f"{base}/instances", f"{base}/instances/"):
            router.add_get(listing, self.list_instances)
            router.add_delete(listing, self.purge_instances)
        router.add_get(f"{base}/instances/{{instance_id}}", self.get_instance)
        router.add_delete(f"{base}/instances/{{instance_id}}", self.purge_instance)
        router.add_post(f"{base}/instances/{{instance_id}}/raiseEvent/{{event_name}}", self.raise_event)
        router.add_post(f"{base}/instances/{{instance_id}}/{{operation}}", self.operate)
        router.add_route("*", f"{base}/entities/{{tail:.*}}", self.entities)
        # Anything else under the Durable paths is the extension's 404, not a function route.
        router.add_route("*", f"{base}/{{tail:.*}}", self.not_found)

    async def start(self, request: web.Request) -> web.Response:
        body = await request.text()
        input_text = body if body.strip() else None
        if input_text is not None:
            try:
                json.loads(input_text)
            except ValueError:
                return _error(400, "Invalid JSON content")
        try:
            instance_id = self._engine().start(
                request.match_info["function_name"],
                request.match_info.get("instance_id"),
                input_text,
                request.query.get("version"),
            )
        except (UnknownOrchestrator, InvalidInstanceId) as exc:
            return _error(400, "One or more of the arguments submitted is incorrect", str(exc))
        except InstanceExists as exc:
            return _error(409, str(exc), str(exc))
        payload = management_urls(_public_base(request), self._hub, instance_id)
        return web.json_response(
            payload,
            status=202,
            headers={"Location": payload["statusQueryGetUri"], "Retry-After": "10"},
        )

    async def get_instance(self, request: web.Request) -> web.Response:
        engine = self._engine()
        instance = engine.instance(request.match_info["instance_id"])
        if instance is None:
            return web.Response(status=404)
        try:
            show_history = _flag(request.query, "showHistory", default=False)
            show_output = _flag(request.query, "showHistoryOutput", default=False)
            show_input = _flag(request.query, "showInput", default=True)
            server_error_on_failure = _flag(
                request.query, "returnInternalServerErrorOnFailure", default=False
            )
        except _BadRequest as exc:
            return _error(400, str(exc))
        payload = status_payload(instance, show_input=show_input)
        if show_history:
            payload["historyEvents"] = [
                for_display(item, with_payloads=show_output) for item in engine.history(instance.instance_id)
            ]
        if instance.runtime_status in _IN_PROGRESS:
            headers = {"Location": str(request.url), "Retry-After": "5"}
            return web.json_response(payload, status=202, headers=headers)
        failed = instance.runtime_status == FAILED
        return web.json_response(payload, status=500 if failed and server_error_on_failure else 200)

    async def list_instances(self, request: web.Request) -> web.Response:
        try:
            query = _query(request.query)
            show_input = _flag(request.query, "showInput", default=True)
        except _BadRequest as exc:
            return _error(400, str(exc))
        instances = self._engine().instances(query)
        return web.json_response([status_payload(instance, show_input=show_input) for instance in instances])

    async def purge_instance(self, request: web.Request) -> web.Response:
        instance_id = request.match_info["instance_id"]
        outcome = self._engine().purge(instance_id)
        if outcome is Outcome.NOT_FOUND:
            return web.Response(status=404)
        if outcome is Outcome.NOT_TERMINAL:
            return _error(
                412, f"Only orchestrations in a terminal state can be purged: '{instance_id}' is not"
            )
        return web.json_response({"instancesDeleted": 1})

    async def purge_instances(self, request: web.Request) -> web.Response:
        if "createdTimeFrom" not in request.query:
            return _error(400, "Please provide value for 'createdTimeFrom' parameter.")
        try:
            query = _query(request.query)
        except _BadRequest as exc:
            return _error(400, str(exc))
        if query.created_to is None:
            query = InstanceQuery(
                query.created_from, format_timestamp(utc_now()), query.statuses, query.prefix
            )
        deleted = self._engine().purge_where(query)
        if deleted == 0:
            return web.Response(status=404)
        return web.json_response({"instancesDeleted": deleted})

    async def raise_event(self, request: web.Request) -> web.Response:
        engine = self._engine()
        instance_id = request.match_info["instance_id"]
        instance = engine.instance(instance_id)
        if instance is None:
            return web.Response(status=404)
        if instance.is_terminal:
            return web.Response(status=410)
        if request.content_type != "application/json":
            return _error(400, "Only application/json request content is supported")
        body = await request.text()
        try:
            json.loads(body)
        except ValueError:
            return _error(400, "Invalid JSON content")
        # The body is stored verbatim: the SDK sends its data JSON-encoded twice and decodes once.
        return _outcome(engine.raise_event(instance_id, request.match_info["event_name"], body))

    async def operate(self, request: web.Request) -> web.Response:
        engine = self._engine()
        operations: Mapping[str, Callable[[str, str], Outcome]] = {
            "terminate": engine.terminate,
            "suspend": engine.suspend,
            "resume": engine.resume,
        }
        operation = request.match_info["operation"].casefold()
        if operation in ("rewind", "restart"):
            return _error(501, f"{operation} is not supported by devhost")
        if operation not in operations:
            return web.Response(status=404)
        reason = request.query.get("reason", "")
        return _outcome(operations[operation](request.match_info["instance_id"], reason))

    async def entities(self, request: web.Request) -> web.Response:
        return _error(501, "Durable entities are not supported by devhost")

    async def not_found(self, request: web.Request) -> web.Response:
        logger.info("%s %s -> 404 (no Durable API route)", request.method, request.path)
        return web.Response(status=404)


def status_payload(instance: Instance, *, show_input: bool) -> dict[str, Any]:
    """The extension's StatusResponsePayload: JSON values, times to the second."""
    return {
        "name": instance.name,
        "instanceId": instance.instance_id,
        "runtimeStatus": instance.runtime_status,
        "input": _json_value(instance.input) if show_input else None,
        "customStatus": _json_value(instance.custom_status),
        "output": _json_value(instance.output),
        "createdTime": _to_second(instance.created_time),
        "lastUpdatedTime": _to_second(instance.last_updated_time),
    }


def _public_base(request: web.Request) -> str:
    # As the extension does: the caller's own origin, the public webhook path.
    return f"{request.scheme}://{request.host}{PUBLIC_PATH}"


def _json_value(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _to_second(timestamp: str) -> str:
    return f"{timestamp[:19]}Z"


def _outcome(outcome: Outcome) -> web.Response:
    status = {Outcome.ACCEPTED: 202, Outcome.NOT_FOUND: 404, Outcome.GONE: 410}[outcome]
    return web.Response(status=status)


def _error(status: int, message: str, exception_message: str | None = None) -> web.Response:
    # The shape of ASP.NET's HttpError, which the SDK reads ExceptionMessage from.
    body = {"Message": message}
    if exception_message is not None:
        body["ExceptionMessage"] = exception_message
    return web.json_response(body, status=status)


def _flag(query: Mapping[str, str], name: str, *, default: bool) -> bool:
    value = query.get(name)
    if value is None or value == "":
        return default
    if value.casefold() in ("true", "false"):
        return value.casefold() == "true"
    raise _BadRequest(f"{name} must be true or false, got {value!r}")


def _query(query: MultiMapping[str]) -> InstanceQuery:
    statuses = set()
    for raw in ",".join(query.getall("runtimeStatus", [])).split(","):
        if raw.strip():
            status = _STATUSES.get(raw.strip().casefold())
            if status is None:
                raise _BadRequest(f"unknown runtimeStatus {raw.strip()!r}")
            statuses.add(status)
    return InstanceQuery(
        created_from=_time(query, "createdTimeFrom"),
        created_to=_time(query, "createdTimeTo"),
        statuses=frozenset(statuses),
        prefix=query.get("instanceIdPrefix") or None,
    )


def _time(query: Mapping[str, str], name: str) -> str | None:
    value = query.get(name)
    if not value:
        return None
    try:
        return format_timestamp(parse_timestamp(value))
    except ValueError:
        raise _BadRequest(f"{name} is not a date and time: {value!r}") from None
