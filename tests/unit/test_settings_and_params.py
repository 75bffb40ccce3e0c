"""Settings parsing and list parameters."""

from __future__ import annotations

import pytest

from blueprints._http import parse_query
from shared.errors import ValidationFailedError
from shared.pagination import MAX_LIMIT
from shared.queries import AscendingListQuery
from shared.settings import DEFAULT_RETRY_SCHEDULE, HeraldSettings


def test_list_settings_parse_from_comma_separated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_DELIVERY_ALLOWED_CIDRS", "127.0.0.0/8, ::1/128")
    monkeypatch.setenv("HERALD_RETRY_SCHEDULE", "1,2,3")
    settings = HeraldSettings()
    assert settings.delivery_allowed_cidrs == ["127.0.0.0/8", "::1/128"]
    assert settings.retry_schedule == [1, 2, 3]


def test_defaults_match_the_documented_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HERALD_RETRY_SCHEDULE", raising=False)
    monkeypatch.delenv("HERALD_DELIVERY_ALLOWED_CIDRS", raising=False)
    settings = HeraldSettings()
    assert settings.retry_schedule == list(DEFAULT_RETRY_SCHEDULE)
    assert settings.delivery_allowed_cidrs == []
    assert settings.delivery_timeout_seconds == 15


def test_negative_retry_delay_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_RETRY_SCHEDULE", "5,-1")
    with pytest.raises(ValueError):
        HeraldSettings()


def test_log_level_takes_any_case_and_refuses_unknown_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HERALD_LOG_LEVEL", raising=False)
    assert HeraldSettings().log_level == "INFO"
    monkeypatch.setenv("HERALD_LOG_LEVEL", " debug ")
    assert HeraldSettings().log_level == "DEBUG"
    monkeypatch.setenv("HERALD_LOG_LEVEL", "verbose")
    with pytest.raises(ValueError):
        HeraldSettings()


def test_list_params_defaults_and_bounds() -> None:
    params = parse_query(AscendingListQuery, {}).list_params()
    assert (params.limit, params.iterator, params.order) == (50, None, "ascending")
    assert parse_query(AscendingListQuery, {"limit": str(MAX_LIMIT)}).list_params().limit == MAX_LIMIT
    for bad in ({"limit": "0"}, {"limit": "251"}, {"limit": "ten"}, {"order": "sideways"}):
        with pytest.raises(ValidationFailedError):
            parse_query(AscendingListQuery, bad)
