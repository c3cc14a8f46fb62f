"""A hostile-input corpus against every route family: every answer a clean envelope, nothing held.

Bodies (deep nesting, huge numbers, invalid UTF-8, lone surrogates, oversize),
headers (huge, many, long URL, invalid bytes) and time (slow headers, slow
body, never-ending chunked bodies, silent connections) — each against every
family in `conftest.FAMILIES`. The server's limits are small (conftest.LIMITS)
so the whole module stays fast; the answers are bounded in time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from tests.security.conftest import FAMILIES, LIMITS, Edge, Family, rss_bytes
from tests.security.envelope import assert_clean_error
from tests.security.rawhttp import (
    RawResponse,
    closed_within,
    endless_chunks,
    exchange,
    read_response,
    request,
    request_head,
    trickle,
)

OK_MESSAGES = b'"messages":[{"role":"user","content":"hi"}]'

BODIES: dict[str, bytes] = {
    "deep-array": b"[" * 20_000 + b"]" * 20_000,
    "deep-object": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "deep-in-field": b'{"model":"chat-large",'
    + OK_MESSAGES
    + b',"metadata":'
    + b"[" * 5000
    + b"]" * 5000
    + b"}",
    "huge-integer": b'{"model":"chat-large",'
    + OK_MESSAGES
    + b',"max_tokens":'
    + b"9" * 50_000
    + b"}",
    "huge-float": b'{"model":"chat-large",' + OK_MESSAGES + b',"temperature":1e999999}',
    "overflow-in-admin-field": b'{"title":"x","severity":"sev2","aliases":["chat-large"],"eta_minutes":1e400}',
    "invalid-utf8": b'{"model":"chat-large\xff\xfe",' + OK_MESSAGES + b"}",
    "overlong-utf8": b'{"model":"\xc0\xaf",' + OK_MESSAGES + b"}",
    "lone-high-surrogate": b'{"model":"chat-large","messages":[{"role":"user","content":"\\ud800"}]}',
    "lone-low-surrogate": b'{"title":"\\udc00x","severity":"sev2","aliases":["chat-large"]}',
    "nul-in-value": b'{"title":"a\\u0000b","severity":"sev2","aliases":["chat-large"],"model":"a\\u0000"}',
    "not-json": b"\x00\x01\x02 not json at all",
    "oversize-control": b'{"pad":"' + b"x" * (LIMITS["control_max_body_bytes"] + 10) + b'"}',
    "oversize-data": b'{"pad":"' + b"x" * (LIMITS["max_body_bytes"] + 10) + b'"}',
}
CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded")


def _limit(family: Family) -> int:
    data = family.path.startswith(("/v1/", "/chat"))
    return int(LIMITS["max_body_bytes"] if data else LIMITS["control_max_body_bytes"])


def _run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def _all(edge: Edge, requests: dict[str, bytes]) -> dict[str, RawResponse | BaseException]:
    """Every request at once, each on its own connection; answers (or errors) by name."""

    async def one(raw: bytes) -> RawResponse | BaseException:
        try:
            return await exchange(edge.port, [raw])
        except Exception as exc:
            return exc

    names = sorted(requests)
    answers = await asyncio.gather(*(one(requests[n]) for n in names))
    return dict(zip(names, answers, strict=True))


def _check_all(answers: dict[str, RawResponse | BaseException], family: Family, status_of) -> None:  # type: ignore[no-untyped-def]
    failures = {}
    for name, resp in answers.items():
        try:
            assert isinstance(resp, RawResponse), resp
            assert_clean_error(resp, family.envelope, status_of(name))
        except AssertionError as exc:
            failures[name] = str(exc)[:300]
    assert not failures, failures


@pytest.mark.parametrize("ctype", CONTENT_TYPES)
@pytest.mark.parametrize("family", FAMILIES, ids=[f.name for f in FAMILIES])
def test_hostile_bodies(edge: Edge, family: Family, ctype: str) -> None:
    headers = [*edge.auth_headers(family), ("content-type", ctype), ("cookie", "sekisho_session=x")]
    requests = {n: request(family.method, family.path, b, headers) for n, b in BODIES.items()}
    answers = _run(_all(edge, requests))
    _check_all(answers, family, lambda n: 413 if len(BODIES[n]) > _limit(family) else None)


@pytest.mark.parametrize("family", FAMILIES, ids=[f.name for f in FAMILIES])
def test_oversize_chunked_body_is_cut_while_streaming(edge: Edge, family: Family) -> None:
    """A body without Content-Length is counted as it streams: 413 long before it ends."""
    head = request_head(
        family.method,
        family.path,
        [*edge.auth_headers(family), ("content-type", "application/json")],
    )
    resp = _run(exchange(edge.port, endless_chunks(head), timeout_s=10))
    code = assert_clean_error(resp, family.envelope)
    if family.auth != "none" and family.name != "v1-unknown" and family.name != "v1-messages":
        assert resp.status == 413, code


def _header_cases() -> dict[str, tuple[list[tuple[str, str]], str, int]]:
    big = LIMITS["max_header_bytes"]
    return {
        "one-huge-header": ([("x-pad", "a" * (big * 2))], "", 431),
        "many-headers": (
            [(f"x-h{i}", "v") for i in range(LIMITS["max_header_count"] + 5)],
            "",
            431,
        ),
        "huge-cookie": ([("cookie", "s=" + "c" * (big * 3))], "", 431),
        "huge-url": ([], "?q=" + "u" * (big * 2), 431),
        "surrogate-bytes-in-header": ([("authorization", "Bearer \udced\udca0\udc80")], "", 0),
    }


@pytest.mark.parametrize("family", FAMILIES, ids=[f.name for f in FAMILIES])
def test_hostile_headers(edge: Edge, family: Family) -> None:
    cases = _header_cases()
    requests = {
        name: request(
            family.method,
            family.path + query,
            b"{}",
            [*headers, ("content-type", "application/json")],
        )
        for name, (headers, query, _) in cases.items()
    }
    answers = _run(_all(edge, requests))
    _check_all(answers, family, lambda n: cases[n][2] or None)


@pytest.mark.parametrize(
    "raw",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nhost: x\r\nbad header\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-nul: a\x00b\r\n\r\n",
        b"GET /v1/\xff\xfe HTTP/1.1\r\nhost: x\r\n\r\n",
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ncontent-length: 7\r\n\r\nhello",
        b"POST /admin/v1/incidents HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
    ],
    ids=[
        "garbage",
        "header-without-colon",
        "nul-in-header",
        "non-ascii-path",
        "two-lengths",
        "bad-chunk",
    ],
)
def test_malformed_http_is_a_400_envelope(edge: Edge, raw: bytes) -> None:
    resp = _run(exchange(edge.port, [raw]))
    assert_clean_error(resp, "ours", 400)


async def _slow_cases(edge: Edge) -> list[tuple[str, Family, RawResponse | BaseException]]:
    async def one(kind: str, family: Family) -> tuple[str, Family, RawResponse | BaseException]:
        auth = [*edge.auth_headers(family), ("content-type", "application/json")]
        if kind == "slow-headers":
            head = request(family.method, family.path, b"{}", auth)
            chunks = trickle(head, 0.25)
        elif kind == "slow-body":
            body = b'{"model":"chat-large",' + OK_MESSAGES + b"}"
            chunks = _then(
                request_head(family.method, family.path, auth, body_length=len(body)),
                trickle(body, 0.25),
            )
        else:  # slow, never-ending chunked body
            head = request_head(family.method, family.path, auth)
            chunks = endless_chunks(head, size=8, every_s=0.2)
        try:
            return kind, family, await exchange(edge.port, chunks, timeout_s=8)
        except Exception as exc:
            return kind, family, exc

    kinds = ("slow-headers", "slow-body", "slow-endless-chunked")
    return await asyncio.gather(*(one(k, f) for k in kinds for f in FAMILIES))


async def _then(first: bytes, rest):  # type: ignore[no-untyped-def]
    yield first
    async for part in rest:
        yield part


def test_slow_clients_are_cut_with_408(edge: Edge) -> None:
    """Slow-loris on headers and bodies, every family at once: each answered within its timeout."""
    started = time.monotonic()
    results = asyncio.run(_slow_cases(edge))
    assert time.monotonic() - started < 12
    for kind, family, resp in results:
        assert isinstance(resp, RawResponse), (kind, family.name, resp)
        # A request line still arriving has no path yet, so no API to choose the envelope by.
        assert_clean_error(resp, "any" if kind == "slow-headers" else family.envelope)
        if kind == "slow-headers":
            assert resp.status == 408, (kind, family.name, resp.body)
            assert resp.elapsed_s < LIMITS["header_timeout_s"] + 4, (kind, family.name)
        else:
            # Either refused before the body mattered (401/404/405) or cut at the body timeout.
            assert resp.elapsed_s < LIMITS["body_timeout_s"] + 4, (kind, family.name)
            if family.name in ("v1-chat", "admin", "admin-anon", "admin-session"):
                assert resp.status == 408, (kind, family.name, resp.body)


def test_bare_line_breaks_do_not_hold_a_connection(edge: Edge) -> None:
    """CRLFs before a request line start no request but still count as slow headers."""

    async def crlfs() -> AsyncIterator[bytes]:
        while True:
            yield b"\r\n"
            await asyncio.sleep(0.2)

    resp = asyncio.run(exchange(edge.port, crlfs(), timeout_s=8))
    assert resp.status == 408
    assert resp.elapsed_s < LIMITS["header_timeout_s"] + 4


def test_silent_and_idle_connections_are_closed(edge: Edge) -> None:
    async def both() -> tuple[float, float]:
        silent = await closed_within(edge.port, b"", 8)
        idle = await closed_within(edge.port, request("GET", "/healthz"), 8)
        return silent, idle

    silent, idle = asyncio.run(both())
    assert silent < LIMITS["keep_alive_timeout_s"] + 4
    assert idle < LIMITS["keep_alive_timeout_s"] + 4


def test_keep_alive_and_pipelining_still_work(edge: Edge) -> None:
    """The limits do not break ordinary HTTP/1.1: two pipelined requests, two answers."""

    async def pipelined() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
        writer.write(request("GET", "/healthz") + request("POST", "/healthz", b"{}"))
        await writer.drain()
        data = b""
        async with asyncio.timeout(10):
            while data.count(b"HTTP/1.1 ") < 2 or not data.endswith(b"}"):
                data += await reader.read(65536)
        writer.close()
        return data

    data = asyncio.run(pipelined())
    assert data.startswith(b"HTTP/1.1 200 ")
    assert b"HTTP/1.1 405 " in data


def test_an_answer_before_the_body_ends_says_connection_close(edge: Edge) -> None:
    """A refusal sent while the body is still coming closes the connection, and says so first.

    A keep-alive client that was not told would reuse a connection the server is
    about to close, and its next request would fail with no response at all.
    """
    head = request_head(
        "POST",
        "/v1/chat/completions",
        [("authorization", "Bearer sk-not-a-key"), ("content-type", "application/json")],
        body_length=200_000,
    )

    async def early() -> tuple[RawResponse, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
        writer.write(head + b'{"model":"chat-large",')
        await writer.drain()
        async with asyncio.timeout(10):
            status, headers, body = await read_response(reader)
            # the rest of the body is still read and dropped, then the server closes
            writer.write(b" " * 1000)
            await writer.drain()
            tail = await reader.read()
        writer.close()
        return RawResponse(status, headers, body, 0.0), tail

    refused, tail = asyncio.run(early())
    assert refused.status == 401
    assert refused.headers.get("connection") == "close"
    assert tail == b""

    async def whole() -> tuple[dict[str, str], dict[str, str]]:
        reader, writer = await asyncio.open_connection("127.0.0.1", edge.port)
        body = b'{"model":"chat-large",' + OK_MESSAGES + b"}"
        unauthorised = request(
            "POST", "/v1/chat/completions", body, [("authorization", "Bearer sk-not-a-key")]
        )
        async with asyncio.timeout(10):
            writer.write(unauthorised)
            await writer.drain()
            _, first, _ = await read_response(reader)
            writer.write(request("GET", "/healthz"))  # the same connection serves again
            await writer.drain()
            _, second, _ = await read_response(reader)
        writer.close()
        return first, second

    first, second = asyncio.run(whole())
    assert "connection" not in first
    assert "connection" not in second


def test_gateway_still_serves_after_the_corpus(edge: Edge) -> None:
    with httpx.Client(timeout=10) as http:
        assert http.get(f"{edge.gw.url}/healthz").json() == {"status": "ok"}
        resp = http.post(
            f"{edge.gw.url}/v1/chat/completions",
            headers={"authorization": f"Bearer {edge.key}"},
            content=orjson.dumps(
                {"model": "chat-large", "messages": [{"role": "user", "content": "hi"}]}
            ),
        )
    assert resp.status_code == 200, resp.text
    # The server runs in this process: after the whole corpus its memory has not run away.
    assert rss_bytes() - edge.rss_at_start < 100 * 1024 * 1024


@pytest.fixture(scope="module")
def crowded(simulator, tmp_path_factory):  # type: ignore[no-untyped-def]
    from tests.support.databases import sqlite_url
    from tests.support.gateway import gateway_settings, migrated, start_gateway

    state = tmp_path_factory.mktemp("crowded")
    settings = gateway_settings(
        simulator.url,
        state,
        sqlite_url(state),
        limits={"max_connections": 2, "control_max_body_bytes": 1024},
    )
    db = migrated(settings.database_url)
    gw = start_gateway(settings, db)
    yield int(gw.url.rsplit(":", 1)[1])
    gw.stop()
    db.dispose()


def test_connections_past_the_limit_get_503_in_the_envelope(crowded: int) -> None:
    async def scenario() -> tuple[RawResponse, RawResponse]:
        held = [await asyncio.open_connection("127.0.0.1", crowded) for _ in range(2)]
        refused = await exchange(crowded, [request("GET", "/healthz")])
        for _, writer in held:
            writer.close()
            await writer.wait_closed()
        deadline = time.monotonic() + 10
        while True:  # the server notices the closes asynchronously
            again = await exchange(crowded, [request("GET", "/healthz")])
            if again.status == 200 or time.monotonic() > deadline:
                return refused, again
            await asyncio.sleep(0.05)

    refused, again = asyncio.run(scenario())
    assert refused.status == 503
    assert refused.json()["error"]["code"] == "service_unavailable"
    assert refused.headers["retry-after"] == "1"
    assert again.status == 200


def test_request_pipelined_behind_a_refused_one_is_not_served(crowded: int) -> None:
    size = 1024 + 1  # small enough that both requests arrive in one read
    too_big = request("POST", "/admin/v1/incidents", b"x" * size)  # whole, then the next request
    follow = request("GET", "/healthz")

    async def scenario() -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", crowded)
        writer.write(too_big + follow)
        await writer.drain()
        data = b""
        async with asyncio.timeout(10):
            while chunk_ := await reader.read(65536):
                data += chunk_
        writer.close()
        return data

    data = asyncio.run(scenario())
    assert data.startswith(b"HTTP/1.1 413 ")
    assert data.count(b"HTTP/1.1 ") == 1
