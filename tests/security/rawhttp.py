"""A raw HTTP/1.1 client for hostile input: sends while it reads, so early answers are seen.

Ordinary clients (httpx, the SDKs) refuse to send what an attacker sends (a
megabyte header, a lone surrogate in a header, a body that never ends, a
byte a second) or stop reading when the server answers before the upload is
done. This one writes bytes as told and reads the response at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import orjson


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_s: float

    def json(self) -> object:
        return orjson.loads(self.body)


class NoResponse(Exception):
    """The server closed the connection (or stayed silent) without an HTTP response."""


Chunks = Iterable[bytes] | AsyncIterator[bytes]


async def _send(writer: asyncio.StreamWriter, chunks: Chunks) -> None:
    try:
        if isinstance(chunks, AsyncIterator):
            async for chunk in chunks:
                writer.write(chunk)
                await writer.drain()
        else:
            for chunk in chunks:
                writer.write(chunk)
                await writer.drain()
    except (ConnectionError, OSError):
        pass  # the server stopped reading: expected once it has answered


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    else:
        body = await reader.read()
    return status, headers, body


async def exchange(
    port: int, chunks: Chunks, *, timeout_s: float = 10.0, keep_sending: bool = False
) -> RawResponse:
    """Send `chunks` to 127.0.0.1:port while reading; the first response, or `NoResponse`.

    With `keep_sending` the client goes on sending after the answer, as an attacker
    would, until its chunks run out or the server closes the connection.
    """
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sender = asyncio.create_task(_send(writer, chunks))
    try:
        async with asyncio.timeout(timeout_s):
            status, headers, body = await read_response(reader)
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise NoResponse(f"connection closed without a response: {exc!r}") from exc
    except TimeoutError as exc:
        raise NoResponse(f"no response within {timeout_s} s") from exc
    finally:
        if keep_sending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(sender), timeout_s)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    return RawResponse(status, headers, body, time.monotonic() - started)


async def closed_within(port: int, first: bytes, seconds: float) -> float:
    """Send `first`, then nothing: how long until the server closes the connection."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(first)
    await writer.drain()
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(65536):
                pass
    finally:
        writer.close()
    return time.monotonic() - started


def request_head(
    method: str,
    path: str,
    headers: Iterable[tuple[str, str]] = (),
    *,
    body_length: int | None = None,
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers]
    if body_length is None:
        lines.append("transfer-encoding: chunked")
    else:
        lines.append(f"content-length: {body_length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")


def request(
    method: str, path: str, body: bytes = b"", headers: Iterable[tuple[str, str]] = ()
) -> bytes:
    return request_head(method, path, headers, body_length=len(body)) + body


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def trickle(data: bytes, every_s: float) -> AsyncIterator[bytes]:
    """`data` one byte at a time, `every_s` apart (a slow-loris client)."""
    for i in range(len(data)):
        yield data[i : i + 1]
        await asyncio.sleep(every_s)


async def endless_chunks(
    head: bytes, size: int = 16384, every_s: float = 0.0
) -> AsyncIterator[bytes]:
    """`head`, then chunked-body chunks for ever (bounded only by the caller's timeout)."""
    yield head
    block = chunk(b"x" * size)
    while True:
        yield block
        await asyncio.sleep(every_s)
