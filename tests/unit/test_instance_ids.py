"""Durable instance ids: valid for the extension whatever the ids in them hold, one per workflow.

Tenant ids are whatever a token's tenant claim or an inbound queue message carries (any non-empty
string); the other parts are Herald's own ids. The rules are the Durable extension's.
"""

from __future__ import annotations

import random
import unicodedata

import pytest

from shared import durable, ids
from shared.services import recovery
from shared.services.delivery import RetryJob

pytestmark = pytest.mark.offline

HOSTILE = [
    "a/b",
    "a\\b",
    "a#b",
    "a?b",
    "@tenant",
    "tab\there",
    "new\nline",
    "nul\x00",
    "del\x7f",
    "c1\x85control",
    "lone\ud800surrogate",
    "%",
    "%2F",
    "%%",
    "~",
    "a~b",
    "a~app_1",
    "/\\#?@%~",
    "t" * 300,
    "/" * 256,
    "\x00" * 200,
    "😀" * 130,
    "ü" * 255,
]


def _label(value: str) -> str:
    """A short test id: the long inputs would make unreadable ones."""
    return ascii(value) if len(value) <= 20 else f"{value[:2]!a}x{len(value)}"


def _valid(instance: str) -> bool:
    """The Durable extension's rules, with UTF-16 lengths as .NET counts them."""
    try:
        # The id travels to the host as UTF-8 JSON: a lone surrogate could not be sent.
        instance.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return (
        0 < len(instance.encode("utf-16-le")) // 2 <= 256
        and not instance.startswith("@")
        and not any(char in "/\\#?" or unicodedata.category(char) == "Cc" for char in instance)
    )


def _retry_id(tenant: str, app: str = "app_1", msg: str = "msg_1", endpoint: str = "ep_1") -> str:
    job = RetryJob(tenant, app, msg, endpoint, attempts=1, retry_in=5, schedule=[5], floor_seconds=60)
    return job.instance_id


def _recovery_id(tenant: str, task: str = "qtask_1") -> str:
    return recovery.instance_id({"tenantId": tenant, "id": task})


def test_ordinary_ids_are_unchanged() -> None:
    # Running workflows are looked up by these ids: they must stay what they always were.
    assert _retry_id("t1") == "dlv~t1~app_1~msg_1~ep_1"
    assert _recovery_id("t1") == "rcv~t1~qtask_1"
    tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    app, msg, endpoint = ids.new_id(ids.APP), ids.new_id(ids.MESSAGE), ids.new_id(ids.ENDPOINT)
    assert _retry_id(tenant, app, msg, endpoint) == f"dlv~{tenant}~{app}~{msg}~{endpoint}"
    task = ids.new_id(ids.BACKGROUND_TASK)
    assert _recovery_id(tenant, task) == f"rcv~{tenant}~{task}"


@pytest.mark.parametrize("tenant", HOSTILE, ids=_label)
def test_ids_from_hostile_tenant_ids_are_valid_and_deterministic(tenant: str) -> None:
    for build in (_retry_id, _recovery_id):
        instance = build(tenant)
        assert _valid(instance), ascii(instance)
        assert build(tenant) == instance


@pytest.mark.parametrize("part", HOSTILE, ids=_label)
def test_ids_from_hostile_resource_ids_are_valid(part: str) -> None:
    assert _valid(_retry_id("t1", app=part))
    assert _valid(_retry_id("t1", msg=part))
    assert _valid(_retry_id("t1", endpoint=part))
    assert _valid(_recovery_id("t1", task=part))


def test_distinct_inputs_give_distinct_ids() -> None:
    inputs = {(tenant, "app_1", "msg_1", "ep_1") for tenant in HOSTILE} | {
        # The separator moved from one part to the next.
        ("a~b", "app_1", "msg_1", "ep_1"),
        ("a", "b~app_1", "msg_1", "ep_1"),
        # A character and its escape.
        ("/", "app_1", "msg_1", "ep_1"),
        ("%2F", "app_1", "msg_1", "ep_1"),
        # Long enough to be hashed, differing only in their last character.
        ("t" * 299 + "a", "app_1", "msg_1", "ep_1"),
        ("t" * 299 + "b", "app_1", "msg_1", "ep_1"),
    }
    built = {durable.instance_id("dlv", *parts) for parts in inputs}
    assert len(built) == len(inputs)


def test_random_ids_are_valid_and_never_collide() -> None:
    alphabet = "ab~%/\\#?@\x00\x1f\x7f\x9f\ud800ü😀-_.2F"
    rng = random.Random(20261201)
    seen: dict[str, tuple[str, str]] = {}
    for _ in range(3000):
        tenant = "".join(rng.choices(alphabet, k=rng.randint(1, 160)))
        app = "".join(rng.choices(alphabet, k=rng.randint(1, 40)))
        instance = durable.instance_id("dlv", tenant, app)
        assert _valid(instance), ascii(instance)
        assert seen.setdefault(instance, (tenant, app)) == (tenant, app), ascii(instance)
