"""The chat core: plan the routes for a request, try them, translate, log.

Callable in-process by every entry point (the /v1 API, the BFF chat app, the
Anthropic and Responses front doors): `ChatService.complete(principal,
request, request_id)` returns a `ChatResult` holding either a JSON body or an
async iterator of SSE frames, or raises a `SekishoError`.

Ownership: `complete` admits the request as an `InflightRequest`
(`chat.inflight`) before anything else, and that object is closed exactly
once on every path, writing the one request-log row. For a JSON answer it is
closed before `complete` returns. For a stream it is handed to the relay and
closed when the stream ends — or when the caller closes the `ChatResult`
(`async with result:` or `await result.aclose()`), which every caller must do,
so a stream whose response never started (client gone, task cancelled) still
deregisters and still leaves its row. A suspension or shutdown ends the
request at any stage (see `chat.inflight`).

Attempts: each route tried is one `RouteAttempt`, which carries its outcome;
`routing.outcome.classify` is the one judge of what an upstream status,
transport failure or reported error means, on the JSON and the stream path.

Failover happens only on upstream failure (Rule 4), only over the routes the
planner left eligible (Rules 2-3), and for streams only before the first byte
reached the client; afterwards a failure ends the stream with an error event
and no `[DONE]`. The request-log row is handed to the batch writer, never
awaited (Rule 11).

Seams for the guardrails (and other filters), see `ChatHooks`:
- `input_checks` run after admission and before planning; each may raise a
  `SekishoError` (e.g. `ContentPolicyViolation`) or return a changed request.
- `json_filters` see (and may change) the JSON body before it is returned.
- `stream_filters` wrap the stream of SSE frames before it is returned; the
  wrapped iterator is still closed by `ChatResult.aclose()`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import orjson

from sekisho.adapters import adapter_for
from sekisho.adapters.base import Adapter, ResponseContext, StreamOutput, StreamTranslator
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
from sekisho.chat.estimate import estimate_usage
from sekisho.chat.inflight import InflightRequest, InflightRequests, kill_error, owned
from sekisho.chat.principal import Principal
from sekisho.chat.request import ChatRequest
from sekisho.chat.upstream import AttemptTimeouts, UpstreamClient, UpstreamFailure, UpstreamResponse
from sekisho.errors import (
    InvalidRequest,
    SekishoError,
    UpstreamUnavailable,
)
from sekisho.guardrails.guard import ChatGuard
from sekisho.ids import completion_id
from sekisho.matrix import Matrix
from sekisho.quotas.service import QuotaService
from sekisho.requestlog.clean import bounded_text
from sekisho.requestlog.record import RequestRecord
from sekisho.routing.circuit import CircuitBook
from sekisho.routing.outcome import Outcome, classify
from sekisho.routing.overrides import Override

__all__ = [
    "ChatCall",
    "ChatHooks",
    "ChatResult",
    "ChatService",
    "RetryAfterBounds",
    "RouteAttempt",
    "RoutingState",
    "error_frame",
]

MAX_ERROR_BODY = 64 * 1024
ALIAS_MAX = 200  # request_log.alias
_DETAIL_MAX = 500


@dataclass(slots=True)
class RoutingState:
    """What the planner reads: the live matrix, circuits and overrides. Swapped, never edited."""

    matrix: Matrix
    circuits: CircuitBook = field(default_factory=CircuitBook)
    overrides: list[Override] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class ChatCall:
    """One admitted request as the core and its hooks see it."""

    principal: Principal
    request: ChatRequest
    owner: InflightRequest
    ctx: ResponseContext
    state: RoutingState
    deadline: float

    @property
    def record(self) -> RequestRecord:
        return self.owner.record


InputCheck = Callable[[ChatCall], Awaitable[ChatRequest | None]]
JsonFilter = Callable[[ChatCall, dict[str, Any]], Awaitable[dict[str, Any]]]
StreamFilter = Callable[[ChatCall, AsyncIterator[bytes]], AsyncIterator[bytes]]


@dataclass(slots=True)
class ChatHooks:
    """Where guardrails plug in; empty lists cost nothing on the hot path."""

    input_checks: list[InputCheck] = field(default_factory=list)
    json_filters: list[JsonFilter] = field(default_factory=list)
    stream_filters: list[StreamFilter] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class ChatResult:
    """A JSON body, or a stream of SSE frames the caller must close (`async with result:`)."""

    status: int
    body: dict[str, Any] | None = None
    stream: AsyncIterator[bytes] | None = None
    record: RequestRecord | None = None
    headers: dict[str, str] | None = None  # besides our own: the tenant's x-ratelimit-*
    _owner: InflightRequest | None = None
    _relay: AsyncIterator[bytes] | None = None

    async def aclose(self) -> None:
        """End the stream (if any) and make sure the request is closed and logged."""
        for it in (self.stream, self._relay):
            closer = getattr(it, "aclose", None)
            if closer is not None:
                await closer()
        if self._owner is not None:
            # Only if the relay never ran (response never started): release and log it.
            self._owner.close(499, "client_closed")

    async def close_on_disconnect(self, receive: Callable[[], Awaitable[Any]]) -> None:
        """Watch an ASGI `receive` while the stream is sent; a client that leaves ends it.

        Without this, a stream whose client went away would keep reading its upstream
        to the end. Run it as a task beside the sending loop and cancel it afterwards.
        """
        while self._owner is not None and not self._owner.closed:
            message = await receive()
            if message.get("type") == "http.disconnect":
                self._owner.kill(CLIENT_GONE)
                return

    async def __aenter__(self) -> ChatResult:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def error_frame(err: SekishoError) -> bytes:
    """An OpenAI-shaped in-stream error event."""
    return (
        b"data: "
        + orjson.dumps(
            {"error": {"message": err.message, "type": err.type, "code": err.code, "param": None}}
        )
        + b"\n\n"
    )


CLIENT_GONE = "client_closed"  # a kill code of its own: nobody is left to answer


class ChatService:
    def __init__(
        self,
        *,
        routing: Callable[[], RoutingState],
        upstream: UpstreamClient,
        submit_log: Callable[[RequestRecord], None],
        provider_key: Callable[[str], str],
        inflight: InflightRequests | None = None,
        request_deadline_s: float = 120.0,
        retry_after: RetryAfterBounds | None = None,
        hooks: ChatHooks | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._routing = routing
        self._upstream = upstream
        self._submit_log = submit_log
        self._provider_key = provider_key
        self.inflight = inflight or InflightRequests()
        self._deadline_s = request_deadline_s
        self.retry_after = retry_after or RetryAfterBounds()
        self.hooks = hooks or ChatHooks()
        self._clock = clock
        self._wall = wall_clock
        self.guard = ChatGuard.disabled()  # guardrails: the gateway sets the real one
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
            user_id=principal.user_id,
            alias=bounded_text(req.alias, ALIAS_MAX),  # the caller's words, cleaned at the edge
            stream=req.stream,
        )
        owner = self.inflight.admit(record, self._submit_log, self._clock, started)
        return await owned(owner, lambda: self._execute(principal, req, owner))

    async def _execute(
        self, principal: Principal, req: ChatRequest, owner: InflightRequest
    ) -> ChatResult:
        state = self._routing()
        now = self._wall()
        ctx = ResponseContext(
            completion_id=completion_id(),
            alias=req.alias,
            created=int(now),
            include_usage=req.include_usage,
            reasoning=req.reasoning,
        )
        call = ChatCall(principal, req, owner, ctx, state, owner.started + self._deadline_s)
        # guardrails: input, before routing (a blocked request never reaches a provider)
        call.request = req = await self.guard.check_input(principal, req, call.record)
        for check in self.hooks.input_checks:
            changed = await check(call)
            if changed is not None:
                call.request = req = changed
        plan = plan_request(
            state.matrix, state.circuits, state.overrides, req.alias, principal, "chat", now
        )
        quota_headers = None
        if self.quotas is not None:  # reserved here; settled when the request-log row is written
            quota_headers = await self.quotas.admit_request(
                principal.tenant.id, call.record.key_id, req.body, call.record.id
            )
        call.record.plan = plan.to_log()

        async def try_one(attempt: RouteAttempt) -> ChatResult | None:
            return await self._attempt(call, attempt)

        result, outcomes = await try_routes(
            plan,
            state.circuits,
            call.record,
            deadline=call.deadline,
            clock=self._clock,
            wall=self._wall,
            try_one=try_one,
            refused=lambda outcome: request_error(
                req.alias,
                outcome,
                subject="The conversation",
                check="the messages, tools and parameters",
            ),
        )
        if result is None:
            raise outage_error(req.alias, outcomes, self.retry_after)
        result.headers = quota_headers
        return result

    def _settle(self, call: ChatCall, attempt: RouteAttempt, outcome: Outcome, detail: str) -> None:
        attempt.settle(outcome, detail, self._clock(), self._wall())

    async def _attempt(self, call: ChatCall, attempt: RouteAttempt) -> ChatResult | None:
        """Try one route; a result on success, else None with `attempt.outcome` set."""
        candidate, req = attempt.candidate, call.request
        adapter = adapter_for(candidate.provider.kind)
        provider = candidate.provider
        try:
            upreq = adapter.build_request(
                req.body,
                upstream_model=candidate.model,
                api_key=self._provider_key(provider.id),
                stream=req.stream,
            )
        except InvalidRequest as err:
            first = not call.record.attempts
            # A fallback whose wire format cannot carry this request is skipped, not fatal.
            skipped(attempt, "untranslatable", err.message, self._wall())
            if first:
                raise  # the first route cannot carry it: the request itself is the problem
            return None
        remaining = call.deadline - self._clock()
        timeouts = AttemptTimeouts(
            connect_s=min(provider.connect_timeout_s, remaining),
            first_byte_s=min(provider.timeout_s, remaining),
            read_s=provider.timeout_s,
        )
        try:
            response = await self._upstream.send(
                provider.base_url + upreq.path, upreq.headers, upreq.body, timeouts
            )
        except UpstreamFailure as failure:
            self._settle(call, attempt, classify(failure=failure.kind), failure.detail)
            return None
        handed_off = False
        try:
            if not 200 <= response.status < 300:
                try:
                    data = await response.read()
                except UpstreamFailure:
                    data = b""
                said = read_error(response.status, data[:MAX_ERROR_BODY])
                outcome = classify(
                    response.status,
                    error_kind=said.kind,
                    retry_after=response.retry_after,
                    now=self._wall(),
                )
                self._settle(call, attempt, outcome, said.detail)
                return None
            if not req.stream:
                return await self._read_json(call, attempt, adapter, response)
            result = await self._open_stream(call, attempt, adapter, response)
            handed_off = result is not None
            return result
        finally:
            if not handed_off:
                response.close()

    async def _read_json(
        self, call: ChatCall, attempt: RouteAttempt, adapter: Adapter, response: UpstreamResponse
    ) -> ChatResult | None:
        try:
            data = await response.read()
        except UpstreamFailure as failure:
            self._settle(call, attempt, classify(failure=failure.kind), failure.detail)
            return None
        try:
            body, usage = adapter.parse_response(data, call.ctx)
        except Exception as exc:  # an unparseable 2xx is upstream misbehaviour: fail over
            outcome = classify(response.status, failure="malformed")
            self._settle(call, attempt, outcome, f"unparseable response: {exc!r}")
            return None
        self._settle(call, attempt, classify(response.status), "")
        record = call.record
        if usage.total_tokens is None:
            # The spec requires `usage`; the upstream sent none: count ourselves, say so.
            usage = estimate_usage(call.request.body, body)
            body["usage"] = {
                "prompt_tokens": usage.prompt_tokens or 0,
                "completion_tokens": usage.completion_tokens or 0,
                "total_tokens": usage.total_tokens or 0,
            }
            record.usage_estimated = True
        attempt.served()
        record.prompt_tokens = usage.prompt_tokens
        record.completion_tokens = usage.completion_tokens
        # guardrails: output of a JSON completion (may mask, or refuse with a 400)
        body = self.guard.check_output(call.principal, record, body)
        for json_filter in self.hooks.json_filters:
            body = await json_filter(call, body)
        call.owner.close(200, None)
        return ChatResult(status=200, body=body, record=record)

    async def _open_stream(
        self, call: ChatCall, attempt: RouteAttempt, adapter: Adapter, response: UpstreamResponse
    ) -> ChatResult | None:
        """Read until the first client frame exists; fail over if the stream dies before."""
        # guardrails: output of a stream (masking held back across chunks, blocks end it)
        translator = self.guard.wrap_stream(
            call.principal, call.record, adapter.stream_translator(call.ctx)
        )
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
            self._settle(call, attempt, classify(failure=failure.kind), failure.detail)
            return None
        if out.error is not None and not first:
            outcome = classify(None, error_kind=out.error.kind)
            self._settle(call, attempt, outcome, out.error.detail)
            return None
        if not first:
            outcome = classify(response.status, failure="malformed")
            self._settle(call, attempt, outcome, "stream ended before any content")
            return None
        self._settle(call, attempt, classify(response.status), "")
        attempt.served()
        owner = call.owner
        # From here a kill closes the upstream; the relay then ends with an error event.
        owner.streaming(response.close)
        relay = self._relay(call, first, out, chunks, translator, response)
        stream: AsyncIterator[bytes] = relay
        for stream_filter in self.hooks.stream_filters:
            stream = stream_filter(call, stream)
        return ChatResult(status=200, stream=stream, record=call.record, _owner=owner, _relay=relay)

    async def _relay(
        self,
        call: ChatCall,
        first: list[bytes],
        out: StreamOutput,
        chunks: AsyncIterator[bytes],
        translator: StreamTranslator,
        response: UpstreamResponse,
    ) -> AsyncIterator[bytes]:
        """Forward frames after the first; a failure now ends the stream with an error event."""
        owner, record = call.owner, call.record
        status, code = 200, None
        failure_detail = ""
        try:
            record.ttfb_ms = (self._clock() - owner.started) * 1000
            yield b"".join(first)
            while out.error is None and not out.done and owner.killed is None:
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
            if owner.killed == CLIENT_GONE:
                status, code = 499, CLIENT_GONE
            elif owner.killed is not None:
                err = kill_error(owner.killed)
                status, code = err.status, err.code
                yield error_frame(err)
            elif failure_detail:
                status, code = 502, "upstream_unavailable"
                record.attempts[-1].detail = failure_detail[:_DETAIL_MAX]
                yield error_frame(
                    UpstreamUnavailable(
                        f"The stream from alias '{call.ctx.alias}' was interrupted upstream."
                    )
                )
        except asyncio.CancelledError:
            status, code = 499, "cancelled"  # the serving task was cancelled (shutdown)
            raise
        except BaseException:
            status, code = 499, "client_closed"  # the consumer closed the stream
            raise
        finally:
            response.close()
            usage = translator.usage
            record.prompt_tokens = usage.prompt_tokens
            record.completion_tokens = usage.completion_tokens
            owner.close(status, code)
