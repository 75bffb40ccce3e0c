"""The durable client binding and options: the SDK's client works with the value, any trigger gets it."""

import json
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func
import pytest

from devhost.durable.binding import client_binding_value
from devhost.durable.config import DurableOptions
from devhost.errors import StartupError
from devhost.invocation import Invoker
from devhost.loader import BindingSpec, FunctionSpec

ORIGIN = "http://127.0.0.1:7071"
RPC_ORIGIN = "http://127.0.0.1:17071"


def test_the_sdk_client_accepts_the_binding_value_and_builds_devhost_urls():
    client = df.DurableOrchestrationClient(
        client_binding_value(origin=ORIGIN, rpc_origin=RPC_ORIGIN, hub="Hub")
    )
    request = func.HttpRequest("POST", "http://localhost:9999/api/start", body=b"")

    response = client.create_check_status_response(request, "order-42")

    assert response.status_code == 202
    payload = json.loads(response.get_body())
    assert payload["id"] == "order-42"
    # The SDK swaps in the caller's origin, as the extension does.
    assert response.headers["Location"] == payload["statusQueryGetUri"]
    assert payload["statusQueryGetUri"].startswith(
        "http://localhost:9999/runtime/webhooks/durabletask/instances/order-42?taskHub=Hub&connection=Storage"
    )
    assert payload["terminatePostUri"].startswith(
        "http://localhost:9999/runtime/webhooks/durabletask/instances/order-42/terminate?reason={text}"
    )
    assert client._orchestration_bindings.rpc_base_url == f"{RPC_ORIGIN}/durabletask/"
    assert (
        client._get_start_new_url("order-42", "delivery")
        == f"{RPC_ORIGIN}/durabletask/orchestrators/delivery/order-42"
    )


async def test_the_invoker_supplies_the_client_to_a_function_of_any_trigger(tmp_path: Path):
    received: dict[str, str] = {}

    def on_message(message: str, client: str) -> None:
        received.update(message=message, client=client)

    client_binding = BindingSpec("client", "durableClient", "in", {"taskHub": "Other"})
    spec = FunctionSpec(
        name="on_message",
        trigger=BindingSpec("message", "queueTrigger", "in", {}),
        bindings=(client_binding,),
        user_function=on_message,
        parameters=("message", "client"),
        required_parameters=frozenset({"message", "client"}),
    )
    invoker = Invoker(tmp_path)
    invoker.provide_input("durableClient", lambda _spec, binding: f"client for {binding.raw['taskHub']}")
    try:
        await invoker.call(spec, {"message": "hello"}, invoker.new_invocation_id())
    finally:
        invoker.shutdown()

    assert invoker.provides(client_binding)
    assert not invoker.provides(BindingSpec("out", "queue", "out", {}))
    assert received == {"message": "hello", "client": "client for Other"}


def test_options_come_from_host_json_and_app_settings(tmp_path: Path):
    host_json = {
        "extensions": {
            "durableTask": {
                "hubName": "Deliveries",
                "maxConcurrentActivityFunctions": 3,
                "overridableExistingInstanceStates": "AnyState",
            }
        }
    }
    environ = {"DEVHOST_DURABLE_DB": "state/durable.db", "DEVHOST_DURABLE_TIMER_SCALE": "0.001"}

    options = DurableOptions.load(tmp_path, host_json, environ)

    assert options.hub_name == "Deliveries"
    assert options.db_path == tmp_path / "state" / "durable.db"
    assert options.timer_scale == 0.001
    assert options.max_concurrent_activities == 3
    assert options.overwrite_running
    defaults = DurableOptions.load(tmp_path, {}, {})
    assert defaults.db_path == tmp_path / ".devhost" / "durable.sqlite3"
    assert (defaults.timer_scale, defaults.overwrite_running) == (1.0, False)


@pytest.mark.parametrize(
    ("host_json", "environ", "message"),
    [
        ({}, {"DEVHOST_DURABLE_TIMER_SCALE": "0"}, "must be a positive number"),
        ({}, {"DEVHOST_DURABLE_TIMER_SCALE": "fast"}, "must be a number"),
        ({"extensions": {"durableTask": {"maxConcurrentOrchestratorFunctions": 0}}}, {}, "positive integer"),
        (
            {"extensions": {"durableTask": {"overridableExistingInstanceStates": "Some"}}},
            {},
            "NonRunningStates",
        ),
    ],
)
def test_bad_options_refuse_start(tmp_path: Path, host_json, environ, message):
    with pytest.raises(StartupError, match=message):
        DurableOptions.load(tmp_path, host_json, environ)
