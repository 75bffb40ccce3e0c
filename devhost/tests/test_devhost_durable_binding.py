"""The durable client binding and options: the SDK's client works with the value, any trigger gets it."""

import json
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func
import pytest

from devhost.durable.binding import client_binding_value
from devhost.durable.config import DurableOptions
from devhost.errors import StartupError

pytestmark = pytest.mark.offline

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
