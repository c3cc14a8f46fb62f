"""The counters one request touches, and what a refusal tells the caller (pure).

Windows are fixed and aligned: a minute window is `floor(now / 60)`, a month is the
calendar month in UTC. A request is admitted only if *every* counter stays within its
limit after adding its cost; the counters then move together (all or nothing), so a
refused request costs nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from sekisho.quotas.limits import QuotaLimits

MINUTE_S = 60


@dataclass(frozen=True, slots=True)
class WindowCheck:
    """A counter that must stay at or below `limit` after adding `cost`."""

    name: str  # rpm | tpm | key_rpm | key_tpm | monthly_tokens
    key: str
    limit: int
    cost: int
    ttl_s: int  # how long the counter lives after its first use
    reset_s: float  # seconds until the window rolls over


@dataclass(frozen=True, slots=True)
class LeaseCheck:
    """A set of live leases (open streams) that must stay at or below `limit`."""

    name: str  # concurrent_streams | key_concurrent_streams
    key: str
    limit: int
    member: str
    expires_at_ms: int


@dataclass(frozen=True, slots=True)
class QuotaPlan:
    windows: tuple[WindowCheck, ...]
    leases: tuple[LeaseCheck, ...]

    @property
    def empty(self) -> bool:
        return not self.windows and not self.leases


def month_of(now: float) -> tuple[str, float]:
    """The UTC month label of `now` and the seconds until the next month starts."""
    dt = datetime.fromtimestamp(now, UTC)
    nxt = datetime(dt.year + (dt.month == 12), dt.month % 12 + 1, 1, tzinfo=UTC)
    return f"{dt.year:04d}{dt.month:02d}", nxt.timestamp() - now


def plan_quota(
    limits: QuotaLimits,
    *,
    prefix: str,
    tenant_id: str,
    key_id: str | None,
    request_id: str,
    tokens: int,
    stream: bool,
    now: float,
    lease_s: float,
) -> QuotaPlan:
    """Every counter this request must fit in under `limits`, as of wall-clock `now`."""
    minute = int(now // MINUTE_S)
    reset = MINUTE_S - (now % MINUTE_S)
    ttl = MINUTE_S * 2
    t = f"{prefix}{{{tenant_id}}}"
    windows: list[WindowCheck] = []
    if limits.rpm is not None:
        windows.append(WindowCheck("rpm", f"{t}:rpm:{minute}", limits.rpm, 1, ttl, reset))
    if limits.tpm is not None:
        windows.append(WindowCheck("tpm", f"{t}:tpm:{minute}", limits.tpm, tokens, ttl, reset))
    if key_id is not None:
        if limits.key_rpm is not None:
            windows.append(
                WindowCheck("key_rpm", f"{t}:{key_id}:rpm:{minute}", limits.key_rpm, 1, ttl, reset)
            )
        if limits.key_tpm is not None:
            windows.append(
                WindowCheck(
                    "key_tpm", f"{t}:{key_id}:tpm:{minute}", limits.key_tpm, tokens, ttl, reset
                )
            )
    if limits.monthly_tokens is not None:
        label, month_reset = month_of(now)
        windows.append(
            WindowCheck(
                "monthly_tokens",
                f"{t}:month:{label}",
                limits.monthly_tokens,
                tokens,
                int(month_reset) + 40 * 86400,  # outlives the month: usage is read after it
                month_reset,
            )
        )
    leases: list[LeaseCheck] = []
    if stream:
        expires = int((now + lease_s) * 1000)
        if limits.concurrent_streams is not None:
            leases.append(
                LeaseCheck(
                    "concurrent_streams",
                    f"{t}:streams",
                    limits.concurrent_streams,
                    request_id,
                    expires,
                )
            )
        if key_id is not None and limits.key_concurrent_streams is not None:
            leases.append(
                LeaseCheck(
                    "key_concurrent_streams",
                    f"{t}:{key_id}:streams",
                    limits.key_concurrent_streams,
                    request_id,
                    expires,
                )
            )
    return QuotaPlan(tuple(windows), tuple(leases))


_WHAT = {
    "rpm": "requests per minute",
    "tpm": "tokens per minute",
    "key_rpm": "requests per minute for this API key",
    "key_tpm": "tokens per minute for this API key",
    "concurrent_streams": "concurrent streams",
    "key_concurrent_streams": "concurrent streams for this API key",
    "monthly_tokens": "tokens this month",
}


def refusal_message(name: str, limit: int, cost: int, reset_s: float) -> str:
    """What the caller reads when `name` refused the request (never another tenant's figures)."""
    what = _WHAT[name]
    if name == "monthly_tokens":
        return (
            f"The tenant's token budget for this month ({limit} tokens) does not cover this "
            f"request (about {cost} tokens reserved). It renews in {math.ceil(reset_s / 86400)} "
            "day(s); ask your administrator to raise it."
        )
    if name in ("tpm", "key_tpm") and cost > limit:
        return (
            f"This request alone (about {cost} tokens reserved) exceeds the limit of {limit} "
            f"{what}. Send a shorter conversation or a smaller max_tokens."
        )
    if name.endswith("concurrent_streams"):
        return f"Too many open streams: the limit is {limit} {what}. Retry when one has ended."
    return f"Rate limit reached: {limit} {what}. Retry after {math.ceil(reset_s)} seconds."


def retry_after_s(name: str, limit: int, cost: int, reset_s: float) -> int | None:
    """Seconds the caller should wait, or None when waiting cannot help."""
    if name in ("tpm", "key_tpm") and cost > limit:
        return None
    if name.endswith("concurrent_streams"):
        return 1
    return max(1, math.ceil(reset_s))
