"""Herald's one settings object: every knob is a `HERALD_`-prefixed environment variable.

Locally the values come from `local.settings.json` (loaded by the Functions host or devhost);
in Azure from the Function App's app settings, which the Bicep writes.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.errors import ConfigurationError
from shared.portal_theme import refused_settings

DEFAULT_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
# Claims every token of Herald's one issuer carries with the same value: `iss` and `aud` are
# checked against the settings, and the v2.0 issuer URL names one Entra tenant, whose `tid` every
# caller's token then carries. A tenant taken from one of them puts every caller in one tenant.
CONSTANT_CLAIMS = frozenset({"tid", "iss", "aud"})
# The issuer (`iss`) of the app portal tokens Herald signs itself: never the configured issuer's.
PORTAL_ISSUER = "urn:herald:portal"
# One CSP frame-ancestors source: 'self', or a scheme, a host (optionally `*.` for subdomains)
# and an optional port.
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
FRAME_ANCESTOR = re.compile(
    rf"'self'|https?://(?:\*\.)?{_HOST_LABEL}(?:\.{_HOST_LABEL})*(?::(?:\d{{1,5}}|\*))?"
)


def _split_csv(value: object) -> object:
    # Lists arrive as comma-separated strings from app settings, not JSON.
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class HeraldSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HERALD_", extra="ignore", frozen=True)

    # Cosmos DB. Without a key the app authenticates with DefaultAzureCredential.
    cosmos_endpoint: str = "https://localhost:8081"
    cosmos_key: str | None = None
    cosmos_database: str = "herald"
    cosmos_verify_tls: bool = True
    cosmos_create_containers: bool = False
    # Longest a single Cosmos operation may take, retries included, before the API answers 503.
    cosmos_timeout_seconds: int = 8

    # Authentication: OAuth2 / OpenID Connect bearer tokens (Microsoft Entra ID in production).
    # Keys come from the issuer's JWKS URL, or (locally) from a JWKS document given inline.
    auth_issuer: str | None = None
    auth_audience: str | None = None
    auth_jwks_url: str | None = None
    auth_jwks: str | None = None
    # The claim naming the caller's Herald tenant: by default the calling application (`azp` of
    # v2 tokens, `appid` of v1 ones), so each caller has its own tenant (see CONSTANT_CLAIMS).
    auth_tenant_claim: str = Field(default="azp", min_length=1)
    # Declares on purpose that every caller shares one tenant (e.g. `tid` with one issuer).
    auth_single_tenant: bool = False
    auth_leeway_seconds: int = 60
    # The tenants whose `herald.operator` permission counts (GET /metrics); empty: any caller the
    # issuer grants it. Tenant tokens never carry it unless an operator assigns the role.
    operator_tenants: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Per-tenant API rate limit (token bucket); shared through Redis when a URL is set.
    redis_url: str | None = None
    api_rate_per_second: float = 50.0
    api_burst: int = 100

    # Encryption of endpoint secrets at rest: the key-encryption key is a Key Vault key that
    # wraps data keys and never leaves the vault; locally it is given directly (base64 of 32
    # bytes). kek_secret_name names the KEK secret of older deployments, only to open what was
    # sealed with it (unset: nothing was).
    keyvault_url: str | None = None
    kek_key_name: str = "herald-kek-key"
    kek_secret_name: str | None = None
    local_kek: str | None = None

    # Browsers allowed to call the API (none by default).
    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # API limits.
    max_request_bytes: int = 1024 * 1024 + 64 * 1024
    max_payload_bytes: int = 1024 * 1024
    idempotency_ttl_seconds: int = 12 * 3600
    idempotency_wait_seconds: float = 10.0
    event_id_ttl_seconds: int = 24 * 3600
    retention_days: int = 90
    max_deliver_at_hours: int = 24

    # Delivery (consumed by the delivery workflows; validated here so bad values fail at start).
    delivery_allowed_cidrs: Annotated[list[str], NoDecode] = Field(default_factory=list)
    retry_schedule: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE)
    )
    delivery_timeout_seconds: float = 15.0
    delivery_allow_http: bool = False
    # Also send svix-id / svix-timestamp / svix-signature, for receivers migrating from Svix.
    delivery_svix_headers: bool = False
    # After a timeout or a 429, the next attempt waits at least this long.
    retry_floor_seconds: float = 60.0
    # Work this long past due without a workflow (a message never sent, a pending pair whose
    # workflow is gone) was lost: the sweeper gives it one.
    sweep_grace_seconds: int = 120
    # Circuit breaker per endpoint: opens after this many consecutive failures, for the cool-down.
    breaker_failures: int = 5
    breaker_cooldown_seconds: float = 60.0
    # An endpoint that has only failed for this long is disabled (Svix: 5 days).
    auto_disable_after_seconds: int = 5 * 24 * 3600
    # A pair's operational event `message.attempt.failing` is sent after this many failed attempts.
    failing_event_after_attempts: int = 4
    # When the sweeper runs (six-field NCRONTAB; the timer trigger reads it as %HERALD_SWEEP_SCHEDULE%).
    sweep_schedule: str = "0 */1 * * * *"
    delivery_allowed_ports: Annotated[list[int], NoDecode] = Field(default_factory=list)
    # Endpoint recovery resends failed messages this many per activity (one workflow step).
    recover_batch_size: int = Field(default=50, ge=1, le=250)
    # Outbound concurrency per process: requests in flight in all (the connection pool's size),
    # per tenant and per host (scheme, host, port), so no tenant's slow receivers can take
    # every connection. A request that does not get its slots in time is put off (it is not an
    # attempt and not the endpoint's failure). A first attempt waits in the background, by default
    # as long as the default delivery timeout (within which a held slot frees); a retry, resend or
    # recovery (in an activity or a caller's request) waits `outbound_wait_seconds`.
    outbound_connections: int = Field(default=256, ge=1)
    outbound_per_tenant: int = Field(default=64, ge=1)
    outbound_per_host: int = Field(default=32, ge=1)
    outbound_first_wait_seconds: float = Field(default=15.0, ge=0, le=300)
    outbound_wait_seconds: float = Field(default=2.0, ge=0, le=60)
    # Quotas: what one application's endpoints (and a tenant's operational endpoints) may hold.
    max_endpoints_per_app: int = Field(default=250, ge=1)
    max_headers_per_endpoint: int = Field(default=20, ge=0)
    max_header_bytes: int = Field(default=8192, ge=0)
    max_metadata_entries: int = Field(default=50, ge=0)
    max_metadata_bytes: int = Field(default=4096, ge=0)
    max_endpoint_event_types: int = Field(default=100, ge=1)
    # Svix refuses more than 10 channels per endpoint (the wire contract): this may only lower it.
    max_endpoint_channels: int = Field(default=10, ge=1, le=10)
    # Readiness (/api/v1/health/ready): each dependency check gives up after this long.
    readiness_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    # The route is public: its verdict is kept this long per process, so callers cannot make
    # Herald ask its dependencies more often than this.
    readiness_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    # Herald's own log lines at this level and above. At DEBUG every webhook attempt is logged;
    # at INFO only failed ones (successes are in the attempt log, the metrics and the traces).
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # App portal tokens (POST /api/v1/auth/app-portal-access) are signed by Herald: in Azure by the
    # Key Vault key named here (EC P-256, sign only: the private key never leaves the vault), locally
    # by a P-256 key given directly (base64 of its PKCS#8 DER; `make run` writes one).
    portal_key_name: str = "herald-portal-signing-key"
    portal_local_key: str | None = None
    # Where the portal's links point (scheme, host and any path prefix, e.g. a gateway's); unset:
    # the origin each request to app-portal-access arrived at.
    public_base_url: str | None = None
    # The pages allowed to frame the application portal (its CSP `frame-ancestors`): the origins
    # of the SaaS's own pages that embed it, space- or comma-separated. 'none': no page may.
    portal_frame_ancestors: str = "'none'"
    # The portal's appearance where a tenant's settings say nothing: Svix's appearance settings as
    # a JSON object (displayName, customLogoUrl, colorPaletteLight/Dark, customFontFamily: see
    # shared/portal_theme.py). Each key must be one the portal applies, with a value it keeps.
    portal_theme: Annotated[dict[str, Any], NoDecode] = Field(default_factory=dict)

    _split = field_validator(
        "delivery_allowed_cidrs",
        "retry_schedule",
        "cors_allowed_origins",
        "delivery_allowed_ports",
        "operator_tenants",
        mode="before",
    )(_split_csv)

    @field_validator("auth_jwks_url", "portal_local_key", "public_base_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # local.settings.json lists every setting, the unused ones as "".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("auth_jwks_url")
    @classmethod
    def _jwks_over_https(cls, value: str | None) -> str | None:
        # The keys decide who gets in: fetched over plain http, anyone on the path could swap them.
        if value is not None:
            parts = urlsplit(value.strip())
            if parts.scheme != "https" or not parts.hostname:
                raise ValueError("must be an https:// URL (local keys go inline, in HERALD_AUTH_JWKS)")
        return value

    @model_validator(mode="after")
    def _one_tenant_only_on_purpose(self) -> Self:
        if self.auth_tenant_claim in CONSTANT_CLAIMS and not self.auth_single_tenant:
            raise ValueError(
                f"HERALD_AUTH_TENANT_CLAIM={self.auth_tenant_claim} puts every caller of the issuer in "
                "one tenant; use a claim that differs per calling application (azp, the default) "
                "or set HERALD_AUTH_SINGLE_TENANT=true to run a single tenant on purpose"
            )
        return self

    @field_validator("public_base_url")
    @classmethod
    def _a_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("must be an http(s):// URL without query or fragment")
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _portal_issuer_is_herald_own(self) -> Self:
        # A configured issuer of that name would let the issuer's tokens pass for portal tokens'
        # claims, and Herald's own tokens for the issuer's.
        if self.auth_issuer == PORTAL_ISSUER:
            raise ValueError(f"HERALD_AUTH_ISSUER cannot be {PORTAL_ISSUER}, Herald's own portal issuer")
        return self

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_name(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("portal_frame_ancestors")
    @classmethod
    def _frame_ancestors(cls, value: str) -> str:
        # It is written into a CSP header: anything but origins could add directives to it.
        sources = [part for part in re.split(r"[\s,]+", value.strip()) if part]
        if not sources or sources == ["'none'"]:
            return "'none'"
        if not all(FRAME_ANCESTOR.fullmatch(source) for source in sources):
            raise ValueError(
                "list origins such as https://app.example.com or https://*.example.com (or 'self'), "
                "or give 'none' alone"
            )
        return " ".join(sources)

    @field_validator("portal_theme", mode="before")
    @classmethod
    def _json_object(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        if not value.strip():
            return {}
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError("must be a JSON object") from None

    @field_validator("portal_theme")
    @classmethod
    def _a_theme_the_portal_applies(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Refused rather than left out: a default that silently does nothing is a deployment bug.
        refused = refused_settings(value)
        if refused:
            raise ValueError(
                f"the portal does not apply {', '.join(refused)}: use displayName, customLogoUrl "
                "(https:// or a data:image), customColor or colorPaletteLight/colorPaletteDark "
                '{"primary": "#rrggbb"}, customFontFamily (font names)'
            )
        return value

    @field_validator("retry_schedule")
    @classmethod
    def _schedule_is_positive(cls, value: list[int]) -> list[int]:
        if any(delay < 0 for delay in value):
            raise ValueError("retry delays must be zero or positive seconds")
        return value


@lru_cache(maxsize=1)
def get_settings() -> HeraldSettings:
    """The process-wide settings, read once from the environment.

    :raises ConfigurationError: a setting is invalid (the message names it, never its value).
    """
    try:
        return HeraldSettings()
    except ValidationError as exc:
        # Without the inputs: pydantic would quote them, and the settings hold keys.
        reasons = "; ".join(
            (f"HERALD_{str(error['loc'][0]).upper()}: " if error["loc"] else "")
            + error["msg"].removeprefix("Value error, ")
            for error in exc.errors(include_url=False, include_input=False, include_context=False)
        )
        raise ConfigurationError(f"Herald's settings are invalid: {reasons}.") from None
