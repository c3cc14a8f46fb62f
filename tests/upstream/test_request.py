"""What goes on the wire: exactly one well-formed request, our headers, the body's bytes."""

from __future__ import annotations

import asyncio

import pytest

from sekisho.chat.upstream import UpstreamClient, _target

from .wire import QUICK, Peer, ScriptedServer, post, response

BODY = b'{"model": "m", "messages": [{"role": "user", "content": "caf\xc3\xa9\r\n\r\nPOST /"}]}'


async def test_the_server_sees_exactly_one_well_formed_request() -> None:
    raw: list[bytes] = []

    async def handler(peer: Peer) -> None:
        req = await peer.request()
        assert req is not None
        try:  # nothing follows the body
            raw.append(req.raw + await asyncio.wait_for(peer.reader.read(1), 0.1))
        except TimeoutError:
            raw.append(req.raw)
        await peer.send(response(200, b"ok"))

    async with ScriptedServer(handler) as server:
        client = UpstreamClient()
        resp = await client.send(
            server.url("/v1/chat/completions?api-version=2024-10-01"),
            {"Authorization": "Bearer sk-test", "X-Trace": "abc"},
            BODY,
            QUICK,
        )
        assert (resp.status, await resp.read()) == (200, b"ok")
        resp.close()
        await client.close()

    assert len(server.requests) == 1
    req = server.requests[0][1]
    assert raw == [req.raw]
    assert (req.method, req.target, req.version) == (
        "POST",
        "/v1/chat/completions?api-version=2024-10-01",
        "HTTP/1.1",
    )
    assert req.header("Host") == [f"127.0.0.1:{server.port}"]
    assert req.header("Content-Length") == [str(len(BODY))]
    assert req.header("Authorization") == ["Bearer sk-test"]
    assert req.header("X-Trace") == ["abc"]
    assert req.header("Transfer-Encoding") == []
    assert req.body == BODY
    head = req.raw[: -len(BODY)]
    assert head.endswith(b"\r\n\r\n") and head.count(b"\r\n\r\n") == 1
    assert all(b":" in line for line in head.split(b"\r\n")[1:-2])


async def test_an_empty_body_is_sent_with_length_zero() -> None:
    async def handler(peer: Peer) -> None:
        while await peer.request() is not None:
            await peer.send(response(200, b"ok"))

    async with ScriptedServer(handler) as server:
        client = UpstreamClient()
        assert await post(client, server.url(), b"") == (200, b"ok")
        assert server.requests[0][1].header("Content-Length") == ["0"]
        await client.close()


@pytest.mark.parametrize(
    "url, key, host, target",
    [
        ("http://example.com/v1/chat", ("http", "example.com", 80), "example.com", "/v1/chat"),
        ("https://api.example.com", ("https", "api.example.com", 443), "api.example.com", "/"),
        (
            "HTTPS://api.example.com:443/x?q=1",
            ("https", "api.example.com", 443),
            "api.example.com",
            "/x?q=1",
        ),
        ("http://127.0.0.1:8080/x", ("http", "127.0.0.1", 8080), "127.0.0.1:8080", "/x"),
        ("https://example.com:80/x", ("https", "example.com", 80), "example.com:80", "/x"),
        ("http://[::1]:9000/v1", ("http", "::1", 9000), "[::1]:9000", "/v1"),
    ],
)
def test_target_of_a_url(url: str, key: tuple[str, str, int], host: str, target: str) -> None:
    assert _target(url) == (key, host, target)


@pytest.mark.parametrize("url", ["ftp://example.com/", "/just/a/path", "http:///x"])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        _target(url)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Evil": "a\r\nInjected: yes"},
        {"X-Evil": "a\nb"},
        {"Bad\r\nName": "x"},
        {"Bad:Name": "x"},
    ],
)
async def test_header_injection_is_refused(headers: dict[str, str]) -> None:
    client = UpstreamClient()
    with pytest.raises(ValueError):
        await client.send("http://127.0.0.1:1/", headers, b"", QUICK)
    await client.close()
