"""Expunging all contents, batch by batch, against the real Cosmos server."""

from __future__ import annotations

import pytest

from shared.models import ApplicationIn, BackgroundTaskStatus, MessageIn
from shared.services import purge
from shared.services.purge import workflow_input
from shared.services.registry import Services
from shared.store.base import MESSAGES


async def test_batches_move_the_cursor_count_what_they_purge_and_repeat_harmlessly(
    services: Services, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(purge, "PURGE_BATCH_SIZE", 2)
    app, _ = await services.applications.create(tenant, ApplicationIn(name="Purge"))
    pk = [tenant, app["id"]]

    def body(n: int, **extra: object) -> MessageIn:
        return MessageIn.model_validate({"eventType": "a", "payload": {"n": n}, **extra})

    messages = [
        await services.messages.create(tenant, app["id"], body(0)),
        await services.messages.create(tenant, app["id"], body(1, payloadRetentionHours=3)),
        await services.messages.create(tenant, app["id"], body(2)),
    ]
    task = await services.purge.start(tenant, app["id"])
    later = await services.messages.create(tenant, app["id"], body(3))
    job = workflow_input(task)

    first = await services.purge.run_batch(job)
    assert first == {"done": False, "cursor": messages[1]["id"]}
    # The activity ran twice (at least once delivery): the second run only reports the progress.
    assert await services.purge.run_batch(job) == {"done": False, "cursor": messages[1]["id"]}
    assert await services.purge.run_batch({**job, "cursor": first["cursor"]}) == {
        "done": True,
        "cursor": messages[2]["id"],
    }

    done = await services.background_tasks.read(tenant, task["id"])
    assert (done["status"], done["data"]) == (BackgroundTaskStatus.FINISHED, {"messagesPurged": 3})
    for message in messages:
        assert (await services.messages.get(tenant, app["id"], message["id"]))["payload"] == {}
    # The payload kept apart is deleted, not only hidden; a message sent after the start is kept.
    assert await services.store.read(MESSAGES, pk, f"content~{messages[1]['id']}") is None
    assert (await services.messages.get(tenant, app["id"], later["id"]))["payload"] == {"n": 3}
