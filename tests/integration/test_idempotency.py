"""Idempotency keys against the real Cosmos server."""

from __future__ import annotations

import asyncio

import pytest

from shared.errors import ConflictError, NotFoundError, ServiceUnavailableError
from shared.services.idempotency import StoredResponse
from shared.services.registry import Services


async def test_concurrent_duplicates_run_once_and_all_get_the_first_answer(
    services: Services, tenant: str
) -> None:
    runs: list[str] = []

    async def action(seed: str) -> StoredResponse:
        runs.append(seed)
        await asyncio.sleep(0.2)
        return StoredResponse(202, {"id": f"msg_{seed}"})

    answers = await asyncio.gather(
        *(services.idempotency.run(tenant, "POST /x", "key-1", "fp", action) for _ in range(6))
    )
    assert len(runs) == 1
    assert {(a.status, a.body["id"]) for a in answers} == {(202, f"msg_{runs[0]}")}  # type: ignore[index]


async def test_a_finished_key_replays_its_answer_without_running_again(
    services: Services, tenant: str
) -> None:
    calls = 0

    async def action(seed: str) -> StoredResponse:
        nonlocal calls
        calls += 1
        return StoredResponse(201, {"n": calls})

    first = await services.idempotency.run(tenant, "POST /x", "key-2", "fp", action)
    second = await services.idempotency.run(tenant, "POST /x", "key-2", "fp", action)
    assert first == second == StoredResponse(201, {"n": 1})


async def test_client_errors_replay_too(services: Services, tenant: str) -> None:
    async def action(seed: str) -> StoredResponse:
        raise NotFoundError("Application not found.")

    with pytest.raises(NotFoundError):
        await services.idempotency.run(tenant, "POST /x", "key-3", "fp", action)
    replay = await services.idempotency.run(tenant, "POST /x", "key-3", "fp", action)
    assert replay == StoredResponse(404, {"code": "not_found", "detail": "Application not found."})


async def test_a_server_error_releases_the_key_and_the_retry_reuses_the_seed(
    services: Services, tenant: str
) -> None:
    seeds: list[str] = []

    async def flaky(seed: str) -> StoredResponse:
        seeds.append(seed)
        if len(seeds) == 1:
            raise ServiceUnavailableError("down")
        return StoredResponse(202, {"ok": True})

    with pytest.raises(ServiceUnavailableError):
        await services.idempotency.run(tenant, "POST /x", "key-4", "fp", flaky)
    assert (await services.idempotency.run(tenant, "POST /x", "key-4", "fp", flaky)).status == 202
    assert seeds[0] == seeds[1]


async def test_reusing_a_key_for_another_request_is_refused(services: Services, tenant: str) -> None:
    async def action(seed: str) -> StoredResponse:
        return StoredResponse(201, {})

    await services.idempotency.run(tenant, "POST /x", "key-5", "fp-a", action)
    with pytest.raises(ConflictError):
        await services.idempotency.run(tenant, "POST /x", "key-5", "fp-b", action)


async def test_keys_are_scoped_per_tenant(services: Services, tenant: str) -> None:
    async def action(seed: str) -> StoredResponse:
        return StoredResponse(201, {"seed": seed})

    mine = await services.idempotency.run(tenant, "POST /x", "shared-key", "fp", action)
    theirs = await services.idempotency.run(f"{tenant}-other", "POST /x", "shared-key", "fp", action)
    assert mine.body != theirs.body
