"""Fan-out: which endpoints receive a message."""

from __future__ import annotations

from shared.services.messages import matches
from shared.store.schema import Subscription


def test_endpoint_without_filters_receives_everything() -> None:
    assert matches({"disabled": False}, "user.created", None)
    assert matches({"disabled": False}, "user.created", ["ch"])


def test_disabled_endpoint_receives_nothing() -> None:
    assert not matches({"disabled": True}, "user.created", None)


def test_event_type_filter() -> None:
    endpoint: Subscription = {"eventTypes": ["user.created", "user.deleted"]}
    assert matches(endpoint, "user.created", None)
    assert not matches(endpoint, "invoice.paid", None)


def test_channels_must_intersect_when_endpoint_has_channels() -> None:
    endpoint: Subscription = {"channels": ["eu", "us"]}
    assert matches(endpoint, "x", ["us", "apac"])
    assert not matches(endpoint, "x", ["apac"])
    assert not matches(endpoint, "x", None)


def test_type_and_channel_filters_both_apply() -> None:
    endpoint: Subscription = {"eventTypes": ["a"], "channels": ["eu"]}
    assert matches(endpoint, "a", ["eu"])
    assert not matches(endpoint, "b", ["eu"])
    assert not matches(endpoint, "a", ["us"])
