"""Herald's one error hierarchy. `blueprints/_http.py` maps it to HTTP in one place.

`code` and `detail` become the Svix error body `{"code": ..., "detail": ...}`; `detail` is shown to
API callers, so it never holds secrets, tokens or payloads.
"""

from __future__ import annotations

from typing import Any


class HeraldError(Exception):
    status: int = 500
    code: str = "internal_error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code

    def to_body(self) -> dict[str, Any]:
        """The JSON body the Svix SDKs expect for this error."""
        return {"code": self.code, "detail": self.detail}


class ConfigurationError(HeraldError):
    """Herald's settings are invalid: nothing is served until they are fixed."""

    code = "configuration_error"


class BadRequestError(HeraldError):
    status = 400
    code = "bad_request"


class UnauthorizedError(HeraldError):
    """No valid bearer token. `error` goes into `WWW-Authenticate` (RFC 6750)."""

    status = 401
    code = "unauthorized"

    def __init__(self, detail: str, *, error: str | None = "invalid_token") -> None:
        super().__init__(detail)
        self.error = error

    def challenge(self) -> str:
        if self.error is None:
            return 'Bearer realm="herald"'
        description = self.detail.replace('"', "'")
        return f'Bearer realm="herald", error="{self.error}", error_description="{description}"'


class ForbiddenError(HeraldError):
    """A valid token without the scope the operation needs."""

    status = 403
    code = "forbidden"

    def __init__(self, detail: str, *, scope: str) -> None:
        super().__init__(detail)
        self.scope = scope

    def challenge(self) -> str:
        return f'Bearer realm="herald", error="insufficient_scope", scope="{self.scope}"'


class NotFoundError(HeraldError):
    status = 404
    code = "not_found"


class MethodNotAllowedError(HeraldError):
    """A served path called with a method it does not take; `allowed` goes into `Allow`."""

    status = 405
    code = "method_not_allowed"

    def __init__(self, detail: str, *, allowed: list[str]) -> None:
        super().__init__(detail)
        self.allowed = allowed


class ConflictError(HeraldError):
    status = 409
    code = "conflict"


class PayloadTooLargeError(HeraldError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(HeraldError):
    status = 415
    code = "unsupported_media_type"


class RateLimitedError(HeraldError):
    """Over the tenant's request rate: retry after `retry_after` seconds."""

    status = 429
    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after: int, limit: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.limit = limit


class ValidationFailedError(HeraldError):
    """422 with Svix's (FastAPI-style) body: `{"detail": [{"loc", "msg", "type"}]}`."""

    status = 422
    code = "validation_error"

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(str(error.get("msg", "")) for error in errors))
        self.errors = errors

    def to_body(self) -> dict[str, Any]:
        return {"detail": self.errors}

    @classmethod
    def single(cls, loc: list[str | int], msg: str, kind: str = "value_error") -> ValidationFailedError:
        return cls([{"loc": loc, "msg": msg, "type": kind}])


class ServiceUnavailableError(HeraldError):
    """A dependency is down: callers should retry after `retry_after` seconds."""

    status = 503
    code = "service_unavailable"

    def __init__(self, detail: str, *, retry_after: int = 5) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class PreconditionFailedError(HeraldError):
    """An optimistic-concurrency write lost a race (ETag mismatch); the caller may retry."""

    status = 409
    code = "concurrent_modification"


class OutboundBusyError(ServiceUnavailableError):
    """A manual attempt could not go out now: the endpoint's throttle (`throttled`) or the
    tenant's outbound share allows no request yet. Nothing was sent or recorded; retry after
    `retry_after` seconds."""

    code = "outbound_busy"

    def __init__(self, detail: str, *, retry_after: int, throttled: bool) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.throttled = throttled
