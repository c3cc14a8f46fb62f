"""Scripted HTTP/1.1 servers on 127.0.0.1: raw sockets whose every byte a test chooses."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import TracebackType

from sekisho.chat.upstream import AttemptTimeouts, UpstreamClient

QUICK = AttemptTimeouts(connect_s=1.0, first_byte_s=1.0, read_s=1.0)


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes  # the whole request exactly as it arrived

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


class Peer:
    """One accepted connection, as the server sees it."""

    def __init__(
        self,
        server: ScriptedServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        index: int,
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.index = index  # 0 for the first connection the server accepted
        self.done = asyncio.Event()  # the handler has returned (a request loop: the client left)

    async def request(self) -> Request | None:
        """The next whole request, or None once the client has closed the connection."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        lines = head[:-4].decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
        headers = [(k, v.strip()) for k, _, v in (line.partition(":") for line in lines[1:])]
        lengths = [v for k, v in headers if k.lower() == "content-length"]
        body = await self.reader.readexactly(int(lengths[0])) if lengths else b""
        req = Request(method, target, version, headers, body, head + body)
        self.server.requests.append((self.index, req))
        return req

    async def send(self, *parts: bytes, pause: float = 0.0) -> None:
        """Write each part in its own TCP write, `pause` seconds apart."""
        for i, part in enumerate(parts):
            self.writer.write(part)
            await self.writer.drain()
            if pause and i < len(parts) - 1:
                await asyncio.sleep(pause)

    def close(self) -> None:
        self.writer.close()

    def reset(self) -> None:
        """Close with a TCP RST instead of a FIN."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def client_gone(self, within: float = 1.0) -> bool:
        """Whether the client closes (FIN or RST) this connection within `within` seconds."""
        try:
            async with asyncio.timeout(within):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            pass
        return True


Handler = Callable[[Peer], Awaitable[None]]


class ScriptedServer:
    """A TCP (or TLS) server on 127.0.0.1:0 that hands each connection to `handler`."""

    def __init__(self, handler: Handler, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._handler = handler
        self._ssl = ssl_context
        self._server: asyncio.Server | None = None
        self.peers: list[Peer] = []
        self.requests: list[tuple[int, Request]] = []  # (connection index, request)
        self.port = 0

    @property
    def connections(self) -> int:
        return len(self.peers)

    def url(self, path: str = "/v1/chat/completions", host: str = "127.0.0.1") -> str:
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = Peer(self, reader, writer, len(self.peers))
        self.peers.append(peer)
        try:
            await self._handler(peer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            peer.done.set()
            writer.close()

    async def __aenter__(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self._ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for peer in self.peers:
            peer.writer.transport.abort()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1):
                await self._server.wait_closed()


def response(
    status: int = 200,
    body: bytes = b"",
    headers: Iterable[tuple[str, str]] = (),
    *,
    reason: str = "OK",
    version: str = "HTTP/1.1",
    length: bool = True,
) -> bytes:
    """A response head (and body); Content-Length is added unless `length` is False."""
    lines = [f"{version} {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in headers]
    if length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def chunked(*chunks: bytes) -> bytes:
    """A chunked body, terminated, without extensions or trailers."""
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"


def answer_each(respond: Callable[[Request], bytes]) -> Handler:
    """A keep-alive handler: `respond` to every request on the connection until it closes."""

    async def handler(peer: Peer) -> None:
        while (req := await peer.request()) is not None:
            await peer.send(respond(req))

    return handler


async def post(
    client: UpstreamClient, url: str, body: bytes = b"{}", timeouts: AttemptTimeouts = QUICK
) -> tuple[int, bytes]:
    """One whole exchange: send, read the body, give the connection back."""
    resp = await client.send(url, {"Content-Type": "application/json"}, body, timeouts)
    try:
        return resp.status, await resp.read()
    finally:
        resp.close()


def refused_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
