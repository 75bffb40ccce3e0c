"""What devhost does with functions it cannot serve, and how it starts and stops."""

import signal

import httpx
import pytest

from devhost.testing import DevhostStartupError, run_devhost

from .sample_apps import copy_app


def test_unserved_triggers_are_skipped_and_the_rest_served(module_tmp):
    app_dir = copy_app("partial_app", module_tmp)

    log_path = module_tmp / "partial.log"
    with run_devhost(app_dir, log_path=log_path) as host:
        # host.json sets an empty route prefix.
        hello = httpx.get(f"{host.base_url}/hello")
        start = httpx.post(f"{host.base_url}/start/workflow")
    log = log_path.read_text()

    assert hello.status_code == 200
    assert hello.text == "hello from an unprefixed route"
    # The durable functions are served: the client binding started the orchestration.
    assert start.status_code == 202
    assert "function uploads: trigger blobTrigger is not served by devhost yet" in log
    assert log.count("not served by devhost yet") == 1
    # SIGTERM from run_devhost ends the host gracefully.
    assert host.process.returncode == 0
    assert "devhost stopped" in log


def test_unsupported_binding_refuses_start_naming_function_and_binding(module_tmp):
    app_dir = copy_app("refused_app", module_tmp)

    with (
        pytest.raises(DevhostStartupError) as refused,
        run_devhost(app_dir, log_path=module_tmp / "refused.log"),
    ):
        pass

    message = str(refused.value)
    assert "exited with code 1" in message
    assert "function enqueue: binding 'outbox' of type queue (out) is not supported" in message
    assert "function fine" not in message


def test_missing_app_module_refuses_start(module_tmp):
    with (
        pytest.raises(DevhostStartupError, match="cannot import 'no_such_module'"),
        run_devhost(module_tmp, app_module="no_such_module", log_path=module_tmp / "missing.log"),
    ):
        pass


def test_sigint_stops_the_host_gracefully(module_tmp):
    app_dir = copy_app("partial_app", module_tmp / "sigint")

    with run_devhost(app_dir) as host:
        host.process.send_signal(signal.SIGINT)
        assert host.process.wait(timeout=10) == 0
        assert "devhost stopped" in host.log_text()
