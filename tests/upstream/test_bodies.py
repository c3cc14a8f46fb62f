"""Response framing: every way an HTTP/1.1 body can be delimited and encoded."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import itertools
import socket
import zlib

import pytest

from sekisho.chat.upstream import UpstreamClient

from .wire import QUICK, Peer, ScriptedServer, answer_each, chunked, post, response

CHUNKED_HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
# Extensions on a chunk and on the last chunk, and trailers after it.
CHUNKED_BODY = (
    b"5;name=value;flag\r\nhello\r\n"
    b"1\r\n,\r\n"
    b"6\r\n world\r\n"
    b"0;last=yes\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
)


async def test_content_length_body() -> None:
    async with ScriptedServer(answer_each(lambda _: response(200, b"hello"))) as server:
        client = UpstreamClient()
        assert await post(client, server.url()) == (200, b"hello")
        await client.close()


@pytest.mark.parametrize(
    "cuts",
    [
        "every byte",
        [len(CHUNKED_HEAD) - 1, len(CHUNKED_HEAD) + 1, len(CHUNKED_HEAD) + 7],  # in CRLF, size, ext
        [len(CHUNKED_HEAD) + 12, len(CHUNKED_HEAD) + 13],  # between a chunk's data and its CRLF
        [len(CHUNKED_HEAD) + 38, len(CHUNKED_HEAD) + 50],  # inside the last chunk and a trailer
    ],
)
async def test_chunked_body_with_extensions_and_trailers_split_anywhere(
    cuts: str | list[int],
) -> None:
    wire = CHUNKED_HEAD + CHUNKED_BODY
    points = range(1, len(wire)) if cuts == "every byte" else cuts
    bounds = [0, *points, len(wire)]
    parts = [wire[a:b] for a, b in itertools.pairwise(bounds)]

    async def handler(peer: Peer) -> None:
        peer.writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while await peer.request() is not None:
            await peer.send(*parts, pause=0.001 if len(parts) < 20 else 0.0002)

    async with ScriptedServer(handler) as server:
        client = UpstreamClient()
        assert await post(client, server.url()) == (200, b"hello, world")
        # the parser is back at a message boundary after the trailers: the connection serves again
        assert await post(client, server.url()) == (200, b"hello, world")
        assert server.connections == 1
        await client.close()


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",  # neither length nor chunked: the close ends the body
    ],
)
async def test_body_delimited_by_close(head: bytes) -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(head, b"first part, ", b"second part", pause=0.01)
        peer.close()

    async with ScriptedServer(handler) as server:
        client = UpstreamClient()
        assert await post(client, server.url()) == (200, b"first part, second part")
        assert await post(client, server.url()) == (200, b"first part, second part")
        assert server.connections == 2  # a close-delimited connection is never pooled
        await client.close()


async def test_body_delimited_by_close_streams() -> None:
    async def handler(peer: Peer) -> None:
        await peer.request()
        await peer.send(b"HTTP/1.0 200 OK\r\n\r\n", b"a", b"b", pause=0.02)
        peer.close()

    async with ScriptedServer(handler) as server:
        client = UpstreamClient()
        resp = await client.send(server.url(), {}, b"", QUICK)
        assert [c async for c in resp.chunks()] == [b"a", b"b"]
        resp.close()
        await client.close()


@pytest.mark.parametrize(
    "wire",
    [
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n',
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\nContent-Encoding: gzip\r\n\r\n",
    ],
)
async def test_empty_bodies_and_the_connection_serves_again(wire: bytes) -> None:
    async with ScriptedServer(answer_each(lambda _: wire)) as server:
        client = UpstreamClient()
        status = int(wire.split(b" ")[1])
        assert await post(client, server.url()) == (status, b"")
        resp = await client.send(server.url(), {}, b"", QUICK)
        assert [c async for c in resp.chunks()] == []
        resp.close()
        assert server.connections == 1
        await client.close()


async def test_interim_responses_are_skipped() -> None:
    async def handler(peer: Peer) -> None:
        while await peer.request() is not None:
            await peer.send(
                b"HTTP/1.1 100 Continue\r\n\r\n",
                b"HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n",
                response(201, b"made"),
                pause=0.02,
            )

    async with ScriptedServer(handler) as server:
        client = UpstreamClient()
        assert await post(client, server.url()) == (201, b"made")
        assert await post(client, server.url()) == (201, b"made")
        assert server.connections == 1
        await client.close()


def _deflate(data: bytes) -> bytes:
    return zlib.compress(data)


PAYLOAD = b'{"choices": [{"message": {"content": "' + b"compressible " * 2000 + b'"}}]}'


@pytest.mark.parametrize(
    "coding, encode",
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", _deflate),
        ("GZIP", gzip.compress),
    ],
)
@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_compressed_bodies_are_decoded(coding: str, encode: object, framing: str) -> None:
    assert callable(encode)
    packed: bytes = encode(PAYLOAD)
    if framing == "length":
        wire = response(200, packed, [("Content-Encoding", coding)])
    else:
        pieces = [packed[i : i + 97] for i in range(0, len(packed), 97)]
        wire = response(
            200,
            chunked(*pieces),
            [("Content-Encoding", coding), ("Transfer-Encoding", "chunked")],
            length=False,
        )
    async with ScriptedServer(answer_each(lambda _: wire)) as server:
        client = UpstreamClient()
        assert await post(client, server.url()) == (200, PAYLOAD)
        resp = await client.send(server.url(), {}, b"", QUICK)
        assert b"".join([c async for c in resp.chunks()]) == PAYLOAD
        resp.close()
        assert server.connections == 1
        await client.close()


async def test_we_ask_for_compression() -> None:
    async with ScriptedServer(answer_each(lambda _: response(200))) as server:
        client = UpstreamClient()
        await post(client, server.url())
        assert server.requests[0][1].header("Accept-Encoding") == ["gzip, deflate"]
        await client.close()


def _pattern(size: int) -> bytes:
    block = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB, not compressible by accident
    return (block * (size // len(block) + 1))[:size]


@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_large_body_with_backpressure(framing: str) -> None:
    size = 24 * 1024 * 1024  # far more than the kernel buffers on both ends can hold
    body = _pattern(size)
    finished = asyncio.Event()

    async def handler(peer: Peer) -> None:
        await peer.request()
        if framing == "length":
            peer.writer.write(response(200, b"", [("Content-Length", str(size))], length=False))
            pieces = [body[i : i + 1_000_000] for i in range(0, size, 1_000_000)]
        else:
            peer.writer.write(response(200, b"", [("Transfer-Encoding", "chunked")], length=False))
            pieces = [
                b"%x\r\n%s\r\n" % (len(p), p)
                for p in (body[i : i + 1_000_000] for i in range(0, size, 1_000_000))
            ]
            pieces.append(b"0\r\n\r\n")
        for piece in pieces:
            peer.writer.write(piece)
            await peer.writer.drain()
        finished.set()
        await peer.client_gone(5)

    async with ScriptedServer(handler) as server:
        client = UpstreamClient()
        resp = await client.send(server.url(), {}, b"", QUICK)
        chunks = resp.chunks()
        first = await anext(chunks)
        await asyncio.sleep(0.3)  # a slow consumer: the server must be held back, not buffered
        assert not finished.is_set()
        assert resp._conn._buffered < 4 * 1024 * 1024  # the client did not soak it all up
        digest = hashlib.sha256(first)
        received = len(first)
        async for chunk in chunks:
            digest.update(chunk)
            received += len(chunk)
        assert received == size
        assert digest.digest() == hashlib.sha256(body).digest()
        assert finished.is_set()
        resp.close()
        await client.close()


async def test_large_body_read_whole() -> None:
    body = _pattern(6 * 1024 * 1024)
    async with ScriptedServer(answer_each(lambda _: response(200, body))) as server:
        client = UpstreamClient()
        assert await post(client, server.url()) == (200, body)
        await client.close()
