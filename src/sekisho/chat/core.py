"""The chat core: plan the routes for a request, try them, translate, log.

Callable in-process by every entry point (the /v1 API and the BFF chat app):
`ChatService.complete(principal, request, request_id)` returns a
`ChatResult` holding either a JSON body or an async iterator of SSE frames.

Failover happens only on upstream failure (Rule 4), only over the routes the
planner left eligible (Rules 2-3), and for streams only before the first byte
reached the client; afterwards a failure ends the stream with an error event
and no `[DONE]`. The request log row is handed to the batch writer when the
response is complete, never awaited (Rule 11).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from sekisho.adapters import adapter_for
from sekisho.adapters.base import Adapter, ResponseContext, StreamOutput, StreamTranslator, Usage
from sekisho.chat.inflight import InflightStreams, StreamHandle
from sekisho.chat.principal import Principal
from sekisho.chat.request import ChatRequest
from sekisho.chat.upstream import AttemptTimeouts, UpstreamClient, UpstreamFailure, UpstreamResponse
from sekisho.errors import (
    InvalidRequest,
    RateLimited,
    SekishoError,
    UpstreamUnavailable,
    error_for_code,
)
from sekisho.ids import completion_id
from sekisho.matrix import Matrix, Provider
from sekisho.quotas.service import QuotaService
from sekisho.requestlog.record import Attempt, RequestRecord
from sekisho.routing.circuit import CircuitBook
from sekisho.routing.outcome import (
    Outcome,
    classify_failure,
    classify_status,
    classify_stream_error,
    final_error,
)
from sekisho.routing.overrides import Override
from sekisho.routing.plan import Candidate, plan_routes

RETRY_AFTER_S = 5
MAX_ERROR_BODY = 64 * 1024


@dataclass(slots=True)
class ChatResult:
    status: int
    body: dict[str, Any] | None = None
    stream: AsyncIterator[bytes] | None = None
    record: RequestRecord | None = None
    headers: dict[str, str] | None = None  # besides our own: x-ratelimit-* of the tenant


@dataclass(slots=True)
class RoutingState:
    """What the planner reads: the live matrix, circuits and overrides. Swapped, never edited."""

    matrix: Matrix
    circuits: CircuitBook = field(default_factory=CircuitBook)
    overrides: list[Override] = field(default_factory=list)


def error_frame(err: SekishoError) -> bytes:
    """An OpenAI-shaped in-stream error event."""
    return (
        b"data: "
        + orjson.dumps(
            {"error": {"message": err.message, "type": err.type, "code": err.code, "param": None}}
        )
        + b"\n\n"
    )


def _outage_error(alias: str, outcomes: list[Outcome]) -> SekishoError:
    if final_error(outcomes) == "rate_limited":
        return RateLimited(
            f"The model behind alias '{alias}' is rate limited upstream. Retry after "
            f"{RETRY_AFTER_S} seconds.",
            retry_after=RETRY_AFTER_S,
        )
    return UpstreamUnavailable(
        f"The model behind alias '{alias}' is temporarily unavailable. Please retry later."
    )


def _request_error(alias: str, status: int | None) -> SekishoError:
    return InvalidRequest(
        f"The model behind alias '{alias}' rejected the request as invalid "
        f"(HTTP {status}). Check the messages, tools and parameters."
    )


class ChatService:
    def __init__(
        self,
        *,
        routing: Callable[[], RoutingState],
        upstream: UpstreamClient,
        submit_log: Callable[[RequestRecord], None],
        provider_key: Callable[[str], str],
        inflight: InflightStreams | None = None,
        request_deadline_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._routing = routing
        self._upstream = upstream
        self._submit_log = submit_log
        self._provider_key = provider_key
        self.inflight = inflight or InflightStreams()
        self._deadline_s = request_deadline_s
        self._clock = clock
        self._wall = wall_clock
        # Tenant/key quotas (sekisho.quotas.QuotaService), set by the gateway when configured.
        self.quotas: QuotaService | None = None

    def usable_aliases(self, principal: Principal) -> list[str]:
        from sekisho.routing.availability import usable_aliases

        return usable_aliases(self._routing().matrix, principal.policy)

    async def complete(self, principal: Principal, req: ChatRequest, request_id: str) -> ChatResult:
        """Serve one chat request; raises `SekishoError` for anything but success or a stream."""
        started = self._clock()
        record = RequestRecord(
            id=request_id,
            ts=datetime.now(UTC),
            source=principal.source,
            tenant_id=principal.tenant.id,
            key_id=principal.key.id if principal.key else None,
            alias=req.alias,
            stream=req.stream,
        )
        try:
            result = await self._execute(principal, req, record, started)
            if self.quotas is not None:
                result.headers = self.quotas.headers_of(request_id)
        except SekishoError as err:
            self._finish(record, started, err.status, err.code)
            raise
        except BaseException:
            self._finish(record, started, 500, "internal_error")
            raise
        if result.stream is None:
            self._finish(record, started, result.status, None)
        return result

    def _finish(self, record: RequestRecord, started: float, status: int, code: str | None) -> None:
        record.status = status
        record.error_code = code
        record.latency_ms = (self._clock() - started) * 1000
        self._submit_log(record)

    async def _execute(
        self, principal: Principal, req: ChatRequest, record: RequestRecord, started: float
    ) -> ChatResult:
        state = self._routing()
        now = self._wall()
        alias = state.matrix.aliases.get(req.alias)
        # Only this alias's routes: a snapshot of every circuit is needless work per request.
        health = {r: state.circuits.view(r, now) for r in (alias.routes if alias else ())}
        plan = plan_routes(state.matrix, req.alias, principal.policy, health, state.overrides, now)
        access = plan.access  # the planner decides availability once, for both uses
        if not access.usable:
            raise error_for_code(access.error_code or "permission_denied", access.customer_message)
        if self.quotas is not None:  # reserved here; settled when the request-log row is written
            await self.quotas.admit_request(principal.tenant.id, record.key_id, req.body, record.id)
        record.plan = plan.to_log()
        ctx = ResponseContext(
            completion_id=completion_id(),
            alias=req.alias,
            created=int(self._wall()),
            include_usage=req.include_usage,
        )
        deadline = started + self._deadline_s
        outcomes: list[Outcome] = []
        for candidate in plan.candidates:
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            provider = candidate.provider
            claim = state.circuits.allow_probe if candidate.probe else state.circuits.allow
            if not claim(candidate.route, self._wall()):
                record.attempts.append(
                    Attempt(
                        provider.id, candidate.model, "circuit_open", None, 0.0, candidate.reason
                    )
                )
                continue
            result, outcome = await self._attempt(
                state,
                principal,
                req,
                record,
                ctx,
                provider,
                candidate,
                remaining,
                started,
            )
            outcomes.append(outcome)
            if result is not None:
                return result
            if not outcome.failover:
                raise _request_error(req.alias, outcome.status)
        raise _outage_error(req.alias, outcomes)

    async def _attempt(
        self,
        state: RoutingState,
        principal: Principal,
        req: ChatRequest,
        record: RequestRecord,
        ctx: ResponseContext,
        provider: Provider,
        candidate: Candidate,
        remaining: float,
        started: float,
    ) -> tuple[ChatResult | None, Outcome]:
        adapter = adapter_for(provider.kind)
        try:
            upreq = adapter.build_request(
                req.body,
                upstream_model=candidate.model,
                api_key=self._provider_key(provider.id),
                stream=req.stream,
            )
        except InvalidRequest as err:
            if not record.attempts:
                raise  # the first route cannot carry it: the request itself is the problem
            # A fallback whose wire format cannot carry this request is skipped, not fatal.
            record.attempts.append(
                Attempt(
                    provider.id,
                    candidate.model,
                    "untranslatable",
                    None,
                    0.0,
                    candidate.reason,
                    err.message,
                )
            )
            return None, Outcome("server_error")
        timeouts = AttemptTimeouts(
            connect_s=min(provider.connect_timeout_s, remaining),
            first_byte_s=min(provider.timeout_s, remaining),
            read_s=provider.timeout_s,
        )
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

        try:
            response = await self._upstream.send(
                provider.base_url + upreq.path, upreq.headers, upreq.body, timeouts
            )
        except UpstreamFailure as failure:
            return None, note(classify_failure(failure.kind), failure.detail)
        if response.status != 200:
            try:
                data = await response.read()
            except UpstreamFailure:
                data = b""
            finally:
                response.close()
            outcome = classify_status(response.status)
            return None, note(outcome, adapter.error_detail(response.status, data[:MAX_ERROR_BODY]))
        if not req.stream:
            return await self._read_json(adapter, response, record, ctx, provider, candidate, note)
        return await self._open_stream(
            adapter, response, principal, record, ctx, provider, candidate, note, started
        )

    async def _read_json(
        self,
        adapter: Adapter,
        response: UpstreamResponse,
        record: RequestRecord,
        ctx: ResponseContext,
        provider: Provider,
        candidate: Candidate,
        note: Callable[[Outcome, str], Outcome],
    ) -> tuple[ChatResult | None, Outcome]:
        try:
            data = await response.read()
        except UpstreamFailure as failure:
            return None, note(classify_failure(failure.kind), failure.detail)
        finally:
            response.close()
        try:
            body, usage = adapter.parse_response(data, ctx)
        except Exception as exc:  # an unparseable 200 is upstream misbehaviour: fail over
            return None, note(Outcome("server_error", 200), f"unparseable response: {exc!r}")
        outcome = note(classify_status(200), "")
        self._served(record, provider, candidate, usage)
        return ChatResult(status=200, body=body, record=record), outcome

    def _served(
        self, record: RequestRecord, provider: Provider, candidate: Candidate, usage: Usage
    ) -> None:
        record.provider = provider.id
        record.upstream_model = candidate.model
        record.prompt_tokens = usage.prompt_tokens
        record.completion_tokens = usage.completion_tokens

    async def _open_stream(
        self,
        adapter: Adapter,
        response: UpstreamResponse,
        principal: Principal,
        record: RequestRecord,
        ctx: ResponseContext,
        provider: Provider,
        candidate: Candidate,
        note: Callable[[Outcome, str], Outcome],
        started: float,
    ) -> tuple[ChatResult | None, Outcome]:
        """Read until the first client frame exists; fail over if the stream dies before."""
        translator = adapter.stream_translator(ctx)
        chunks = response.chunks()
        first: list[bytes] = []
        out = StreamOutput()
        try:
            while not first:
                try:
                    data = await anext(chunks)
                except StopAsyncIteration:
                    out = translator.finish()
                    first.extend(out.frames)
                    break
                out = translator.feed(data)
                first.extend(out.frames)
                if out.error or out.done:
                    break
        except UpstreamFailure as failure:
            response.close()
            return None, note(classify_failure(failure.kind), failure.detail)
        if out.error is not None and not first:
            response.close()
            return None, note(classify_stream_error(out.error.kind), out.error.detail)
        if not first:
            response.close()
            return None, note(Outcome("server_error", 200), "stream ended before any content")
        outcome = note(classify_status(200), "")
        record.provider = provider.id
        record.upstream_model = candidate.model
        handle = self.inflight.add(principal.tenant.id, response.close)
        stream = self._relay(first, out, chunks, translator, response, handle, record, ctx, started)
        return ChatResult(status=200, stream=stream, record=record), outcome

    async def _relay(
        self,
        first: list[bytes],
        out: StreamOutput,
        chunks: AsyncIterator[bytes],
        translator: StreamTranslator,
        response: UpstreamResponse,
        handle: StreamHandle,
        record: RequestRecord,
        ctx: ResponseContext,
        started: float,
    ) -> AsyncIterator[bytes]:
        """Forward frames after the first; a failure now ends the stream with an error event."""
        status, code = 200, None
        failure_detail = ""
        try:
            record.ttfb_ms = (self._clock() - started) * 1000
            yield b"".join(first)
            while out.error is None and not out.done and not handle.killed:
                try:
                    data = await anext(chunks)
                except StopAsyncIteration:
                    out = translator.finish()
                    if out.frames:
                        yield b"".join(out.frames)
                    break
                except UpstreamFailure as failure:
                    failure_detail = failure.detail
                    break
                out = translator.feed(data)
                if out.frames:
                    yield b"".join(out.frames)
            if out.error is not None:
                failure_detail = out.error.detail
            if handle.killed:
                status, code = 403, handle.killed
                yield error_frame(
                    error_for_code(
                        handle.killed, "Access for this tenant was ended; the stream was closed."
                    )
                )
            elif failure_detail:
                status, code = 502, "upstream_unavailable"
                record.attempts[-1].detail = failure_detail[:500]
                yield error_frame(
                    UpstreamUnavailable(
                        f"The stream from alias '{ctx.alias}' was interrupted upstream."
                    )
                )
        except BaseException:
            status, code = 499, "client_closed"
            raise
        finally:
            self.inflight.discard(handle)
            response.close()
            usage = translator.usage
            record.prompt_tokens = usage.prompt_tokens
            record.completion_tokens = usage.completion_tokens
            self._finish(record, started, status, code)
