"""The connection limit: waiting for a slot, giving slots back, and closing the pool."""

from __future__ import annotations

import asyncio

import pytest

from sekisho.chat.upstream import AttemptTimeouts, UpstreamClient, UpstreamFailure

from .wire import QUICK, Peer, ScriptedServer, answer_each, post, response


def _held_server(gate: asyncio.Event) -> ScriptedServer:
    """Answers every request, but only once `gate` is set."""

    async def handler(peer: Peer) -> None:
        while (req := await peer.request()) is not None:
            await gate.wait()
            await peer.send(response(200, req.body))

    return ScriptedServer(handler)


async def test_a_request_over_the_limit_waits_then_proceeds() -> None:
    gate = asyncio.Event()
    async with _held_server(gate) as server:
        client = UpstreamClient(limit=2)
        tasks = [asyncio.create_task(post(client, server.url(), b"%d" % i)) for i in range(3)]
        await asyncio.sleep(0.1)
        assert server.connections == 2
        assert len(server.requests) == 2  # the third is waiting for a connection
        assert not any(t.done() for t in tasks)
        gate.set()
        assert await asyncio.gather(*tasks) == [(200, b"0"), (200, b"1"), (200, b"2")]
        assert server.connections == 2  # the third took a connection given back
        await client.close()


async def test_a_cancelled_waiter_does_not_leak_a_slot() -> None:
    gate = asyncio.Event()
    async with _held_server(gate) as server:
        client = UpstreamClient(limit=1)
        first = asyncio.create_task(post(client, server.url(), b"first"))
        await asyncio.sleep(0.05)
        waiter = asyncio.create_task(post(client, server.url(), b"never"))
        await asyncio.sleep(0.05)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        gate.set()
        assert await first == (200, b"first")
        assert await post(client, server.url(), b"next") == (200, b"next")
        assert [r.body for _, r in server.requests] == [b"first", b"next"]
        await client.close()


async def test_a_waiter_cancelled_just_after_its_wakeup_passes_the_slot_on() -> None:
    async with ScriptedServer(answer_each(lambda r: response(200, r.body))) as server:
        client = UpstreamClient(limit=1)
        held = await client.send(server.url(), {}, b"held", QUICK)
        assert await held.read() == b"held"
        woken = asyncio.create_task(post(client, server.url(), b"woken"))
        patient = asyncio.create_task(post(client, server.url(), b"patient"))
        await asyncio.sleep(0.05)
        held.close()  # wakes `woken`...
        woken.cancel()  # ...which is cancelled before it runs: `patient` must get the slot
        assert await patient == (200, b"patient")
        assert woken.cancelled()
        await client.close()


async def test_a_waiter_that_times_out_does_not_leak_a_slot() -> None:
    gate = asyncio.Event()
    async with _held_server(gate) as server:
        client = UpstreamClient(limit=1)
        first = asyncio.create_task(post(client, server.url(), b"first"))
        await asyncio.sleep(0.05)
        with pytest.raises(UpstreamFailure) as failure:
            await post(client, server.url(), b"late", AttemptTimeouts(1, 0.1, 1))
        assert failure.value.kind == "timeout"
        gate.set()
        assert await first == (200, b"first")
        assert await post(client, server.url(), b"next") == (200, b"next")
        await client.close()


async def test_idle_connections_to_one_host_do_not_block_another() -> None:
    echo = answer_each(lambda r: response(200, r.body))
    async with ScriptedServer(echo) as a, ScriptedServer(echo) as b:
        client = UpstreamClient(limit=1)
        assert await post(client, a.url(), b"a") == (200, b"a")  # now idle in the pool
        assert await post(client, b.url(), b"b") == (200, b"b")
        assert await post(client, a.url(), b"a2") == (200, b"a2")
        assert await a.peers[0].client_gone(0.5)  # the idle one made way
        await client.close()


async def test_failed_connects_give_their_slot_back() -> None:
    from .wire import refused_port

    async with ScriptedServer(answer_each(lambda _: response(200, b"ok"))) as server:
        client = UpstreamClient(limit=1)
        for _ in range(3):
            with pytest.raises(UpstreamFailure):
                await post(client, f"http://127.0.0.1:{refused_port()}/")
        assert await post(client, server.url()) == (200, b"ok")
        await client.close()


async def test_close_releases_every_connection() -> None:
    async def handler(peer: Peer) -> None:
        while (req := await peer.request()) is not None:
            if req.body == b"stream":
                await peer.send(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n"
                )
            else:
                await peer.send(response(200, req.body))

    async with ScriptedServer(handler) as server:
        client = UpstreamClient(limit=3)
        await asyncio.gather(post(client, server.url(), b"a"), post(client, server.url(), b"b"))
        streaming = await client.send(server.url(), {}, b"stream", QUICK)
        chunks = streaming.chunks()
        assert await anext(chunks) == b"first"
        pooled = server.connections
        await client.close()
        async with asyncio.timeout(0.5):  # idle and in use alike
            await asyncio.gather(*(p.done.wait() for p in server.peers))
        with pytest.raises(UpstreamFailure) as failure:
            await anext(chunks)
        assert failure.value.kind == "reset"
        streaming.close()
        # every slot is free again: a full set of concurrent requests proceeds at once
        got = await asyncio.gather(*(post(client, server.url(), b"%d" % i) for i in range(3)))
        assert got == [(200, b"0"), (200, b"1"), (200, b"2")]
        assert server.connections == pooled + 3
        await client.close()
