"""EmbeddingService: one embeddings request through the chat path's rules and loop.

The same admission as chat (an `InflightRequest` owns it, so a suspension or
shutdown cuts it; the tenant's quotas reserve its input tokens; the
guardrails' input stage checks and masks its texts), the same planner and
route loop (`chat.attempts`: sovereignty, China gate, overrides, circuits,
failover only where Rules 2-5 allow), the same pooled upstream client,
outcome classes and request-log rows. It is a JSON request/response only,
so an attempt is the chat core's without the streaming half.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sekisho.adapters.upstream_errors import read_error
from sekisho.chat.attempts import (
    RetryAfterBounds,
    RouteAttempt,
    outage_error,
    plan_request,
    request_error,
    skipped,
    try_routes,
)
from sekisho.chat.core import RoutingState
from sekisho.chat.inflight import InflightRequest, InflightRequests, owned
from sekisho.chat.principal import Principal
from sekisho.chat.upstream import AttemptTimeouts, UpstreamClient, UpstreamFailure
from sekisho.embeddings import wire
from sekisho.embeddings.request import EmbeddingRequest
from sekisho.guardrails.content import embedding_segments, with_texts
from sekisho.guardrails.guard import ChatGuard
from sekisho.quotas.service import QuotaService
from sekisho.requestlog.clean import bounded_text
from sekisho.requestlog.record import RequestRecord
from sekisho.routing.outcome import classify

MAX_ERROR_BODY = 64 * 1024
ALIAS_MAX = 200  # request_log.alias

__all__ = ["EmbeddingService"]


class EmbeddingService:
    def __init__(
        self,
        *,
        routing: Callable[[], RoutingState],
        upstream: UpstreamClient,
        submit_log: Callable[[RequestRecord], None],
        provider_key: Callable[[str], str],
        inflight: InflightRequests | None = None,
        quotas: QuotaService | None = None,
        guard: ChatGuard | None = None,
        request_deadline_s: float = 120.0,
        retry_after: RetryAfterBounds | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._routing = routing
        self._upstream = upstream
        self._submit_log = submit_log
        self._provider_key = provider_key
        self.inflight = inflight or InflightRequests()
        self.quotas = quotas
        self.guard = guard or ChatGuard.disabled()
        self._deadline_s = request_deadline_s
        self._retry_after = retry_after or RetryAfterBounds()
        self._clock = clock
        self._wall = wall_clock

    async def create(
        self, principal: Principal, req: EmbeddingRequest, request_id: str
    ) -> tuple[dict[str, Any], dict[str, str] | None]:
        """Serve one request: the body and the x-ratelimit-* headers; else `SekishoError`."""
        started = self._clock()
        record = RequestRecord(
            id=request_id,
            ts=datetime.now(UTC),
            source=principal.source,
            tenant_id=principal.tenant.id,
            key_id=principal.key.id if principal.key else None,
            user_id=principal.user_id,
            alias=bounded_text(req.alias, ALIAS_MAX),
        )
        owner = self.inflight.admit(record, self._submit_log, self._clock, started)
        answer = await owned(owner, lambda: self._execute(principal, req, owner))
        owner.close(200, None)
        return answer

    async def _execute(
        self, principal: Principal, req: EmbeddingRequest, owner: InflightRequest
    ) -> tuple[dict[str, Any], dict[str, str] | None]:
        record = owner.record
        state = self._routing()
        masked = await self.guard.check_texts(
            principal, req.alias, embedding_segments(req.input), record, "input"
        )
        if masked:
            changed = with_texts({"input": req.input}, masked)["input"]
            req = EmbeddingRequest(req.alias, changed, req.encoding, req.dimensions)
        plan = plan_request(
            state.matrix,
            state.circuits,
            state.overrides,
            req.alias,
            principal,
            "embedding",
            self._wall(),
        )
        headers = None
        if self.quotas is not None:  # input tokens only; settled when the row is written
            headers = await self.quotas.admit_tokens(
                principal.tenant.id, record.key_id, wire.estimate_tokens(req.input), record.id
            )
        record.plan = plan.to_log()

        async def try_one(attempt: RouteAttempt) -> dict[str, Any] | None:
            return await self._attempt(req, attempt, owner.started + self._deadline_s)

        body, outcomes = await try_routes(
            plan,
            state.circuits,
            record,
            deadline=owner.started + self._deadline_s,
            clock=self._clock,
            wall=self._wall,
            try_one=try_one,
            refused=lambda outcome: request_error(
                req.alias, outcome, subject="The input", check="the input and parameters"
            ),
        )
        if body is None:
            raise outage_error(req.alias, outcomes, self._retry_after)
        return body, headers

    async def _attempt(
        self, req: EmbeddingRequest, attempt: RouteAttempt, deadline: float
    ) -> dict[str, Any] | None:
        """Try one route; the body on success, else None with `attempt.outcome` set."""
        candidate = attempt.candidate
        provider = candidate.provider
        if provider.kind != "openai":  # matrix validation prevents it; a reload race may not
            skipped(attempt, "untranslatable", "", self._wall())
            return None
        upreq = wire.build_request(
            req, upstream_model=candidate.model, api_key=self._provider_key(provider.id)
        )
        remaining = deadline - self._clock()
        timeouts = AttemptTimeouts(
            connect_s=min(provider.connect_timeout_s, remaining),
            first_byte_s=min(provider.timeout_s, remaining),
            read_s=provider.timeout_s,
        )

        def settle(outcome: Any, detail: str) -> None:
            attempt.settle(outcome, detail, self._clock(), self._wall())

        try:
            response = await self._upstream.send(
                provider.base_url + upreq.path, upreq.headers, upreq.body, timeouts
            )
            try:
                data = await response.read()
            finally:
                response.close()
        except UpstreamFailure as failure:
            settle(classify(failure=failure.kind), failure.detail)
            return None
        if not 200 <= response.status < 300:
            said = read_error(response.status, data[:MAX_ERROR_BODY])
            settle(
                classify(
                    response.status,
                    error_kind=said.kind,
                    retry_after=response.retry_after,
                    now=self._wall(),
                ),
                said.detail,
            )
            return None
        try:
            body, usage = wire.parse_response(data, req)
        except Exception as exc:  # an unreadable 2xx is upstream misbehaviour: fail over
            settle(classify(response.status, failure="malformed"), f"unparseable: {exc!r}")
            return None
        settle(classify(response.status), "")
        attempt.served()
        record = attempt.record
        record.prompt_tokens = usage.prompt_tokens
        record.completion_tokens = 0
        return body
