"""The same core scenario (`sdk_scenario.py`) with the latest svix 1.x SDK and the pinned 2.x one.

svix 1.x sends `filterTypes` and `rateLimit` and requires `version` on every endpoint it reads:
its run shows Herald filters by what it sent and answers what it parses. Each generation runs in
its own interpreter (1.x in .tools/svix1, made by `make svix1`, or here when missing), both at once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from tests.support.receivers import Receiver
from tests.support.settings import ROOT
from tests.support.tokens import Minter

SCENARIO = Path(__file__).with_name("sdk_scenario.py")


@pytest.fixture(scope="module")
def svix1_python() -> str:
    made = subprocess.run(
        ["bash", str(ROOT / "scripts" / "svix1_venv.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def runs(svix1_python: str, herald_url: str, mint: Minter, receiver: Receiver) -> dict[int, dict[str, Any]]:
    """Both generations' runs, each with its own receiver path, started together."""
    token = mint("tenant-sdk-generations")
    started = {
        generation: subprocess.Popen(
            [python, str(SCENARIO), herald_url, token, receiver.url(f"gen{generation}", 200)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for generation, python in ((1, svix1_python), (2, sys.executable))
    }
    results = {}
    for generation, process in started.items():
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, f"svix {generation}.x: {err}"
        results[generation] = json.loads(out)
    return results


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
