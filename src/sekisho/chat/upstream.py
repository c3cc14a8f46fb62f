"""The one pooled HTTP client to providers: a lean keep-alive HTTP/1.1 client.

Passed into the chat core through its constructor so tests and benchmarks
talk to real local servers. Nothing upstream sends is passed to a customer
except through an adapter's allow-list; no upstream header is passed at all
(every header a provider sends describes the provider: its name, its
organisation, its rate-limit tiers, its request ids).

Why not a general HTTP client library: the gateway sends one kind of request
(a POST with a body it already holds as bytes) and reads one response. Under
load, aiohttp's general machinery (request and response objects, header
multidicts, cookie jar, a task per `wait_for`) was a quarter of the CPU of a
whole chat request (docs/benchmarks.md). This client writes the request in one
`write`, parses the response with httptools (the parser uvicorn uses) straight
into a queue of body chunks, and keeps connections alive per host. It speaks
HTTP/1.1 over TCP or TLS, decodes chunked and gzip/deflate bodies, and maps
every failure onto `UpstreamFailure` kinds: `connect_error`, `timeout`, `reset`.

How each origin is reached comes from an injected egress policy
(`chat/egress.py`): directly, or through an HTTP proxy with a CONNECT tunnel
(TLS to the provider then runs inside the tunnel, end to end), with the
origin's own TLS context (private CA, client certificate) and SNI name.
IPv6 literals (`https://[2001:db8::1]/v1`) connect as such.

A server may close an idle keep-alive connection just as we write a request on
it. If its FIN reached us first, the pool never hands that connection out. If
the close crosses our write, the server never read the request: we see EOF or
RST before any response byte. Only then, and only on a reused connection, the
request is sent once more on a fresh connection within the same first-byte
deadline; a failure on a new connection, after any response byte, or by timeout
is never retried here (failover decides what happens next).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import lru_cache

import httptools

from sekisho.chat.egress import DIRECT, Egress, Proxy

PASSED_UPSTREAM_HEADERS: frozenset[str] = frozenset()

_HIGH_WATER = 256 * 1024  # pause reading an upstream whose body the client is slow to take
_LOW_WATER = 64 * 1024
_Key = tuple[str, str, int]  # scheme, host, port


class UpstreamFailure(Exception):
    """The upstream could not be reached or broke off: kind is connect_error, timeout or reset."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True, slots=True)
class AttemptTimeouts:
    connect_s: float
    first_byte_s: float  # until response headers
    read_s: float  # between chunks once streaming / body read


class _ConnectFailed(Exception):
    pass


_MAX_PROXY_HEAD = 16 * 1024


class _TunnelOpener(asyncio.Protocol):
    """Reads a proxy's answer to CONNECT; the connection is handed over once it is 200."""

    def __init__(self) -> None:
        self.head: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if b"\r\n\r\n" in self._buffer and not self.head.done():
            self.head.set_result(self._buffer)
        elif len(self._buffer) > _MAX_PROXY_HEAD and not self.head.done():
            self.head.set_exception(ConnectionError("oversized answer from the proxy"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.head.done():
            self.head.set_exception(exc or ConnectionResetError("the proxy closed the connection"))


async def _open_tunnel(proxy: Proxy, host: str, port: int) -> asyncio.Transport:
    """A TCP connection to host:port through `proxy` (HTTP CONNECT); OSError if refused."""
    loop = asyncio.get_running_loop()
    transport, opener = await loop.create_connection(_TunnelOpener, proxy.host, proxy.port)
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if proxy.authorization:
        lines.append(f"Proxy-Authorization: {proxy.authorization}")
    transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    try:
        head = await opener.head
    except BaseException:
        transport.abort()
        raise
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or parts[1] != "200" or not head.endswith(b"\r\n\r\n"):
        transport.abort()
        raise ConnectionRefusedError(f"proxy {proxy} refused CONNECT {authority}: {status_line}")
    return transport  # type: ignore[return-value]


@lru_cache(maxsize=1024)
def _target(url: str) -> tuple[_Key, str, str]:
    """(scheme, host, port), the Host header and the request target of an upstream URL."""
    try:
        parts = httptools.parse_url(url.encode())
    except httptools.HttpParserInvalidURLError as exc:
        raise ValueError(f"unsupported upstream URL: {url!r}") from exc
    scheme = (parts.schema or b"").decode().lower()
    host = (parts.host or b"").decode()
    if scheme not in ("http", "https") or not host:
        raise ValueError(f"unsupported upstream URL: {url!r}")
    default = 443 if scheme == "https" else 80
    port = parts.port or default
    host_header = f"[{host}]" if ":" in host else host
    if port != default:
        host_header += f":{port}"
    path = (parts.path or b"/").decode()
    if parts.query:
        path += "?" + parts.query.decode()
    return (scheme, host, port), host_header, path


def _request_head(path: str, host: str, headers: dict[str, str], length: int) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        f"Content-Length: {length}",
        "Accept-Encoding: gzip, deflate",
    ]
    for name, value in headers.items():
        if "\n" in value or "\r" in value or "\n" in name or "\r" in name or ":" in name:
            raise ValueError(f"invalid characters in upstream header {name!r}")
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode()


class _Connection(asyncio.Protocol):
    """One keep-alive connection; the response being read lands in `_chunks`."""

    def __init__(self, key: _Key, client: UpstreamClient) -> None:
        self.key = key
        self._client = client
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False  # has served a response before: a crossed close is possible
        self.idle_since = 0.0
        self._counted = False  # counts against the client's connection limit once connected
        self._new_message()

    def _new_message(self) -> None:
        self.status = 0
        self.retry_after: str | None = None  # the one upstream header the core reads
        self.headers_done: asyncio.Future[None] | None = None
        self.complete = False
        self.keep_alive = False
        self.answered = False  # some response byte has arrived
        self._interim = False  # inside a 1xx response; the real one follows
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._delimited = False  # Content-Length or chunked; else the body ends at close
        self._decoder: zlib._Decompress | None = None

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.headers_done is None:  # no request in flight: a stray response (a 408 before
            self.abort()  # an idle close) must never be read as the next request's answer
            return
        self.answered = True
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, zlib.error) as exc:
            self._fail(ConnectionResetError(f"malformed upstream response: {exc}"))
            self.abort()

    def eof_received(self) -> bool | None:
        self.closed = True  # never handed out again, even before connection_lost runs
        return None  # close the transport; connection_lost decides what the end means

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._client._lost(self)
        if self.complete:
            return
        headers_seen = self.headers_done is not None and self.headers_done.done()
        if headers_seen and not self._delimited and self._error is None and exc is None:
            self.on_message_complete()  # a body delimited by the close itself
        else:
            self._fail(exc or ConnectionResetError("upstream closed the connection"))

    # -- httptools callbacks
    def on_message_begin(self) -> None:
        if self.complete:  # a second response to one request: the stream is out of step
            raise ConnectionResetError("unexpected bytes after the upstream response")

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"retry-after":
            self.retry_after = value.decode("latin-1")[:64]
        elif name == b"content-length" or (
            name == b"transfer-encoding" and b"chunked" in value.lower()
        ):
            self._delimited = True
        elif name == b"content-encoding" and value.strip().lower() in (
            b"gzip",
            b"x-gzip",
            b"deflate",
        ):
            self._decoder = zlib.decompressobj(wbits=47)  # zlib or gzip header, detected

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:  # 100 Continue, 103 Early Hints: the real response follows
            self._interim = True
            return
        self.status = status
        if self.headers_done is not None and not self.headers_done.done():
            self.headers_done.set_result(None)

    def on_body(self, body: bytes) -> None:
        if self._decoder is not None:
            body = self._decoder.decompress(body)
        if body:
            self._chunks.append(body)
            self._buffered += len(body)
            if self._buffered > _HIGH_WATER and not self._paused and self.transport is not None:
                self._paused = True
                self.transport.pause_reading()
            self._wake()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = self._delimited = False
            self._decoder = None
            return
        if self._decoder is not None:
            tail = self._decoder.flush()
            if tail:
                self._chunks.append(tail)
                self._buffered += len(tail)
        self.keep_alive = self._parser.should_keep_alive()
        self.complete = True
        self._wake()

    # -- used by the client and the response
    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        if self.headers_done is not None and not self.headers_done.done():
            self.headers_done.set_exception(exc)
            self.headers_done.exception()  # retrieved: the waiter re-raises it itself
        self._wake()

    async def request(self, data: bytes) -> None:
        """Write a whole request and wait for the response headers; on failure, abort."""
        try:
            if self.closed or self.transport is None:
                raise ConnectionResetError("upstream closed the connection")
            self.headers_done = asyncio.get_running_loop().create_future()
            self.transport.write(data)
            await self.headers_done
        except BaseException:
            self.abort()
            raise

    def ready(self) -> bool:
        """The response is complete or has data or an error: `next_chunk` will not wait."""
        return bool(self._chunks) or self.complete or self._error is not None

    async def next_chunk(self) -> bytes:
        """The next piece of the body; b"" at its end; raises if the connection broke."""
        while True:
            if self._chunks:
                data = self._chunks.popleft()
                self._buffered -= len(data)
                if self._paused and self._buffered < _LOW_WATER and self.transport is not None:
                    self._paused = False
                    self.transport.resume_reading()
                return data
            if self.complete:
                return b""
            if self._error is not None:
                raise self._error
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self._chunks and not self.closed

    def abort(self) -> None:
        """Drop the connection now; a reader waiting for the body gets a reset."""
        if not self.complete:
            self._fail(ConnectionResetError("connection closed by the gateway"))
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class UpstreamResponse:
    def __init__(
        self, conn: _Connection, timeouts: AttemptTimeouts, client: UpstreamClient
    ) -> None:
        self._conn = conn
        self._timeouts = timeouts
        self._client = client
        self._closed = False
        self.status = conn.status
        self.retry_after = conn.retry_after

    async def read(self) -> bytes:
        conn = self._conn
        parts: list[bytes] = []
        try:
            if conn.complete:  # the usual case for a small body: no timer needed
                while chunk := await conn.next_chunk():
                    parts.append(chunk)
            else:
                async with asyncio.timeout(self._timeouts.read_s):
                    while chunk := await conn.next_chunk():
                        parts.append(chunk)
        except TimeoutError as exc:
            raise UpstreamFailure("timeout", "timed out reading the upstream body") from exc
        except (OSError, zlib.error) as exc:
            raise UpstreamFailure("reset", f"upstream body broke off: {exc!r}") from exc
        return b"".join(parts)

    async def chunks(self) -> AsyncIterator[bytes]:
        """Raw body bytes as they arrive; raises UpstreamFailure on a cut or a stall."""
        conn = self._conn
        read_s = self._timeouts.read_s
        while True:
            try:
                if conn.ready():
                    data = await conn.next_chunk()
                else:
                    async with asyncio.timeout(read_s):
                        data = await conn.next_chunk()
            except TimeoutError as exc:
                raise UpstreamFailure("timeout", "upstream stream stalled") from exc
            except (OSError, zlib.error) as exc:
                raise UpstreamFailure("reset", f"upstream stream broke off: {exc!r}") from exc
            if not data:
                return
            yield data

    def close(self) -> None:
        """Done with the response: a fully read one returns its connection to the pool."""
        if self._closed:
            return
        self._closed = True
        if self._conn.reusable():
            self._client._release(self._conn)
        else:
            self._conn.abort()

    def __del__(self) -> None:
        if not self._closed and self._conn.transport is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                self._conn.transport.abort()


class UpstreamClient:
    """A pooled keep-alive client; one per process."""

    def __init__(
        self,
        *,
        limit: int = 1000,
        limit_per_host: int = 0,
        keepalive_s: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
        egress: Callable[[_Key], Egress] | None = None,
    ) -> None:
        self.egress = egress  # origin -> proxy/TLS/SNI (chat/egress.py); None: direct
        self._limit = limit  # open connections in all; further requests wait for one
        self._keepalive_s = keepalive_s
        self._ssl = ssl_context
        self._idle: dict[_Key, list[_Connection]] = {}
        self._open = 0  # connections counted against the limit, idle or in use
        self._conns: set[_Connection] = set()  # those same connections, for close()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._last_sweep = time.monotonic()

    def set_egress(self, egress: Callable[[_Key], Egress] | None) -> None:
        """New egress rules (a matrix reload); idle connections made under the old ones close."""
        self.egress = egress
        idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.abort()

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    async def send(
        self, url: str, headers: dict[str, str], body: bytes, timeouts: AttemptTimeouts
    ) -> UpstreamResponse:
        """POST and wait for the response headers."""
        key, host, path = _target(url)
        data = _request_head(path, host, headers, len(body)) + body
        try:
            async with asyncio.timeout(timeouts.first_byte_s):
                conn = await self._acquire(key, timeouts.connect_s)
                try:
                    await conn.request(data)
                except OSError:
                    if not conn.reused or conn.answered:
                        raise
                    # closed by the server as our request crossed it (module docstring)
                    conn = await self._acquire(key, timeouts.connect_s, fresh=True)
                    await conn.request(data)
        except TimeoutError as exc:
            raise UpstreamFailure(
                "timeout", f"no response within {timeouts.first_byte_s:g}s"
            ) from exc
        except _ConnectFailed as exc:
            raise UpstreamFailure("connect_error", f"cannot connect: {exc.__cause__!r}") from exc
        except (OSError, httptools.HttpParserError) as exc:
            raise UpstreamFailure("reset", f"connection failed: {exc!r}") from exc
        return UpstreamResponse(conn, timeouts, self)

    async def _acquire(self, key: _Key, connect_s: float, *, fresh: bool = False) -> _Connection:
        while True:
            idle = None if fresh else self._idle.get(key)
            now = time.monotonic()
            while idle:
                conn = idle.pop()
                if conn.closed:
                    continue
                if now - conn.idle_since > self._keepalive_s:
                    conn.abort()
                    self._forget(conn)
                    continue
                return conn
            if self._open < self._limit or self._evict_idle():
                break
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # woken, then cancelled before it ran: pass the slot on
                raise
        self._open += 1
        try:
            async with asyncio.timeout(connect_s):
                conn = await self._connect(key)
        except BaseException as exc:
            self._open -= 1
            self._wake_one()
            if isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
                raise _ConnectFailed() from exc  # refused, unresolvable, TLS verification
            raise
        if conn.closed:  # lost between connecting and now
            self._open -= 1
            self._wake_one()
            raise ConnectionResetError("upstream closed the connection")
        conn._counted = True
        self._conns.add(conn)
        return conn

    async def _connect(self, key: _Key) -> _Connection:
        scheme, host, port = key
        egress = self.egress(key) if self.egress is not None else DIRECT
        tls = (egress.ssl_context or self._ssl_context()) if scheme == "https" else None
        name = egress.server_hostname or host
        loop = asyncio.get_running_loop()
        if egress.proxy is None:
            _, conn = await loop.create_connection(
                lambda: _Connection(key, self),
                host,
                port,
                ssl=tls,
                server_hostname=name if tls is not None else None,
            )
            return conn
        transport = await _open_tunnel(egress.proxy, host, port)
        conn = _Connection(key, self)
        try:
            if tls is not None:
                # TLS with the provider inside the tunnel: the proxy sees ciphertext only.
                inner = await loop.start_tls(transport, conn, tls, server_hostname=name)
                if inner is None:
                    raise ConnectionResetError("the tunnel closed during the TLS handshake")
                conn.connection_made(inner)
            else:
                transport.set_protocol(conn)
                conn.connection_made(transport)
        except BaseException:
            transport.abort()
            raise
        return conn

    def _evict_idle(self) -> bool:
        """At the limit, close the oldest idle connection (to another host) to make room."""
        for idle in self._idle.values():
            while idle:
                conn = idle.pop(0)
                conn.abort()
                if self._forget(conn):
                    return True
        return False

    def _release(self, conn: _Connection) -> None:
        now = time.monotonic()
        conn.idle_since = now
        conn.reused = True
        conn._new_message()
        self._idle.setdefault(conn.key, []).append(conn)
        self._wake_one()
        if now - self._last_sweep > self._keepalive_s:
            self._sweep(now)

    def _forget(self, conn: _Connection) -> bool:
        """Stop counting a closed connection against the limit; whether it was counted."""
        if not conn._counted:
            return False
        conn._counted = False
        self._open -= 1
        self._conns.discard(conn)
        return True

    def _lost(self, conn: _Connection) -> None:
        if self._forget(conn):
            self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _sweep(self, now: float) -> None:
        """Close connections idle longer than the keep-alive time."""
        self._last_sweep = now
        for key, idle in list(self._idle.items()):
            keep = [c for c in idle if not c.closed and now - c.idle_since <= self._keepalive_s]
            for conn in idle:
                if conn not in keep:
                    conn.abort()
            if keep:
                self._idle[key] = keep
            else:
                del self._idle[key]

    async def close(self) -> None:
        """Close every connection, idle or in use (their readers get a reset)."""
        self._idle.clear()
        for conn in list(self._conns):
            conn.abort()
            self._lost(conn)
        await asyncio.sleep(0)  # let the transports report their close
