"""The same core scenario (`sdk_scenario.py`) with the latest svix 1.x SDK and the pinned 2.x one.

svix 1.x sends `filterTypes` and `rateLimit` and requires `version` on every endpoint it reads:
its run shows Herald filters by what it sent and answers what it parses. Each generation runs in
its own interpreter (1.x in .tools/svix1, made by `make svix1`, or by the suite when missing), both at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from tests.acceptance.generations import run_each_generation
from tests.support.receivers import Receiver
from tests.support.tokens import Minter

SCENARIO = Path(__file__).with_name("sdk_scenario.py")


@pytest.fixture(scope="module")
def runs(svix1_python: str, herald_url: str, mint: Minter, receiver: Receiver) -> dict[int, dict[str, Any]]:
    """Both generations' runs, each with its own receiver path, started together."""
    token = mint("tenant-sdk-generations")
    return run_each_generation(
        SCENARIO, svix1_python, lambda generation: [herald_url, token, receiver.url(f"gen{generation}", 200)]
    )


@pytest.mark.parametrize("generation", [1, 2])
def test_the_core_scenario_works_with_each_sdk_generation(
    runs: dict[int, dict[str, Any]], receiver: Receiver, generation: int
) -> None:
    run = runs[generation]
    assert run["generation"] == generation and run["app_by_uid"]
    endpoint = run["endpoint"]
    # What each generation sent as the filter and the rate is what it reads back.
    assert (endpoint["id"], endpoint["event_types"], endpoint["rate"]) == (
        run["created_id"],
        ["invoice.paid"],
        50,
    )
    if generation == 1:
        assert endpoint["version"] == 1
    assert run["listed"] == [endpoint["id"]]
    assert run["attempts"] == [[endpoint["id"], 200, "success"]]
    assert [d[:2] for d in run["destinations"]] == [[endpoint["id"], "success"]]
    # The filter held: the voided invoice was sent nowhere, and the receiver got the paid one only.
    assert run["voided_destinations"] == []
    (hit,) = receiver.requests(f"gen{generation}")
    assert hit.headers["webhook-id"] == run["paid"]
    Webhook(run["secret"]).verify(hit.body, hit.headers)
    assert run["patched"] == {"description": "patched", "event_types": ["invoice.paid"], "rate": 50}
    assert run["remaining"] == []
