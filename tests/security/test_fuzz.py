"""Property-based fuzzing of every operation in Herald's own OpenAPI document: no 5xx, ever.

schemathesis generates valid and invalid requests from /api/v1/openapi.json; whatever it sends,
Herald must answer with a deliberate status (2xx or 4xx), never a server error.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

import function_app  # noqa: F401  (registers the routes listed below)
from blueprints._http import ROUTES
from tests.support.hosts import serving_herald
from tests.support.tokens import Minter

EXAMPLES_PER_OPERATION = 12


@pytest.fixture(scope="module")
def fuzz_target(herald_env: dict[str, str]) -> Iterator[str]:
    # A Herald of the module's own, with a limit high enough that fuzzing does not meet 429s.
    env = {**herald_env, "HERALD_API_RATE_PER_SECOND": "100000", "HERALD_API_BURST": "100000"}
    with serving_herald(env) as url:
        yield url


@pytest.fixture(scope="module")
def api_schema(fuzz_target: str) -> schemathesis.BaseSchema:
    document = httpx.get(f"{fuzz_target}/api/v1/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    return schemathesis.openapi.from_dict(document)


@pytest.mark.parametrize("operation_id", sorted({route.name for route in ROUTES}))
def test_no_request_makes_herald_fail(
    operation_id: str, api_schema: Any, fuzz_target: str, mint: Minter
) -> None:
    operation = api_schema.find_operation_by_id(operation_id)
    headers = {"Authorization": f"Bearer {mint('t-fuzz')}"}
    seen: list[int] = []

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=operation.as_strategy())
    def fuzz(case: Any) -> None:
        response = case.call(base_url=fuzz_target, headers=headers)
        seen.append(response.status_code)
        assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"

    fuzz()
    assert seen
