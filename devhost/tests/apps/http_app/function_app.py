"""A sample app for devhost's own tests: one function per behaviour the tests pin down."""

import asyncio
import json
import os
import threading
from urllib.parse import urlsplit

import aiohttp
import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)


def _json(payload: object, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(payload), status_code=status, mimetype="application/json")


@app.route(route="echo", methods=["GET", "POST", "PUT"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    return _json(
        {
            "method": req.method,
            "url": req.url,
            "headers": dict(req.headers),
            "params": dict(req.params),
            "route_params": dict(req.route_params),
            "body": req.get_body().decode("utf-8", errors="replace"),
            "thread": threading.current_thread().name,
        }
    )


@app.route(route="bytes", methods=["POST"])
async def bytes_echo(req: func.HttpRequest) -> func.HttpResponse:
    body = req.get_body()
    return func.HttpResponse(
        body,
        status_code=201,
        headers={"X-Body-Length": str(len(body)), "X-Thread": threading.current_thread().name},
        mimetype="application/octet-stream",
    )


@app.route(route="json", methods=["POST"])
def json_body(req: func.HttpRequest) -> func.HttpResponse:
    try:
        payload = req.get_json()
    except ValueError:
        return _json({"error": "invalid json"}, status=400)
    return _json({"received": payload})


@app.route(route="items/special", methods=["GET"])
def item_special(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"handler": "item_special"})


@app.route(route="items/{id:int}", methods=["GET"])
def item_by_id(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"handler": "item_by_id", "route_params": dict(req.route_params)})


@app.route(route="items/{name}", methods=["GET"])
def item_by_name(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"handler": "item_by_name", "route_params": dict(req.route_params)})


@app.route(route="items/{id:int}", methods=["DELETE"])
def item_delete(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(status_code=204)


@app.route(route="apps/{app_id}/{resource}", methods=["GET"])
def app_resource(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"handler": "app_resource", "route_params": dict(req.route_params)})


@app.route(route="apps/{app_id}/msg", methods=["GET"])
def app_messages(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"handler": "app_messages", "route_params": dict(req.route_params)})


@app.route(route="archive/{year:int}/{slug?}", methods=["GET"])
def archive(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"route_params": dict(req.route_params)})


@app.route(route="files/{*path}", methods=["GET"])
def files(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"route_params": dict(req.route_params)})


@app.route(methods=["GET"])
def default_route(req: func.HttpRequest) -> str:
    return "routed by function name"


@app.route(route="boom")
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("sync failure carrying secret-sync-7781")


@app.route(route="async-boom")
async def async_boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("async failure carrying secret-async-7782")


@app.route(route="returns-dict")
def returns_dict(req: func.HttpRequest):  # Azure refuses a dict[str, str] annotation here
    return {"not": "an HttpResponse"}


@app.route(route="with-context")
async def with_context(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return _json({"function_name": context.function_name, "invocation_id": context.invocation_id})


@app.generic_trigger(arg_name="request", type="httpTrigger", route="out-param", methods=["post"])
@app.generic_output_binding(arg_name="response", type="http")
def out_param(request: func.HttpRequest, response: func.Out[func.HttpResponse]) -> None:
    response.set(func.HttpResponse("set through func.Out", status_code=202))


@app.route(route="cookies")
def cookies(req: func.HttpRequest) -> func.HttpResponse:
    response = func.HttpResponse("with cookies")
    response.headers.add("Set-Cookie", "a=1; Path=/")
    response.headers.add("Set-Cookie", "b=2; Path=/")
    return response


@app.route(route="settings")
def settings(req: func.HttpRequest) -> func.HttpResponse:
    names = ["HTTP_APP_FROM_SETTINGS", "HTTP_APP_OVERRIDDEN", "HTTP_APP_NUMBER"]
    return _json({name: os.environ.get(name) for name in names})


@app.route(route="ping")
async def ping(req: func.HttpRequest) -> str:
    return "pong"


# Created lazily on first use and then reused: this only keeps working if every async invocation
# runs on the same event loop (a session bound to a closed or other loop fails).
_session: aiohttp.ClientSession | None = None
_lock: asyncio.Lock | None = None
_loops: set[int] = set()
_calls = 0


@app.route(route="loop-probe")
async def loop_probe(req: func.HttpRequest) -> func.HttpResponse:
    global _session, _lock, _calls
    if _session is None:
        _session = aiohttp.ClientSession()
        _lock = asyncio.Lock()
    assert _lock is not None
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(req.url))
    async with _lock:
        _calls += 1
        _loops.add(id(asyncio.get_running_loop()))
        async with _session.get(f"{origin}/v1/ping") as reply:
            pong = await reply.text()
    return _json(
        {
            "pong": pong,
            "calls": _calls,
            "loops": len(_loops),
            "thread": threading.current_thread().name,
        }
    )
