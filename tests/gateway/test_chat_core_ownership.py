"""The chat core in-process (as the BFF and the other front doors call it), on the simulator.

Whoever cancels or abandons a request — before the upstream answered, or
after `complete` returned a stream that was never read — the request is
deregistered and leaves exactly one request-log row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from sekisho.chat.core import ChatResult, ChatService, RoutingState
from sekisho.chat.principal import Principal
from sekisho.chat.request import validate_chat_request
from sekisho.chat.upstream import UpstreamClient
from sekisho.errors import ServiceUnavailable, TenantSuspended
from sekisho.requestlog.record import RequestRecord
from sekisho.routing.circuit import CircuitBook
from sekisho.simulator import SimulatorServer
from sekisho.tenancy.snapshot import TenantSnapshot
from tests.support.gateway import gateway_settings

PRIMARY = "atlas-useast"
TENANT = TenantSnapshot("ten_core", "core", "active", None, False, None)


def _service(
    simulator: SimulatorServer, state: Path, rows: list[RequestRecord], upstream: UpstreamClient
) -> ChatService:
    settings = gateway_settings(simulator.url, state)
    routing = RoutingState(settings.matrix, CircuitBook(settings.circuit_settings()))
    return ChatService(
        routing=lambda: routing,
        upstream=upstream,
        submit_log=rows.append,
        provider_key=settings.provider_api_key,
    )


def _request(stream: bool) -> object:
    return validate_chat_request(
        {
            "model": "chat-large",
            "stream": stream,
            "messages": [{"role": "user", "content": "one two three"}],
        }
    )


async def _until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.01)


def _run(
    simulator: SimulatorServer,
    tmp_path: Path,
    body: Callable[[ChatService, list[RequestRecord]], Awaitable[None]],
) -> list[RequestRecord]:
    rows: list[RequestRecord] = []

    async def main() -> None:
        upstream = UpstreamClient()
        try:
            await body(_service(simulator, tmp_path, rows, upstream), rows)
        finally:
            await upstream.close()

    asyncio.run(main())
    return rows


@pytest.fixture
def sim(simulator: SimulatorServer) -> SimulatorServer:
    simulator.reset()
    return simulator


@pytest.mark.parametrize("stream", [True, False], ids=["sse", "json"])
@pytest.mark.parametrize("fault", ["first_byte_delay_ms", "latency_ms"])
def test_cancelled_before_the_response_started(
    sim: SimulatorServer, tmp_path: Path, stream: bool, fault: str
) -> None:
    sim.set_fault(PRIMARY, **{fault: 3000})

    async def body(chat: ChatService, rows: list[RequestRecord]) -> None:
        principal = Principal(tenant=TENANT)
        task = asyncio.create_task(chat.complete(principal, _request(stream), "req_cancel1"))  # type: ignore[arg-type]
        await _until(lambda: chat.inflight.count() == 1 and sim.stats(PRIMARY)["requests"] == 1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert chat.inflight.count() == 0

    rows = _run(sim, tmp_path, body)
    assert [(r.id, r.status, r.error_code) for r in rows] == [("req_cancel1", 499, "cancelled")]


def test_a_stream_never_read_is_still_closed_and_logged(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    async def body(chat: ChatService, rows: list[RequestRecord]) -> None:
        principal = Principal(tenant=TENANT)
        result: ChatResult = await chat.complete(principal, _request(True), "req_unread")  # type: ignore[arg-type]
        assert result.stream is not None and chat.inflight.count() == 1
        async with result:  # the caller gave up before starting its response
            pass
        assert chat.inflight.count() == 0
        async with result:  # closing twice changes nothing
            pass

    rows = _run(sim, tmp_path, body)
    assert [(r.id, r.status, r.error_code) for r in rows] == [("req_unread", 499, "client_closed")]
    assert rows[0].provider == PRIMARY


def test_a_kill_while_waiting_answers_with_the_kill_error(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    sim.set_fault(PRIMARY, first_byte_delay_ms=3000)

    async def body(chat: ChatService, rows: list[RequestRecord]) -> None:
        principal = Principal(tenant=TENANT)
        task = asyncio.create_task(chat.complete(principal, _request(True), "req_killed"))  # type: ignore[arg-type]
        await _until(lambda: sim.stats(PRIMARY)["requests"] == 1)
        assert chat.inflight.end_tenant(TENANT.id) == 1
        with pytest.raises(TenantSuspended):
            await asyncio.wait_for(task, 1.5)
        assert chat.inflight.count() == 0
        # Barred until reopened: the next request of the tenant is refused at admission.
        with pytest.raises(TenantSuspended):
            await chat.complete(principal, _request(False), "req_barred")  # type: ignore[arg-type]
        chat.inflight.reopen(TENANT.id)
        sim.clear_faults()
        result = await chat.complete(principal, _request(False), "req_reopened")  # type: ignore[arg-type]
        assert result.status == 200

    rows = _run(sim, tmp_path, body)
    assert [(r.id, r.status, r.error_code) for r in rows] == [
        ("req_killed", 403, "tenant_suspended"),
        ("req_barred", 403, "tenant_suspended"),
        ("req_reopened", 200, None),
    ]


def test_an_outside_cancel_during_a_kill_still_cancels(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    sim.set_fault(PRIMARY, latency_ms=3000)

    async def body(chat: ChatService, rows: list[RequestRecord]) -> None:
        principal = Principal(tenant=TENANT)
        task = asyncio.create_task(chat.complete(principal, _request(False), "req_both"))  # type: ignore[arg-type]
        await _until(lambda: sim.stats(PRIMARY)["requests"] == 1)
        chat.inflight.end_tenant(TENANT.id)
        task.cancel()  # e.g. shutdown at the same moment: cancellation wins
        with pytest.raises(asyncio.CancelledError):
            await task
        assert chat.inflight.count() == 0

    rows = _run(sim, tmp_path, body)
    assert [(r.id, r.status) for r in rows] == [("req_both", 499)]


def test_drain_at_shutdown_ends_every_request_and_logs_it(
    sim: SimulatorServer, tmp_path: Path
) -> None:
    sim.set_fault(PRIMARY, hold_after=2, count=1)  # the stream (first request) is held
    sim.set_fault(PRIMARY, latency_ms=3000, count=1)  # ...the JSON one waits for headers

    async def body(chat: ChatService, rows: list[RequestRecord]) -> None:
        principal = Principal(tenant=TENANT)
        result = await chat.complete(principal, _request(True), "req_drain_sse")  # type: ignore[arg-type]
        assert result.stream is not None
        frames: list[bytes] = []

        async def consume() -> None:
            async with result:
                async for frame in result.stream:  # type: ignore[union-attr]
                    frames.append(frame)

        consumer = asyncio.create_task(consume())
        waiting = asyncio.create_task(chat.complete(principal, _request(False), "req_drain_json"))  # type: ignore[arg-type]
        await _until(lambda: chat.inflight.count() == 2 and sim.stats(PRIMARY)["held"] == 1)
        await _until(lambda: sim.stats(PRIMARY)["requests"] == 2)
        assert await chat.inflight.drain(5.0) == 0  # nothing left afterwards
        await asyncio.wait_for(consumer, 5)
        with pytest.raises(ServiceUnavailable):
            await waiting
        assert b"service_unavailable" in frames[-1] and b"[DONE]" not in b"".join(frames)

    rows = _run(sim, tmp_path, body)
    assert sorted((r.id, r.status, r.error_code) for r in rows) == [
        ("req_drain_json", 503, "service_unavailable"),
        ("req_drain_sse", 503, "service_unavailable"),
    ]
