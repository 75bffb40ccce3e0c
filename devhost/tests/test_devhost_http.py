"""devhost serving the sample HTTP app over real HTTP: routing, conversion, errors, settings."""

from collections.abc import Iterator

import httpx
import pytest

from devhost.testing import RunningDevhost, run_devhost

from .sample_apps import copy_app

MAX_BODY = 1024
LOCAL_SETTINGS = {
    "IsEncrypted": False,
    "Values": {
        "HTTP_APP_FROM_SETTINGS": "from-local-settings",
        "HTTP_APP_OVERRIDDEN": "from-local-settings",
        "HTTP_APP_NUMBER": 42,
    },
}


@pytest.fixture(scope="module")
def host(module_tmp) -> Iterator[RunningDevhost]:
    app_dir = copy_app("http_app", module_tmp, LOCAL_SETTINGS)
    env = {"HTTP_APP_OVERRIDDEN": "from-environment", "DEVHOST_MAX_BODY_BYTES": str(MAX_BODY)}
    with run_devhost(app_dir, env=env) as running:
        yield running


@pytest.fixture(scope="module")
def client(host: RunningDevhost) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{host.base_url}/v1", timeout=10) as http:
        yield http


def test_sync_handler_receives_method_url_headers_query_and_body(client, host):
    response = client.post(
        "/echo?a=1&a=2&empty=&code=any-key",
        content=b"hello body",
        headers={"X-Custom": "value", "x-functions-key": "also-any-key"},
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    echoed = response.json()
    assert echoed["method"] == "POST"
    assert echoed["url"] == f"{host.base_url}/v1/echo?a=1&a=2&empty=&code=any-key"
    assert echoed["headers"]["x-custom"] == "value"
    # Repeated query parameters are comma-joined and empty ones dropped, as the host does.
    assert echoed["params"] == {"a": "1,2", "code": "any-key"}
    assert echoed["route_params"] == {}
    assert echoed["body"] == "hello body"
    assert echoed["thread"].startswith("ThreadPoolExecutor")  # the worker runtime's sync pool


def test_async_handler_returns_binary_body_status_headers_and_mimetype(client):
    payload = bytes(range(256))

    response = client.post("/bytes", content=payload)

    assert response.status_code == 201
    assert response.content == payload
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-body-length"] == "256"
    assert response.headers["x-thread"] == "MainThread"


def test_get_json_decodes_the_body(client):
    assert client.post("/json", json={"k": [1, 2]}).json() == {"received": {"k": [1, 2]}}
    assert client.post("/json", content=b"{not json").status_code == 400


def test_string_return_value_becomes_a_text_response(client):
    response = client.get("/default_route")

    assert response.status_code == 200
    assert response.text == "routed by function name"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    ("path", "handler", "route_params"),
    [
        ("/items/special", "item_special", None),
        ("/items/special/", "item_special", None),
        ("/items/42", "item_by_id", {"id": "42"}),
        ("/items/widget", "item_by_name", {"name": "widget"}),
        ("/items/hello%20world", "item_by_name", {"name": "hello world"}),
        ("/items/99999999999", "item_by_name", {"name": "99999999999"}),  # exceeds int32
        ("/apps/app_1/msg", "app_messages", {"app_id": "app_1"}),
        ("/apps/app_1/other", "app_resource", {"app_id": "app_1", "resource": "other"}),
    ],
)
def test_most_specific_route_wins(client, path, handler, route_params):
    response = client.get(path)

    assert response.status_code == 200
    assert response.json()["handler"] == handler
    if route_params is not None:
        assert response.json()["route_params"] == route_params


@pytest.mark.parametrize(
    ("path", "route_params"),
    [
        ("/archive/2024", {"year": "2024"}),
        ("/archive/2024/hello", {"year": "2024", "slug": "hello"}),
        ("/files", {}),
        ("/files/a/b/c.txt", {"path": "a/b/c.txt"}),
    ],
)
def test_optional_and_catch_all_parameters(client, path, route_params):
    response = client.get(path)

    assert response.status_code == 200
    assert response.json() == {"route_params": route_params}


def test_literal_segments_match_case_insensitively(client):
    assert client.get("/DEFAULT_ROUTE").status_code == 200


def test_methods_dispatch_between_functions_sharing_a_route(client):
    assert client.delete("/items/42").status_code == 204
    assert client.get("/items/42").json()["handler"] == "item_by_id"


def test_unknown_path_is_a_json_404(client):
    for path in ("/nothing-here", "/archive/not-a-year", "/archive/2024/a/b"):
        response = client.get(path)

        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        assert path in response.json()["detail"]


def test_default_prefix_is_replaced_by_host_json(host):
    response = httpx.get(f"{host.base_url}/api/echo")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_wrong_method_is_a_json_405_with_allow(client):
    response = client.post("/items/42")

    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET"
    assert response.json()["code"] == "method_not_allowed"

    # Only the int-constrained route takes DELETE, so a name matches GET alone.
    assert client.delete("/items/widget").headers["allow"] == "GET"


def test_body_over_the_limit_is_a_json_413(client):
    assert client.post("/echo", content=b"x" * MAX_BODY).status_code == 200

    too_big = client.post("/echo", content=b"x" * (MAX_BODY + 1))
    assert too_big.status_code == 413
    assert too_big.json()["code"] == "payload_too_large"


def test_chunked_body_over_the_limit_is_a_json_413(client):
    def chunks() -> Iterator[bytes]:
        for _ in range(4):
            yield b"y" * (MAX_BODY // 2)

    response = client.post("/echo", content=chunks())

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


@pytest.mark.parametrize(
    ("path", "secret"), [("/boom", "secret-sync-7781"), ("/async-boom", "secret-async-7782")]
)
def test_function_exception_is_a_json_500_without_its_message(client, host, path, secret):
    response = client.get(path)

    assert response.status_code == 500
    name = path.strip("/").replace("-", "_")
    assert response.json() == {
        "code": "function_error",
        "detail": f"Exception while executing function: {name}",
    }
    assert secret not in response.text
    # The traceback, message included, is in the host's log instead.
    assert secret in host.log_text()


def test_unencodable_return_value_is_a_500(client, host):
    response = client.get("/returns-dict")

    assert response.status_code == 500
    # The worker runtime's own refusal, as Azure would log it.
    assert "unable to encode outgoing TypedData" in host.log_text()


def test_context_parameter_receives_the_invocation_context(client):
    response = client.get("/with-context")

    assert response.json()["function_name"] == "with_context"
    assert len(response.json()["invocation_id"]) == 36


def test_named_http_output_binding_is_a_func_out(client):
    response = client.post("/out-param")

    assert response.status_code == 202
    assert response.text == "set through func.Out"


def test_several_set_cookie_headers_survive(client):
    response = client.get("/cookies")

    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]


def test_local_settings_reach_os_environ_and_the_environment_wins(client):
    assert client.get("/settings").json() == {
        "HTTP_APP_FROM_SETTINGS": "from-local-settings",
        "HTTP_APP_OVERRIDDEN": "from-environment",
        "HTTP_APP_NUMBER": "42",
    }


def test_async_invocations_share_one_long_lived_event_loop(client):
    first_response = client.get("/loop-probe")
    second_response = client.get("/loop-probe")

    assert first_response.status_code == second_response.status_code == 200
    first, second = first_response.json(), second_response.json()

    assert first["pong"] == second["pong"] == "pong"
    assert second["calls"] == first["calls"] + 1
    assert second["loops"] == 1
    assert second["thread"] == "MainThread"


def test_each_invocation_logs_function_trigger_request_status_and_outcome(client, host):
    client.get("/items/special")
    client.get("/boom")

    log = host.log_text()
    assert "Executed 'item_special' [http] GET /v1/items/special -> 200 (Succeeded," in log
    assert "Executed 'boom' [http] GET /v1/boom -> 500 (Failed," in log
