"""The simulator's HTTP app: provider routes under ``/{provider}/v1`` and the admin API.

Each request to a provider is counted first, then meets the provider's next
fault (if any), then is checked and answered like the real API would.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import time

import orjson
from aiohttp import web

from sekisho.simulator.admin import add_admin_routes
from sekisho.simulator.anthropic_wire import ANTHROPIC
from sekisho.simulator.faults import DEFAULT_RETRY_AFTER_S, MAX_HANG_S, Fault
from sekisho.simulator.generate import complete
from sekisho.simulator.identity import PROVIDER_PATTERN
from sekisho.simulator.openai_wire import OPENAI
from sekisho.simulator.state import STATE, ProviderState, SimulatorState
from sekisho.simulator.wire import Reply, Wire, WireError

MAX_BODY_BYTES = 32 * 1024 * 1024
_HANG_POLL_S = 0.1
_RST = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a TCP RST
_STREAM_HEADERS = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}


def create_simulator_app() -> web.Application:
    """Build the simulator application (no I/O until it is served)."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[STATE] = SimulatorState()
    add_admin_routes(app.router)
    provider = f"{{provider:{PROVIDER_PATTERN}}}"
    app.router.add_post(f"/{provider}/v1/chat/completions", _openai_chat)
    app.router.add_post(f"/{provider}/v1/messages", _anthropic_messages)
    app.router.add_get(f"/{provider}/v1/models", _models)
    app.router.add_route("*", f"/{provider}/{{tail:.*}}", _unknown_url)
    return app


async def _openai_chat(request: web.Request) -> web.StreamResponse:
    return await _serve_chat(request, OPENAI)


async def _anthropic_messages(request: web.Request) -> web.StreamResponse:
    return await _serve_chat(request, ANTHROPIC)


class _Exchange:
    """One request to one simulated provider, and the ways to answer it."""

    def __init__(self, request: web.Request, provider: ProviderState, wire: Wire, seq: int) -> None:
        self.request = request
        self.provider = provider
        self.wire = wire
        self.seq = seq
        self.identity = provider.identity

    def count(self, outcome: int | str) -> None:
        self.provider.by_status[str(outcome)] += 1

    def headers(self) -> dict[str, str]:
        return self.wire.headers(self.identity, self.seq)

    def error(self, error: WireError, extra: dict[str, str] | None = None) -> web.Response:
        self.count(error.status)
        body = self.wire.error_body(error, self.identity, self.seq, self.request.host)
        headers = {**self.headers(), **(extra or {})}
        return web.Response(
            status=error.status, body=body, headers=headers, content_type="application/json"
        )


async def _serve_chat(request: web.Request, wire: Wire) -> web.StreamResponse:
    provider, body, seq = await _arrive(request)
    exchange = _Exchange(request, provider, wire, seq)
    if isinstance(body, dict) and body.get("stream") is True:
        provider.streams += 1
    fault = provider.faults.take()
    if fault is not None:
        provider.faulted += 1
        early = await _apply_fault(exchange, fault, body)
        if early is not None:
            return early
    auth_error = wire.check_auth(request.headers)
    if auth_error is not None:
        return exchange.error(auth_error)
    try:
        chat = wire.parse(body)
    except WireError as error:
        return exchange.error(error)
    reply = Reply(provider.identity, seq, chat.model, complete(chat.prompt), int(time.time()))
    exchange.count(200)
    if chat.stream:
        events = wire.stream_events(reply, chat.include_usage)
        return await _stream(exchange, events, fault)
    body = wire.response_body(reply)
    if fault is not None and fault.omit_usage:
        body = orjson.dumps({**orjson.loads(body), "usage": None})
    return await _respond(exchange, body, fault)


async def _arrive(request: web.Request) -> tuple[ProviderState, object, int]:
    """Count the request against its provider and remember it; returns the parsed body."""
    provider = request.app[STATE].provider(request.match_info["provider"])
    raw = await request.read()
    try:
        body: object = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = None
    headers = {name.lower(): value for name, value in request.headers.items()}
    seq = provider.record_request(request.path, headers, body)
    return provider, body, seq


async def _apply_fault(
    exchange: _Exchange, fault: Fault, body: object
) -> web.StreamResponse | None:
    """Delay, drop, hang or fail as the fault says; None lets the request go on."""
    if fault.latency_ms:
        await asyncio.sleep(fault.latency_ms / 1000)
    request = exchange.request
    if fault.reset:
        exchange.count("reset")
        _drop(request, reset=True)
        return web.Response()
    if fault.timeout:
        exchange.count("timeout")
        await _hang_until_client_leaves(request)
        _drop(request, reset=True)
        return web.Response()
    if fault.status is not None:
        model = body.get("model") if isinstance(body, dict) else None
        error = exchange.wire.fault_error(fault.status, model if isinstance(model, str) else "")
        if fault.error_message is not None:
            error = WireError(error.status, fault.error_message, code=error.code, kind=error.kind)
        retry_after = fault.retry_after
        if retry_after is None and fault.status == 429:
            retry_after = DEFAULT_RETRY_AFTER_S
        extra = {"retry-after": str(retry_after)} if retry_after is not None else None
        return exchange.error(error, extra)
    return None


async def _respond(exchange: _Exchange, body: bytes, fault: Fault | None) -> web.StreamResponse:
    headers = exchange.headers()
    status = (fault.success_status if fault else None) or 200
    if fault is None or (not fault.first_byte_delay_ms and fault.cut_after is None):
        return web.Response(
            status=status, body=body, headers=headers, content_type="application/json"
        )
    response = web.StreamResponse(
        status=status, headers={**headers, "content-type": "application/json"}
    )
    response.content_length = len(body)
    await response.prepare(exchange.request)
    await asyncio.sleep(fault.first_byte_delay_ms / 1000)
    if fault.cut_after is not None and fault.cut_after < len(body):
        await response.write(body[: fault.cut_after])
        _drop(exchange.request, reset=False)
        return response
    await response.write(body)
    await response.write_eof()
    return response


async def _stream(
    exchange: _Exchange, events: list[bytes], fault: Fault | None
) -> web.StreamResponse:
    status = (fault.success_status if fault else None) or 200
    response = web.StreamResponse(status=status, headers={**exchange.headers(), **_STREAM_HEADERS})
    await response.prepare(exchange.request)
    if fault is None:
        await response.write(b"".join(events))
        await response.write_eof()
        return response
    if fault.first_byte_delay_ms:
        await asyncio.sleep(fault.first_byte_delay_ms / 1000)
    for sent, event in enumerate(events):
        if sent == fault.hold_after:
            await _hold(exchange)
        if sent == fault.cut_after:
            _drop(exchange.request, reset=False)
            return response
        if sent == fault.error_after:
            await response.write(
                exchange.wire.stream_error_event(
                    exchange.identity, exchange.seq, exchange.request.host
                )
            )
            break
        if sent and fault.chunk_delay_ms:
            await asyncio.sleep(fault.chunk_delay_ms / 1000)
        await response.write(event)
    await response.write_eof()
    return response


async def _models(request: web.Request) -> web.StreamResponse:
    provider, _, seq = await _arrive(request)
    # One path serves both dialects, as it does upstream; the version header tells them apart.
    wire: Wire = ANTHROPIC if "anthropic-version" in request.headers else OPENAI
    exchange = _Exchange(request, provider, wire, seq)
    auth_error = wire.check_auth(request.headers)
    if auth_error is not None:
        return exchange.error(auth_error)
    exchange.count(200)
    body = wire.models_body(provider.identity, int(time.time()))
    return web.Response(body=body, headers=exchange.headers(), content_type="application/json")


async def _unknown_url(request: web.Request) -> web.StreamResponse:
    provider, _, seq = await _arrive(request)
    exchange = _Exchange(request, provider, OPENAI, seq)
    path = "/" + request.match_info["tail"]
    return exchange.error(WireError(404, f"Invalid URL ({request.method} {path})"))


async def _hold(exchange: _Exchange) -> None:
    """Wait for the provider's next release, the client leaving, or MAX_HANG_S."""
    provider, request = exchange.provider, exchange.request
    gate = provider.gate
    provider.held += 1
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + MAX_HANG_S
        while not gate.is_set() and loop.time() < deadline and not _client_gone(request):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(gate.wait(), _HANG_POLL_S)
    finally:
        provider.held -= 1


async def _hang_until_client_leaves(request: web.Request) -> None:
    # Polling (not handler cancellation) so a hang also ends in apps served without it.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + MAX_HANG_S
    while loop.time() < deadline and not _client_gone(request):
        await asyncio.sleep(_HANG_POLL_S)


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _drop(request: web.Request, *, reset: bool) -> None:
    """End the connection without (the rest of) a response: RST, or a bare close."""
    transport = request.transport
    if transport is None:
        return
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RST)
        transport.abort()
    else:
        transport.close()
