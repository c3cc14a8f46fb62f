"""Streaming: bytes reach the consumer as they arrive; closing early drops the connection."""

from __future__ import annotations

import asyncio

from sekisho.chat.upstream import UpstreamClient

from .wire import QUICK, Peer, ScriptedServer, response

CHUNKED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
)


async def test_chunks_arrive_before_the_server_sends_the_next() -> None:
    took: list[asyncio.Event] = [asyncio.Event() for _ in range(3)]

    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(CHUNKED)
        for i, event in enumerate(took):
            data = b"data: %d\n\n" % i
            await peer.send(b"%x\r\n%s\r\n" % (len(data), data))
            await event.wait()  # the next is sent only once the client holds this one
        await peer.send(b"0\r\n\r\n")
        await peer.client_gone(2)

    async with ScriptedServer(handler) as server:
        client = UpstreamClient()
        resp = await client.send(server.url(), {}, b"", QUICK)
        got = []
        async for chunk in resp.chunks():
            got.append(chunk)
            took[len(got) - 1].set()
        assert got == [b"data: 0\n\n", b"data: 1\n\n", b"data: 2\n\n"]
        resp.close()
        await client.close()


async def test_close_mid_stream_aborts_the_connection() -> None:
    async def handler(peer: Peer) -> None:
        while await peer.request() is not None:
            await peer.send(CHUNKED, b"5\r\nfirst\r\n")
            if peer.index == 0:
                assert await peer.client_gone(1)
                return
            await peer.send(b"0\r\n\r\n")

    async with ScriptedServer(handler) as server:
        client = UpstreamClient()
        resp = await client.send(server.url(), {}, b"", QUICK)
        chunks = resp.chunks()
        assert await anext(chunks) == b"first"
        resp.close()
        resp.close()  # twice is harmless
        await asyncio.wait_for(server.peers[0].done.wait(), 1)
        resp = await client.send(server.url(), {}, b"", QUICK)
        assert b"".join([c async for c in resp.chunks()]) == b"first"
        resp.close()
        assert server.connections == 2
        await client.close()


async def test_close_before_reading_an_unfinished_body_aborts_the_connection() -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(response(200, b"", [("Content-Length", "10")], length=False), b"12345")
        assert await peer.client_gone(1)

    async with ScriptedServer(handler) as server:
        client = UpstreamClient()
        resp = await client.send(server.url(), {}, b"", QUICK)
        resp.close()
        await asyncio.wait_for(server.peers[0].done.wait(), 1)
        await client.close()


async def test_a_dropped_response_does_not_keep_its_connection() -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(CHUNKED, b"5\r\nfirst\r\n")
        assert await peer.client_gone(1)

    async with ScriptedServer(handler) as server:
        client = UpstreamClient()
        resp = await client.send(server.url(), {}, b"", QUICK)
        del resp  # never closed: collected, it must not hold the socket open
        await asyncio.wait_for(server.peers[0].done.wait(), 1)
        await client.close()
