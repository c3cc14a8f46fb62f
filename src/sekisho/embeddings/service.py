"""EmbeddingService: one embeddings request through the routing rules of the chat path.

The same planner (sovereignty, China gate, overrides, circuits), the same
pooled upstream client and outcome classes, the same request-log rows: an
embedding alias fails over exactly where a chat alias would (Rules 2-5). It
is a JSON request/response only, so the loop is the chat core's without the
streaming half.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sekisho.adapters.upstream_errors import error_detail
from sekisho.chat.core import RETRY_AFTER_S, RoutingState
from sekisho.chat.principal import Principal
from sekisho.chat.upstream import AttemptTimeouts, UpstreamClient, UpstreamFailure
from sekisho.embeddings import wire
from sekisho.embeddings.request import EmbeddingRequest, wrong_kind
from sekisho.errors import (
    InvalidRequest,
    RateLimited,
    SekishoError,
    UpstreamUnavailable,
    error_for_code,
)
from sekisho.matrix import Provider
from sekisho.requestlog.record import Attempt, RequestRecord
from sekisho.routing.outcome import Outcome, classify_failure, classify_status, final_error
from sekisho.routing.plan import Candidate, plan_routes

MAX_ERROR_BODY = 64 * 1024

__all__ = ["EmbeddingService"]


class EmbeddingService:
    def __init__(
        self,
        *,
        routing: Callable[[], RoutingState],
        upstream: UpstreamClient,
        submit_log: Callable[[RequestRecord], None],
        provider_key: Callable[[str], str],
        request_deadline_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._routing = routing
        self._upstream = upstream
        self._submit_log = submit_log
        self._provider_key = provider_key
        self._deadline_s = request_deadline_s
        self._clock = clock
        self._wall = wall_clock

    async def create(
        self, principal: Principal, req: EmbeddingRequest, request_id: str
    ) -> dict[str, Any]:
        """Serve one embeddings request; raises `SekishoError` for anything but success."""
        started = self._clock()
        record = RequestRecord(
            id=request_id,
            ts=datetime.now(UTC),
            source=principal.source,
            tenant_id=principal.tenant.id,
            key_id=principal.key.id if principal.key else None,
            alias=req.alias,
        )
        status: int = 500
        code: str | None = "internal_error"
        try:
            body = await self._execute(principal, req, record, started)
            status, code = 200, None
            return body
        except SekishoError as err:
            status, code = err.status, err.code
            raise
        finally:
            record.status = status
            record.error_code = code
            record.latency_ms = (self._clock() - started) * 1000
            self._submit_log(record)

    async def _execute(
        self, principal: Principal, req: EmbeddingRequest, record: RequestRecord, started: float
    ) -> dict[str, Any]:
        state = self._routing()
        now = self._wall()
        alias = state.matrix.aliases.get(req.alias)
        health = {r: state.circuits.view(r, now) for r in (alias.routes if alias else ())}
        plan = plan_routes(state.matrix, req.alias, principal.policy, health, state.overrides, now)
        access = plan.access
        if not access.usable:
            raise error_for_code(access.error_code or "permission_denied", access.customer_message)
        if alias is not None and alias.kind != "embedding":
            raise wrong_kind(req.alias, alias.kind)
        record.plan = plan.to_log()
        deadline = started + self._deadline_s
        outcomes: list[Outcome] = []
        for candidate in plan.candidates:
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            claim = state.circuits.allow_probe if candidate.probe else state.circuits.allow
            if not claim(candidate.route, self._wall()):
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
            body, outcome = await self._attempt(state, req, record, candidate, remaining)
            outcomes.append(outcome)
            if body is not None:
                return body
            if not outcome.failover:
                raise InvalidRequest(
                    f"The model behind alias '{req.alias}' rejected the request as invalid. "
                    "Check the input and parameters."
                )
        if final_error(outcomes) == "rate_limited":
            raise RateLimited(
                f"The model behind alias '{req.alias}' is rate limited upstream. Retry after "
                f"{RETRY_AFTER_S} seconds.",
                retry_after=RETRY_AFTER_S,
            )
        raise UpstreamUnavailable(
            f"The model behind alias '{req.alias}' is temporarily unavailable. Please retry later."
        )

    async def _attempt(
        self,
        state: RoutingState,
        req: EmbeddingRequest,
        record: RequestRecord,
        candidate: Candidate,
        remaining: float,
    ) -> tuple[dict[str, Any] | None, Outcome]:
        provider: Provider = candidate.provider
        t0 = self._clock()

        def note(outcome: Outcome, detail: str = "") -> Outcome:
            record.attempts.append(
                Attempt(
                    provider.id,
                    candidate.model,
                    outcome.kind,
                    outcome.status,
                    (self._clock() - t0) * 1000,
                    candidate.reason,
                    detail[:500],
                )
            )
            now = self._wall()
            if outcome.ok:
                state.circuits.record_success(candidate.route, now)
            elif outcome.counts_against_circuit:
                state.circuits.record_failure(candidate.route, now)
            else:
                state.circuits.release(candidate.route, now)
            return outcome

        if provider.kind != "openai":  # matrix validation prevents it; a reload race may not
            state.circuits.release(candidate.route, self._wall())
            record.attempts.append(
                Attempt(provider.id, candidate.model, "untranslatable", None, 0.0, candidate.reason)
            )
            return None, Outcome("server_error")
        upreq = wire.build_request(
            req, upstream_model=candidate.model, api_key=self._provider_key(provider.id)
        )
        timeouts = AttemptTimeouts(
            connect_s=min(provider.connect_timeout_s, remaining),
            first_byte_s=min(provider.timeout_s, remaining),
            read_s=provider.timeout_s,
        )
        try:
            response = await self._upstream.send(
                provider.base_url + upreq.path, upreq.headers, upreq.body, timeouts
            )
            try:
                data = await response.read()
            finally:
                response.close()
        except UpstreamFailure as failure:
            return None, note(classify_failure(failure.kind), failure.detail)
        outcome = classify_status(response.status)
        if not outcome.ok:
            return None, note(outcome, error_detail(response.status, data[:MAX_ERROR_BODY]))
        try:
            body, usage = wire.parse_response(data, req)
        except Exception as exc:  # an unreadable 2xx is upstream misbehaviour: fail over
            return None, note(Outcome("server_error", response.status), f"unparseable: {exc!r}")
        note(outcome)
        record.provider = provider.id
        record.upstream_model = candidate.model
        record.prompt_tokens = usage.prompt_tokens
        record.completion_tokens = 0
        return body, outcome
