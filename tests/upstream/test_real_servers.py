"""Against a real HTTP server (aiohttp.web): compression, chunked streaming, keep-alive."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from sekisho.chat.upstream import UpstreamClient

from .wire import QUICK, post

BIG = b'{"content": "' + b"token " * 50_000 + b'"}'


@pytest.fixture
def app() -> web.Application:
    peers: set[object] = set()

    async def completions(request: web.Request) -> web.StreamResponse:
        peers.add(request.transport)
        body = await request.read()
        if body == b"stream":
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            resp.enable_compression(web.ContentCoding.gzip)
            await resp.prepare(request)
            for i in range(5):
                await resp.write(b"data: %d\n\n" % i)
                await asyncio.sleep(0.005)
            await resp.write_eof()
            return resp
        resp = web.Response(body=BIG if body == b"big" else body)
        resp.enable_compression(web.ContentCoding.deflate if body == b"big" else None)
        return resp

    async def connections(_: web.Request) -> web.Response:
        return web.Response(text=str(len(peers)))

    application = web.Application()
    application.router.add_post("/v1/chat/completions", completions)
    application.router.add_post("/connections", connections)
    return application


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


async def test_aiohttp_server(app: web.Application) -> None:
    runner, base = await _serve(app)
    try:
        client = UpstreamClient()
        url = base + "/v1/chat/completions"
        assert await post(client, url, b"hello") == (200, b"hello")
        assert await post(client, url, b"big") == (200, BIG)
        resp = await client.send(url, {}, b"stream", QUICK)
        got = b"".join([c async for c in resp.chunks()])
        resp.close()
        assert got == b"".join(b"data: %d\n\n" % i for i in range(5))
        assert await post(client, base + "/connections") == (200, b"1")
        await client.close()
    finally:
        await runner.cleanup()


async def test_aiohttp_server_under_concurrency(app: web.Application) -> None:
    runner, base = await _serve(app)
    try:
        client = UpstreamClient(limit=4)
        url = base + "/v1/chat/completions"

        async def sequence(i: int) -> list[tuple[int, bytes]]:
            return [await post(client, url, b"%d-%d" % (i, j)) for j in range(5)]

        results = await asyncio.gather(*(sequence(i) for i in range(16)))
        assert results == [[(200, b"%d-%d" % (i, j)) for j in range(5)] for i in range(16)]
        status, count = await post(client, base + "/connections")
        assert status == 200 and int(count) <= 4
        await client.close()
    finally:
        await runner.cleanup()
