"""The one exception tree of Sekisho, and the one renderer of its envelope.

    SekishoError (code, status, message, param)
    ├── InvalidRequest            400 invalid_request
    ├── ContextLengthExceeded     400 context_length_exceeded
    ├── ContentPolicyViolation    400 content_policy_violation
    ├── InvalidApiKey             401 invalid_api_key
    ├── TenantSuspended           403 tenant_suspended
    ├── PermissionDenied          403 permission_denied
    ├── ModelNotFound             404 model_not_found
    ├── NotFound                  404 not_found             (admin API resources, unknown paths)
    ├── MethodNotAllowed          405 method_not_allowed    (Allow)
    ├── RequestTimeout            408 request_timeout       (headers or body too slow)
    ├── RequestTooLarge           413 request_too_large
    ├── UnsupportedMediaType      415 unsupported_media_type
    ├── HeadersTooLarge           431 headers_too_large     (header bytes or count)
    ├── RateLimited               429 rate_limited          (Retry-After)
    ├── InsufficientQuota         429 insufficient_quota    (the month's token budget is spent)
    ├── InternalError             500 internal_error
    ├── UpstreamUnavailable       502 upstream_unavailable
    └── ServiceUnavailable        503 service_unavailable

Every customer-facing error goes through `error_body`; messages name the
alias, never a provider.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson

__all__ = [
    "ERROR_TABLE",
    "ContentPolicyViolation",
    "ContextLengthExceeded",
    "HeadersTooLarge",
    "InsufficientQuota",
    "InternalError",
    "InvalidApiKey",
    "InvalidRequest",
    "MethodNotAllowed",
    "ModelNotFound",
    "NotFound",
    "PermissionDenied",
    "RateLimited",
    "RequestTimeout",
    "RequestTooLarge",
    "SekishoError",
    "ServiceUnavailable",
    "TenantSuspended",
    "UnsupportedMediaType",
    "UpstreamUnavailable",
    "error_body",
    "error_for_code",
]


class SekishoError(Exception):
    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"

    def __init__(
        self, message: str, *, param: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.retry_after = retry_after
        # Headers the answer carries besides Retry-After (quota refusals: x-ratelimit-*).
        self.extra_headers: dict[str, str] = {}

    def headers(self) -> dict[str, str]:
        out = dict(self.extra_headers)
        if self.retry_after is not None:
            out["retry-after"] = str(self.retry_after)
        return out


class InvalidRequest(SekishoError):
    code, status, type = "invalid_request", 400, "invalid_request_error"


class ContextLengthExceeded(SekishoError):
    code, status, type = "context_length_exceeded", 400, "invalid_request_error"


class ContentPolicyViolation(SekishoError):
    code, status, type = "content_policy_violation", 400, "invalid_request_error"


class InvalidApiKey(SekishoError):
    code, status, type = "invalid_api_key", 401, "authentication_error"


class TenantSuspended(SekishoError):
    code, status, type = "tenant_suspended", 403, "permission_error"


class PermissionDenied(SekishoError):
    code, status, type = "permission_denied", 403, "permission_error"


class ModelNotFound(SekishoError):
    code, status, type = "model_not_found", 404, "invalid_request_error"


class NotFound(SekishoError):
    code, status, type = "not_found", 404, "invalid_request_error"


class MethodNotAllowed(SekishoError):
    code, status, type = "method_not_allowed", 405, "invalid_request_error"

    def __init__(self, message: str, *, allow: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.allow = allow

    def headers(self) -> dict[str, str]:
        return {"allow": ", ".join(self.allow)} if self.allow else {}


class RequestTimeout(SekishoError):
    code, status, type = "request_timeout", 408, "invalid_request_error"


class RequestTooLarge(SekishoError):
    code, status, type = "request_too_large", 413, "invalid_request_error"


class UnsupportedMediaType(SekishoError):
    code, status, type = "unsupported_media_type", 415, "invalid_request_error"


class HeadersTooLarge(SekishoError):
    code, status, type = "headers_too_large", 431, "invalid_request_error"


class RateLimited(SekishoError):
    code, status, type = "rate_limited", 429, "rate_limit_error"


class InsufficientQuota(SekishoError):
    code, status, type = "insufficient_quota", 429, "insufficient_quota"


class InternalError(SekishoError):
    code, status, type = "internal_error", 500, "server_error"


class UpstreamUnavailable(SekishoError):
    code, status, type = "upstream_unavailable", 502, "server_error"


class ServiceUnavailable(SekishoError):
    code, status, type = "service_unavailable", 503, "server_error"


ERROR_TABLE: dict[str, type[SekishoError]] = {
    cls.code: cls
    for cls in (
        InvalidRequest,
        ContextLengthExceeded,
        ContentPolicyViolation,
        InvalidApiKey,
        TenantSuspended,
        PermissionDenied,
        ModelNotFound,
        NotFound,
        MethodNotAllowed,
        RequestTimeout,
        RequestTooLarge,
        UnsupportedMediaType,
        HeadersTooLarge,
        RateLimited,
        InsufficientQuota,
        InternalError,
        UpstreamUnavailable,
        ServiceUnavailable,
    )
}


def error_for_code(code: str, message: str, **kwargs: Any) -> SekishoError:
    return ERROR_TABLE[code](message, **kwargs)


def error_body(err: SekishoError) -> bytes:
    """The OpenAI-style envelope for an error, as JSON bytes."""
    return orjson.dumps(
        {"error": {"message": err.message, "type": err.type, "code": err.code, "param": err.param}}
    )
