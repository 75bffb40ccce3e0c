"""Command-line options of python -m devhost."""

import pytest

from devhost.__main__ import MAX_BODY_VARIABLE, QUEUE_LEASE_VARIABLE, parse_args
from devhost.http import DEFAULT_MAX_BODY_BYTES

pytestmark = pytest.mark.offline


def test_defaults_match_core_tools(monkeypatch):
    monkeypatch.delenv(MAX_BODY_VARIABLE, raising=False)

    args = parse_args([])

    assert (args.app, args.host, args.port) == ("function_app", "127.0.0.1", 7071)
    assert args.max_body_bytes == DEFAULT_MAX_BODY_BYTES == 100 * 1024 * 1024


def test_body_limit_flag_beats_environment_variable(monkeypatch):
    monkeypatch.setenv(MAX_BODY_VARIABLE, "2048")

    assert parse_args([]).max_body_bytes == 2048
    assert parse_args(["--max-body-bytes", "512"]).max_body_bytes == 512


@pytest.mark.parametrize("value", ["0", "-1", "lots"])
def test_bad_body_limit_is_a_usage_error(monkeypatch, value):
    monkeypatch.setenv(MAX_BODY_VARIABLE, value)

    with pytest.raises(SystemExit):
        parse_args([])


def test_queue_lease_defaults_to_30_seconds_and_the_flag_beats_the_environment(monkeypatch):
    monkeypatch.delenv(QUEUE_LEASE_VARIABLE, raising=False)
    assert parse_args([]).queue_lease_seconds == 30

    monkeypatch.setenv(QUEUE_LEASE_VARIABLE, "5")
    assert parse_args([]).queue_lease_seconds == 5
    assert parse_args(["--queue-lease-seconds", "7"]).queue_lease_seconds == 7

    monkeypatch.setenv(QUEUE_LEASE_VARIABLE, "0")
    with pytest.raises(SystemExit):
        parse_args([])
