"""Keep-alive: connections are reused when they can be and never when they must not be."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from sekisho.chat.upstream import AttemptTimeouts, UpstreamClient, UpstreamFailure

from .wire import QUICK, Peer, ScriptedServer, answer_each, post, response


async def test_second_request_reuses_the_connection() -> None:
    async with ScriptedServer(answer_each(lambda r: response(200, r.body))) as server:
        client = UpstreamClient()
        assert await post(client, server.url(), b"one") == (200, b"one")
        assert await post(client, server.url(), b"two") == (200, b"two")
        assert await post(client, server.url("/other"), b"three") == (200, b"three")
        assert server.connections == 1
        assert [(i, r.body) for i, r in server.requests] == [
            (0, b"one"),
            (0, b"two"),
            (0, b"three"),
        ]
        await client.close()


@pytest.mark.parametrize(
    "wire",
    [
        response(200, b"bye", [("Connection", "close")]),
        response(200, b"bye", version="HTTP/1.0"),  # 1.0 without keep-alive
    ],
)
async def test_a_response_that_ends_the_connection_is_not_reused(wire: bytes) -> None:
    async with ScriptedServer(answer_each(lambda _: wire)) as server:
        client = UpstreamClient()
        for _ in range(3):
            assert await post(client, server.url()) == (200, b"bye")
        assert server.connections == 3
        await client.close()


async def test_a_pooled_connection_the_server_closed_is_not_used() -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(response(200, b"ok"))
        await asyncio.sleep(0.05)  # then its idle timeout closes the connection
        peer.close()

    async with ScriptedServer(handler) as server:
        client = UpstreamClient()
        assert await post(client, server.url()) == (200, b"ok")
        await asyncio.sleep(0.2)
        assert await post(client, server.url()) == (200, b"ok")
        assert server.connections == 2
        await client.close()


async def test_a_pooled_connection_past_keepalive_is_not_used() -> None:
    async with ScriptedServer(answer_each(lambda _: response(200, b"ok"))) as server:
        client = UpstreamClient(keepalive_s=0.05)
        assert await post(client, server.url()) == (200, b"ok")
        await asyncio.sleep(0.1)
        assert await post(client, server.url()) == (200, b"ok")
        assert server.connections == 2
        assert await server.peers[0].client_gone(0.5)  # and the stale one was closed
        await client.close()


async def test_a_stray_response_on_an_idle_connection_is_never_taken_as_an_answer() -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        if peer.index == 0:
            await peer.send(response(200, b"first"))
            await asyncio.sleep(0.02)
            await peer.send(response(408, b"idle too long"))  # and leaves it open
            await peer.client_gone(2)
        else:
            await peer.send(response(200, b"second"))

    async with ScriptedServer(handler) as server:
        client = UpstreamClient()
        assert await post(client, server.url()) == (200, b"first")
        await asyncio.sleep(0.1)
        assert await post(client, server.url()) == (200, b"second")
        await client.close()


async def test_bytes_after_a_complete_response_retire_the_connection() -> None:
    async def handler(peer: Peer) -> None:
        while await peer.request() is not None:
            # one request, two answers: the second must not be read as the next request's
            await peer.send(response(200, b"real") + response(500, b"bogus"))

    async with ScriptedServer(handler) as server:
        client = UpstreamClient()
        assert await post(client, server.url()) == (200, b"real")
        await asyncio.sleep(0.05)
        assert await post(client, server.url()) == (200, b"real")
        await client.close()


async def test_closing_before_reading_a_complete_body_is_safe() -> None:
    async with ScriptedServer(answer_each(lambda _: response(500, b"x" * 1000))) as server:
        client = UpstreamClient()
        resp = await client.send(server.url(), {}, b"", QUICK)
        assert resp.status == 500
        await asyncio.sleep(0.05)  # the body has arrived, unread
        resp.close()
        assert await post(client, server.url()) == (500, b"x" * 1000)
        await client.close()


# -- the close that crosses our write ---------------------------------------------------
#
# A server may close an idle keep-alive connection at the moment we write a request on it.
# If its FIN reached us first, the pool skipped the connection (above). If it crosses our
# write, the server never read the request and we get EOF or RST before any response byte.
# The client then retries once on a fresh connection: only for a reused connection, only
# when not one response byte arrived, only within the same first-byte deadline.


async def _answers_once_then_drops_the_next(peer: Peer, drop: str) -> None:
    if peer.index == 0:
        await peer.request()
        await peer.send(response(200, b"first"))
        await peer.request()  # our request crossed its close: answer nothing
        if drop == "rst":
            peer.reset()
        else:
            peer.close()
    else:
        while (req := await peer.request()) is not None:
            await peer.send(response(200, b"retried " + req.body))


@pytest.mark.parametrize("drop", ["fin", "rst"])
async def test_a_reused_connection_dropped_before_any_answer_is_retried_once(drop: str) -> None:
    async def handler(peer: Peer) -> None:
        await _answers_once_then_drops_the_next(peer, drop)

    async with ScriptedServer(handler) as server:
        client = UpstreamClient()
        assert await post(client, server.url(), b"a") == (200, b"first")
        assert await post(client, server.url(), b"b") == (200, b"retried b")
        assert server.connections == 2
        assert [(i, r.body) for i, r in server.requests] == [(0, b"a"), (0, b"b"), (1, b"b")]
        await client.close()


async def _nth_request_fails(
    handler: Callable[[Peer], Awaitable[None]],
    *,
    warm: bool,
    kind: str,
    connections: int,
    timeouts: AttemptTimeouts | None = None,
) -> None:
    """After `warm` successful requests, the next fails with `kind` over `connections` sockets."""
    async with ScriptedServer(handler) as server:
        client = UpstreamClient()
        if warm:
            await post(client, server.url())
        extra = {"timeouts": timeouts} if timeouts else {}
        with pytest.raises(UpstreamFailure) as failure:
            await post(client, server.url(), **extra)
        assert failure.value.kind == kind
        assert server.connections == connections
        await client.close()


async def test_the_retry_is_made_once_only() -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        if peer.index == 0:
            await peer.send(response(200, b"first"))
            await peer.request()
        peer.close()  # every later connection drops its request unanswered

    await _nth_request_fails(handler, warm=True, kind="reset", connections=2)


async def test_a_fresh_connection_dropped_before_any_answer_is_not_retried() -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        peer.close()

    await _nth_request_fails(handler, warm=False, kind="reset", connections=1)


async def test_a_reused_connection_that_began_an_answer_is_not_retried() -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(response(200, b"first"))
        await peer.request()
        await peer.send(b"HTTP/1.1 200 OK\r\nContent-Le")
        peer.close()

    await _nth_request_fails(handler, warm=True, kind="reset", connections=1)


async def test_a_reused_connection_that_times_out_is_not_retried() -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(response(200, b"first"))
        await peer.request()
        await peer.client_gone(2)  # working on it... too slowly

    await _nth_request_fails(
        handler, warm=True, kind="timeout", connections=1, timeouts=AttemptTimeouts(1, 0.2, 1)
    )
