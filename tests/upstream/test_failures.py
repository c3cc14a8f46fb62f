"""Every way an upstream fails maps onto one UpstreamFailure kind."""

from __future__ import annotations

import asyncio
import gzip

import pytest

from sekisho.chat.upstream import AttemptTimeouts, UpstreamClient, UpstreamFailure

from .wire import QUICK, Peer, ScriptedServer, post, refused_port, response

SHORT = AttemptTimeouts(connect_s=1.0, first_byte_s=0.2, read_s=0.2)


async def _failure(url: str, timeouts: AttemptTimeouts = SHORT, *, stream: bool = False) -> str:
    client = UpstreamClient()
    try:
        resp = await client.send(url, {}, b"{}", timeouts)
        try:
            if stream:
                async for _ in resp.chunks():
                    pass
            else:
                await resp.read()
        finally:
            resp.close()
    except UpstreamFailure as failure:
        return failure.kind
    finally:
        await client.close()
    raise AssertionError("no failure")


def _script(*parts: bytes, then: str = "close", pause: float = 0.0) -> ScriptedServer:
    """Read the request, write `parts`, then close, reset or stall."""

    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(*parts, pause=pause)
        if then == "close":
            peer.close()
        elif then == "reset":
            peer.reset()
        else:
            await peer.client_gone(3)

    return ScriptedServer(handler)


async def test_connection_refused_is_connect_error() -> None:
    assert await _failure(f"http://127.0.0.1:{refused_port()}/v1") == "connect_error"


async def test_unresolvable_host_is_connect_error() -> None:
    assert await _failure("http://no-such-host.invalid/v1") == "connect_error"


async def test_no_response_headers_in_time_is_timeout() -> None:
    async with _script(b"HTTP/1.1 200 OK\r\n", then="stall") as server:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert await _failure(server.url()) == "timeout"
        assert 0.15 < loop.time() - t0 < 0.6


@pytest.mark.parametrize("then", ["close", "reset"])
@pytest.mark.parametrize(
    "parts",
    [
        (),
        (b"HTTP/1.1 200 OK\r\nContent-Le",),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n",),
    ],
    ids=["nothing", "mid-header", "before-blank-line"],
)
async def test_cut_before_the_headers_end_is_reset(parts: tuple[bytes, ...], then: str) -> None:
    async with _script(*parts, then=then) as server:
        assert await _failure(server.url()) == "reset"


@pytest.mark.parametrize("stream", [False, True], ids=["read", "chunks"])
@pytest.mark.parametrize("then", ["close", "reset"])
@pytest.mark.parametrize(
    "parts",
    [
        (response(200, b"", [("Content-Length", "100")], length=False), b"only ten b"),
        (response(200, b"", [("Transfer-Encoding", "chunked")], length=False), b"5\r\nhel"),
        (response(200, b"", [("Transfer-Encoding", "chunked")], length=False), b"5\r\nhello\r\n"),
        (
            response(
                200, b"", [("Content-Encoding", "gzip"), ("Content-Length", "500")], length=False
            ),
            gzip.compress(b"x" * 5000)[:20],
        ),
    ],
    ids=["length", "chunk-data", "chunk-boundary", "gzip"],
)
async def test_cut_mid_body_is_reset(parts: tuple[bytes, ...], then: str, stream: bool) -> None:
    async with _script(*parts, then=then, pause=0.02) as server:
        assert await _failure(server.url(), stream=stream) == "reset"


@pytest.mark.parametrize("stream", [False, True], ids=["read", "chunks"])
async def test_stall_mid_body_is_timeout(stream: bool) -> None:
    head = response(200, b"", [("Transfer-Encoding", "chunked")], length=False)
    async with _script(head, b"5\r\nhello\r\n", then="stall") as server:
        assert await _failure(server.url(), stream=stream) == "timeout"


async def test_a_slow_but_steady_stream_is_not_a_stall() -> None:
    head = response(200, b"", [("Transfer-Encoding", "chunked")], length=False)
    parts = [b"1\r\nx\r\n"] * 5 + [b"0\r\n\r\n"]
    async with _script(head, *parts, pause=0.06) as server:  # 0.3 s in all, 0.06 s apart
        client = UpstreamClient()
        resp = await client.send(server.url(), {}, b"", AttemptTimeouts(1, 1, 0.2))
        assert b"".join([c async for c in resp.chunks()]) == b"xxxxx"
        resp.close()
        await client.close()


@pytest.mark.parametrize(
    "wire",
    [
        b"HELLO WORLD\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header Line\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        b"\x16\x03\x01\x00\xa5\x01\x00\x00",  # a TLS server spoken to in plain text
    ],
    ids=["not-http", "bad-status", "bad-header", "two-lengths", "tls"],
)
async def test_malformed_response_head_is_reset(wire: bytes) -> None:
    async with _script(wire, then="stall") as server:
        assert await _failure(server.url()) == "reset"


@pytest.mark.parametrize("stream", [False, True], ids=["read", "chunks"])
@pytest.mark.parametrize(
    "body",
    [
        response(200, b"", [("Transfer-Encoding", "chunked")], length=False) + b"zz\r\nhello\r\n",
        response(200, b"", [("Transfer-Encoding", "chunked")], length=False) + b"5\r\nhelloXX",
        response(200, b"not gzip at all", [("Content-Encoding", "gzip")]),
    ],
    ids=["chunk-size", "chunk-crlf", "gzip"],
)
async def test_malformed_body_is_reset(body: bytes, stream: bool) -> None:
    async with _script(body, then="stall") as server:
        assert await _failure(server.url(), stream=stream) == "reset"


async def test_failures_free_their_slot() -> None:
    async with _script(b"garbage\r\n\r\n", then="stall") as server:
        client = UpstreamClient(limit=1)
        for _ in range(3):
            with pytest.raises(UpstreamFailure):
                await post(client, server.url(), timeouts=QUICK)
        assert server.connections == 3
        await client.close()
