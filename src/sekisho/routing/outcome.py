"""The one judge of upstream results: what an attempt's result means for failover and circuits.

`classify(...)` is the only function in Sekisho that decides what an upstream
HTTP status, transport failure or reported error means; the JSON path, the
stream path and the probes all call it (directly or through the thin
`classify_status` / `classify_failure` / `classify_stream_error` wrappers).
Adapters only *read* what the upstream said (`sekisho.adapters.upstream_errors`
turns a body or an in-stream error event into an error kind); they never judge.

    class               from                                  failover  circuit
    ok                  any 2xx (200, 201, 202, ...)          -         - (a success)
    rate_limited        429, rate-limit error kinds           yes       yes
    server_error        5xx, 529, 3xx, malformed 2xx bodies   yes       yes
    timeout             408, client-side timeouts             yes       yes
    connect_error       could not connect                     yes       yes
    reset               connection broken off                 yes       yes
    upstream_auth       401, 403 (our provider credentials)   yes       yes
    upstream_billing    402, billing error kinds (our account
                        at the provider, not the caller)      yes       yes
    upstream_not_found  404 (matrix/config problem)           yes       yes
    context_length      4xx whose error says the prompt does
                        not fit the model's context window    NO        NO
    request_error       400, 413, 422, other 4xx              NO        NO

What the upstream's error body says refines a 4xx: a 400 whose error kind is
a billing, credential or not-found error is the route's problem (fail over),
and a context-length error becomes our `400 context_length_exceeded`. Any
other 4xx is `request_error`: the upstream looked at the body and refused it,
so the same body elsewhere would most likely be refused too, at double the
cost (Rule 4). A 3xx is never expected from an API: upstream misbehaviour.

`final_error(outcomes)` picks the customer error once no eligible route is
left (Rule 5): `rate_limited` (429) only when *every* attempt made was
rate-limited upstream — then waiting is the right advice; any other mix, and
no attempt at all (every route excluded, drained or circuit-open), is
`upstream_unavailable` (502). `retry_after_s(outcomes, ...)` is the
`Retry-After` we pass on: the longest one upstream asked for, clamped to
configured bounds, or the configured default when upstream named none.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Literal

__all__ = [
    "CONNECT_ERROR",
    "FINAL_ERROR_STATUS",
    "RESET",
    "TIMEOUT",
    "FinalError",
    "Outcome",
    "OutcomeClass",
    "classify",
    "classify_failure",
    "classify_status",
    "classify_stream_error",
    "final_error",
    "parse_retry_after",
    "retry_after_s",
]

OutcomeClass = Literal[
    "ok",
    "rate_limited",
    "server_error",
    "timeout",
    "connect_error",
    "reset",
    "upstream_auth",
    "upstream_billing",
    "upstream_not_found",
    "context_length",
    "request_error",
]
FinalError = Literal["upstream_unavailable", "rate_limited"]
FINAL_ERROR_STATUS: dict[FinalError, int] = {"upstream_unavailable": 502, "rate_limited": 429}
_CALLERS_FAULT: frozenset[str] = frozenset({"ok", "request_error", "context_length"})


@dataclass(frozen=True, slots=True)
class Outcome:
    """The class of one attempt's result, with the upstream HTTP status when there was one."""

    kind: OutcomeClass
    status: int | None = None
    retry_after_s: float | None = None  # what upstream asked for (429/503), unbounded

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    @property
    def failover(self) -> bool:
        """Try the next route? Only for upstream failure (Rule 4)."""
        return self.kind not in _CALLERS_FAULT

    @property
    def counts_against_circuit(self) -> bool:
        """A request-caused error says nothing about the provider's health."""
        return self.kind not in _CALLERS_FAULT


TIMEOUT = Outcome("timeout")
CONNECT_ERROR = Outcome("connect_error")
RESET = Outcome("reset")

_BY_STATUS: dict[int, OutcomeClass] = {
    401: "upstream_auth",
    402: "upstream_billing",
    403: "upstream_auth",
    404: "upstream_not_found",
    408: "timeout",
    429: "rate_limited",
}

# Error kinds as `sekisho.adapters.upstream_errors` reads them from bodies and stream events.
_BY_ERROR_KIND: dict[str, OutcomeClass] = {
    "rate_limited": "rate_limited",
    "overloaded": "server_error",
    "server_error": "server_error",
    "api_error": "server_error",
    "truncated": "server_error",
    "timeout": "timeout",
    "invalid_request": "request_error",
    "context_length_exceeded": "context_length",
    "authentication_error": "upstream_auth",
    "permission_error": "upstream_auth",
    "billing": "upstream_billing",
    "not_found": "upstream_not_found",
}
# Kinds that override a 4xx status: the route is broken, or the prompt is too long.
_OVERRIDES_4XX: frozenset[OutcomeClass] = frozenset(
    {"upstream_auth", "upstream_billing", "upstream_not_found", "context_length", "rate_limited"}
)
_FAILURES: dict[str, Outcome] = {"timeout": TIMEOUT, "connect_error": CONNECT_ERROR, "reset": RESET}


def classify(
    status: int | None = None,
    *,
    failure: str | None = None,
    error_kind: str | None = None,
    retry_after: str | None = None,
    now: float | None = None,
) -> Outcome:
    """Judge one upstream result; the table in the module docstring.

    `failure`: a transport failure kind (`UpstreamFailure.kind`: timeout, connect_error,
    reset; `malformed` for a 2xx body that is not what the wire format promised).
    `error_kind`: what the upstream's error body or in-stream error event says it is.
    `retry_after`: the raw `Retry-After` header value, if any; `now` (unix seconds)
    reads one given as an HTTP date.
    """
    if failure is not None:
        if failure == "malformed":
            return Outcome("server_error", status)
        return _FAILURES.get(failure, RESET)
    if error_kind and error_kind.startswith("http_") and status is None:
        # an in-stream error that carries only an HTTP status (vLLM's `code`)
        status = int(error_kind[5:]) if error_kind[5:].isdigit() else None
        error_kind = None
    wait = parse_retry_after(retry_after, now)
    by_kind = _BY_ERROR_KIND.get(error_kind or "")
    if status is None:  # an error reported inside a 200 stream, without a status of its own
        return Outcome(by_kind or "server_error", None, wait)
    if 200 <= status < 300:
        return Outcome("ok", status) if by_kind is None else Outcome(by_kind, status, wait)
    kind: OutcomeClass
    if status in _BY_STATUS:
        kind = _BY_STATUS[status]
        if status != 429 and by_kind in _OVERRIDES_4XX:
            kind = by_kind
    elif 400 <= status < 500:
        kind = by_kind if by_kind in _OVERRIDES_4XX else "request_error"
    else:
        kind = "server_error"  # 5xx, 529 (overloaded), 3xx, nonsense
    return Outcome(kind, status, wait)


def classify_status(status: int, retry_after: str | None = None) -> Outcome:
    """An upstream HTTP status alone (see `classify`)."""
    return classify(status, retry_after=retry_after)


def classify_failure(kind: str) -> Outcome:
    """A transport failure (`UpstreamFailure.kind`); unknown kinds count as a reset."""
    return classify(failure=kind)


def classify_stream_error(kind: str, status: int | None = None) -> Outcome:
    """An error reported inside an upstream stream (`StreamError.kind`, maybe a status)."""
    return classify(status, error_kind=kind)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a `Retry-After` value (delta-seconds, or an HTTP date given `now`)."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None or now is None:
            return None
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def final_error(outcomes: Iterable[Outcome]) -> FinalError:
    """The customer error once no eligible route is left; see the module docstring."""
    failed = [o for o in outcomes if not o.ok]
    if failed and all(o.kind == "rate_limited" for o in failed):
        return "rate_limited"
    return "upstream_unavailable"


def retry_after_s(
    outcomes: Iterable[Outcome], *, default_s: float, min_s: float, max_s: float
) -> int:
    """The `Retry-After` (whole seconds) to send: upstream's longest ask, clamped; else default."""
    asked = [o.retry_after_s for o in outcomes if o.retry_after_s is not None]
    chosen = max(asked) if asked else default_s
    return math.ceil(min(max(chosen, min_s), max_s))
