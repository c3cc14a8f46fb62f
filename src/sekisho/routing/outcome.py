"""What one upstream attempt's result means for failover and for the circuit.

    class               from                         failover  counts against circuit
    ok                  2xx                          -         - (a success)
    rate_limited        429                          yes       yes
    server_error        5xx, 529, 3xx, nonsense      yes       yes
    timeout             408, client-side timeouts    yes       yes
    connect_error       could not connect            yes       yes
    reset               connection broken off        yes       yes
    upstream_auth       401, 403                     yes       yes  (our provider credentials,
                                                                     not the customer's fault)
    upstream_not_found  404                          yes       yes  (matrix/config problem)
    request_error       400, 413, 422, other 4xx     NO        NO   (caused by the request)

Any other 4xx is treated as `request_error`: the upstream looked at the body
and refused it, so the same body elsewhere would most likely be refused too,
at double the cost (Rule 4). A 3xx is never expected from an API and is
treated as upstream misbehaviour.

`final_error(outcomes)` picks the customer error once no eligible route is
left (Rule 5): `rate_limited` (429) only when *every* attempt made was
rate-limited upstream — then waiting is the right advice; any other mix, and
no attempt at all (every route excluded, drained or circuit-open), is
`upstream_unavailable` (502).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "CONNECT_ERROR",
    "FINAL_ERROR_STATUS",
    "RESET",
    "TIMEOUT",
    "FinalError",
    "Outcome",
    "OutcomeClass",
    "classify_failure",
    "classify_status",
    "classify_stream_error",
    "final_error",
]

OutcomeClass = Literal[
    "ok",
    "rate_limited",
    "server_error",
    "timeout",
    "connect_error",
    "reset",
    "upstream_auth",
    "upstream_not_found",
    "request_error",
]
FinalError = Literal["upstream_unavailable", "rate_limited"]
FINAL_ERROR_STATUS: dict[FinalError, int] = {"upstream_unavailable": 502, "rate_limited": 429}


@dataclass(frozen=True, slots=True)
class Outcome:
    """The class of one attempt's result, with the upstream HTTP status when there was one."""

    kind: OutcomeClass
    status: int | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    @property
    def failover(self) -> bool:
        """Try the next route? Only for upstream failure (Rule 4)."""
        return self.kind not in ("ok", "request_error")

    @property
    def counts_against_circuit(self) -> bool:
        """A request-caused error says nothing about the provider's health."""
        return self.kind not in ("ok", "request_error")


TIMEOUT = Outcome("timeout")
CONNECT_ERROR = Outcome("connect_error")
RESET = Outcome("reset")

_BY_STATUS: dict[int, OutcomeClass] = {
    401: "upstream_auth",
    403: "upstream_auth",
    404: "upstream_not_found",
    408: "timeout",
    429: "rate_limited",
    529: "server_error",
}


def classify_status(status: int) -> Outcome:
    """Classify an upstream HTTP status code."""
    if 200 <= status < 300:
        return Outcome("ok", status)
    if status in _BY_STATUS:
        return Outcome(_BY_STATUS[status], status)
    if 400 <= status < 500:
        return Outcome("request_error", status)
    return Outcome("server_error", status)


_FAILURES: dict[str, Outcome] = {"timeout": TIMEOUT, "connect_error": CONNECT_ERROR, "reset": RESET}


def classify_failure(kind: str) -> Outcome:
    """Classify a transport failure (`UpstreamFailure.kind`); unknown kinds count as a reset."""
    return _FAILURES.get(kind, RESET)


_STREAM_ERRORS: dict[str, OutcomeClass] = {
    "rate_limited": "rate_limited",
    "overloaded": "server_error",
    "server_error": "server_error",
    "api_error": "server_error",
    "timeout": "timeout",
    "invalid_request": "request_error",
    "authentication_error": "upstream_auth",
    "permission_error": "upstream_auth",
    "not_found": "upstream_not_found",
}


def classify_stream_error(kind: str) -> Outcome:
    """Classify an error reported inside an upstream stream (`StreamError.kind`)."""
    return Outcome(_STREAM_ERRORS.get(kind, "server_error"))


def final_error(outcomes: Iterable[Outcome]) -> FinalError:
    """The customer error once no eligible route is left; see the module docstring."""
    failed = [o for o in outcomes if not o.ok]
    if failed and all(o.kind == "rate_limited" for o in failed):
        return "rate_limited"
    return "upstream_unavailable"
