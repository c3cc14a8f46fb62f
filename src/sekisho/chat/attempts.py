"""Trying a plan's routes in order: one loop for every kind of request (chat, embeddings).

`plan_request` asks the planner for the routes one request may use (Rules 2-3)
and refuses an alias the principal may not use, or one of the wrong kind.
`try_routes` walks the candidates: it claims each route's circuit (a route
whose circuit is open is logged as `circuit_open` and skipped), gives the
claim back when the request is cut before its attempt was judged, and stops
at the first success or at an outcome that must not fail over (Rule 4). The
caller's `try_one` does the wire work of one attempt and settles it
(`RouteAttempt.settle`) with the outcome `routing.outcome.classify` gives.

    plan_request ──► try_routes ──► try_one(attempt) ─┬─► result        (served)
                         ▲                            ├─► None, failover ─┐
                         └────────── next candidate ◄─┘                   │
                                                      └─► None, final ──► request_error
    (no candidate left) ──► outage_error (rate limited / unavailable)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from sekisho.chat.principal import Principal
from sekisho.embeddings.request import wrong_kind
from sekisho.errors import (
    ContextLengthExceeded,
    InvalidRequest,
    RateLimited,
    SekishoError,
    UpstreamUnavailable,
    error_for_code,
)
from sekisho.matrix import Matrix
from sekisho.requestlog.record import Attempt, RequestRecord
from sekisho.routing.circuit import CircuitBook
from sekisho.routing.outcome import Outcome, final_error, retry_after_s
from sekisho.routing.overrides import Override
from sekisho.routing.plan import Candidate, RoutePlan, plan_routes

__all__ = [
    "RetryAfterBounds",
    "RouteAttempt",
    "outage_error",
    "plan_request",
    "request_error",
    "skipped",
    "try_routes",
]

DETAIL_MAX = 500
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryAfterBounds:
    """The `Retry-After` passed on when every route was rate limited (settings `chat.*`)."""

    default_s: float = 5.0
    min_s: float = 1.0
    max_s: float = 60.0


@dataclass(slots=True, eq=False)
class RouteAttempt:
    """One try of one route: what it was, how long it took, and what its result means."""

    candidate: Candidate
    record: RequestRecord
    circuits: CircuitBook
    started: float
    outcome: Outcome | None = None
    entry: Attempt | None = None  # its piece of the request-log row, once settled

    def settle(self, outcome: Outcome, detail: str, now: float, wall: float) -> Outcome:
        """Record the outcome in the row and in the route's circuit; once per attempt."""
        candidate = self.candidate
        self.outcome = outcome
        self.entry = Attempt(
            candidate.provider.id,
            candidate.model,
            outcome.kind,
            outcome.status,
            (now - self.started) * 1000,
            candidate.reason,
            detail[:DETAIL_MAX],
        )
        self.record.attempts.append(self.entry)
        if outcome.ok:
            self.circuits.record_success(candidate.route, wall)
        elif outcome.counts_against_circuit:
            self.circuits.record_failure(candidate.route, wall)
        else:
            self.circuits.release(candidate.route, wall)
        return outcome

    def served(self) -> None:
        """This attempt's route answered the request: say which in the row (internal)."""
        self.record.provider = self.candidate.provider.id
        self.record.upstream_model = self.candidate.model


def skipped(attempt: RouteAttempt, kind: str, detail: str, wall: float) -> None:
    """The route could not carry the request at all (e.g. its wire format): no upstream call."""
    candidate = attempt.candidate
    attempt.circuits.release(candidate.route, wall)
    attempt.record.attempts.append(
        Attempt(candidate.provider.id, candidate.model, kind, None, 0.0, candidate.reason, detail)
    )


def plan_request(
    matrix: Matrix,
    circuits: CircuitBook,
    overrides: list[Override],
    alias_name: str,
    principal: Principal,
    kind: str,
    now: float,
) -> RoutePlan:
    """The routes this principal may use for `alias_name`; raises when it may use none."""
    alias = matrix.aliases.get(alias_name)
    # Only this alias's routes: a snapshot of every circuit is needless work per request.
    health = {r: circuits.view(r, now) for r in (alias.routes if alias else ())}
    plan = plan_routes(matrix, alias_name, principal.policy, health, overrides, now)
    access = plan.access  # the planner decides availability once, for both uses
    if not access.usable:
        raise error_for_code(access.error_code or "permission_denied", access.customer_message)
    if alias is not None and alias.kind != kind:
        raise wrong_kind(alias_name, alias.kind)
    return plan


async def try_routes(
    plan: RoutePlan,
    circuits: CircuitBook,
    record: RequestRecord,
    *,
    deadline: float,
    clock: Callable[[], float],
    wall: Callable[[], float],
    try_one: Callable[[RouteAttempt], Awaitable[T | None]],
    refused: Callable[[Outcome], SekishoError],
) -> tuple[T | None, list[Outcome]]:
    """The first candidate's result that succeeds, or None with the failover outcomes.

    Raises `refused(outcome)` for an outcome that must not fail over.
    """
    outcomes: list[Outcome] = []
    for candidate in plan.candidates:
        if deadline - clock() <= 0:
            break
        claim = circuits.allow_probe if candidate.probe else circuits.allow
        if not claim(candidate.route, wall()):
            record.attempts.append(
                Attempt(
                    candidate.provider.id,
                    candidate.model,
                    "circuit_open",
                    None,
                    0.0,
                    candidate.reason,
                )
            )
            continue
        attempt = RouteAttempt(candidate, record, circuits, clock())
        try:
            result = await try_one(attempt)
        except asyncio.CancelledError:
            if attempt.outcome is None:  # cut (suspension, shutdown) before it was judged:
                circuits.release(candidate.route, wall())  # give the claim back
            raise
        if result is not None:
            return result, outcomes
        if attempt.outcome is None:
            continue  # this route cannot carry the request: skipped
        outcomes.append(attempt.outcome)
        if not attempt.outcome.failover:
            raise refused(attempt.outcome)
    return None, outcomes


def request_error(alias: str, outcome: Outcome, *, subject: str, check: str) -> SekishoError:
    """The upstream refused the request itself (no failover).

    `subject` names what did not fit ("The conversation"), `check` what to look at.
    """
    if outcome.kind == "context_length":
        return ContextLengthExceeded(
            f"{subject} does not fit the context window of alias '{alias}'. Shorten {check}.",
            param="messages" if subject == "The conversation" else "input",
        )
    return InvalidRequest(
        f"The model behind alias '{alias}' rejected the request as invalid "
        f"(HTTP {outcome.status}). Check {check}."
    )


def outage_error(alias: str, outcomes: list[Outcome], bounds: RetryAfterBounds) -> SekishoError:
    """No route served the request: rate limited (with Retry-After) or unavailable."""
    if final_error(outcomes) == "rate_limited":
        wait = retry_after_s(
            outcomes, default_s=bounds.default_s, min_s=bounds.min_s, max_s=bounds.max_s
        )
        return RateLimited(
            f"The model behind alias '{alias}' is rate limited upstream. Retry after "
            f"{wait} seconds.",
            retry_after=wait,
        )
    return UpstreamUnavailable(
        f"The model behind alias '{alias}' is temporarily unavailable. Please retry later."
    )
