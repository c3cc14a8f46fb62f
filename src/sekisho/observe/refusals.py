"""Requests refused before they reach the chat core still count (issue 17 item 3).

A suspended tenant's key is refused at authentication, before a request-log
row would normally exist; without one, "watch its traffic stop" shows
silence. `RefusalLog` turns such a refusal into a request-log record (status
and error code, the tenant and key it came from), so the rollup (`report`,
the series) and `/metrics` count it like any other request. Refusals inside
the chat core (quotas, guardrails, aliases) are recorded by the core itself;
anything that refuses a known tenant can call this too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sekisho.errors import SekishoError
from sekisho.requestlog.record import RequestRecord

__all__ = ["REFUSAL_CODES", "RefusalLog", "refusals_of"]

# Error codes with which the gateway itself turns a request away (no upstream is called).
REFUSAL_CODES = frozenset(
    {
        "tenant_suspended",
        "permission_denied",
        "invalid_api_key",
        "insufficient_quota",
        "content_policy_violation",
        "quota_exceeded",
        "guardrail_blocked",
    }
)


def refusals_of(codes: dict[str, int]) -> dict[str, int]:
    """The refusal counts among a series' error codes."""
    return {code: n for code, n in sorted(codes.items()) if code in REFUSAL_CODES}


class RefusalLog:
    """Submit one request-log record per refused request of a known tenant."""

    def __init__(
        self,
        submit: Callable[[RequestRecord], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._submit = submit
        self._clock = clock

    def refused(
        self,
        request_id: str,
        tenant_id: str,
        key_id: str | None,
        err: SekishoError,
        *,
        source: str = "api",
        alias: str | None = None,
    ) -> None:
        self._submit(
            RequestRecord(
                id=request_id,
                ts=self._clock(),
                source=source,
                tenant_id=tenant_id,
                key_id=key_id,
                alias=alias,
                status=err.status,
                error_code=err.code,
            )
        )
