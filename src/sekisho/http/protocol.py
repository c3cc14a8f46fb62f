"""The edge: uvicorn's httptools protocol with Sekisho's limits, below ASGI.

Everything a client can make us hold (memory or a connection) is bounded
here, before any route, parser or authentication code runs:

- request line + headers: at most `max_header_bytes` and `max_header_count`
  (431), sent within `header_timeout_s` of the request's first byte (408);
- body: a declared `Content-Length` over the path's limit is refused before
  the app is called, a chunked body as soon as the running count passes it
  (413); the whole body must arrive within `body_timeout_s` (408);
- a connection with no request in progress is closed after
  `keep_alive_timeout_s` (also a fresh one that never sends a byte);
- past `max_connections` open connections a request gets 503 (uvicorn's own
  `limit_concurrency` would answer in plain text);
- after an early answer the unread rest of the body is read and dropped (for
  a bounded time and size, or until it ends), then the connection is closed,
  so the client reads the answer instead of a reset; a connection whose body
  the app left unread is never kept alive, and an answer that starts before
  the request's body has all arrived says `connection: close`, so a
  keep-alive client never reuses a connection we are about to close.

Every answer is the envelope of the path's API (`sekisho.http.envelopes`).
uvicorn's `HttpToolsProtocol` stays in charge of everything else.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from sekisho.errors import (
    HeadersTooLarge,
    InvalidRequest,
    RequestTimeout,
    RequestTooLarge,
    SekishoError,
    ServiceUnavailable,
)
from sekisho.http.envelopes import raw_error_response
from sekisho.http.limits import EdgeLimits, declared_length, too_large_message
from sekisho.ids import request_id


class _HeaderLimit(Exception):
    """Raised inside a parser callback to stop parsing the headers."""


class _CycleTransport:
    """The transport one request's cycle writes to: its `close` waits for the request body.

    uvicorn closes the transport as soon as a response marked `connection: close`
    is sent. While the client is still sending the request body, a close then
    would leave unread bytes behind and the kernel answers with a reset, which
    can destroy the response before the client reads it; the protocol drains
    the rest first and closes after.
    """

    def __init__(self, protocol: EdgeProtocol, cycle: Any, transport: asyncio.Transport) -> None:
        self._protocol = protocol
        self._cycle = cycle
        self._transport = transport

    def close(self) -> None:
        if self._cycle.more_body and not self._transport.is_closing():
            self._protocol._drain()
        else:
            self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class EdgeProtocol(HttpToolsProtocol):  # type: ignore[misc]
    limits: EdgeLimits = EdgeLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout_keep_alive = self.limits.keep_alive_timeout_s  # type: ignore[assignment]
        self._awaiting_headers = True
        self._header_bytes = 0
        self._header_count = 0
        self._parsed_header_bytes = 0
        self._body_bytes = 0
        self._body_limit = 0
        self._path = "/"
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._drain_timer: asyncio.TimerHandle | None = None
        self._draining = False
        self._drain_parsing = True
        self._drained = 0
        self._keep_alive_after_body = False

    # -- connection ---------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # uvicorn arms the idle timer only after a response; a fresh connection
        # that never sends a byte is idle too.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def _cancel_timers(self) -> None:
        for timer in (self._header_timer, self._body_timer, self._drain_timer):
            if timer is not None:
                timer.cancel()
        self._header_timer = self._body_timer = self._drain_timer = None

    def data_received(self, data: bytes) -> None:
        if self._draining:
            self._drained += len(data)
            if self._drained > self.limits.drain_max_bytes:
                self.transport.close()
            elif self._drain_parsing:
                # Still parsed (every callback ignores it) only to see where the refused
                # body ends: then the connection can close at once.
                try:
                    self.parser.feed_data(data)
                except httptools.HttpParserError:
                    self._drain_parsing = False
            return
        self._unset_keepalive_if_required()
        if self._awaiting_headers:
            self._header_bytes += len(data)
            if self._header_timer is None:  # the clock runs from the first byte, even a bare CRLF
                self._header_timer = self.loop.call_later(
                    self.limits.header_timeout_s, self._headers_too_slow
                )
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _HeaderLimit):
                self._refuse(HeadersTooLarge(str(exc.__context__)))
            else:
                self._refuse(InvalidRequest("Malformed HTTP request."))
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError:
            self._refuse(InvalidRequest("Malformed HTTP request."))
        else:
            if self._awaiting_headers and self._header_bytes > self.limits.max_header_bytes:
                self._refuse(self._headers_too_large())

    def send_400_response(self, msg: str) -> None:
        self._refuse(InvalidRequest("Malformed HTTP request."))

    # -- parser callbacks ---------------------------------------------------

    def on_message_begin(self) -> None:
        if self._draining:  # a request pipelined behind a refused one is not served
            return
        super().on_message_begin()
        self._header_count = 0
        self._parsed_header_bytes = 0

    def on_url(self, url: bytes) -> None:
        if self._draining:
            return
        super().on_url(url)
        if len(self.url) > self.limits.max_header_bytes:
            raise _HeaderLimit(self._headers_too_large().message)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._draining:
            return
        # Headers that arrive whole in one read are measured here; ones still
        # arriving are cut in data_received before the parser buffers them.
        self._header_count += 1
        self._parsed_header_bytes += len(name) + len(value) + 4
        if self._header_count > self.limits.max_header_count:
            raise _HeaderLimit(
                f"The request has more than {self.limits.max_header_count} header fields."
            )
        if self._parsed_header_bytes + len(self.url) > self.limits.max_header_bytes:
            raise _HeaderLimit(self._headers_too_large().message)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._draining:
            return
        self._awaiting_headers = False
        self._header_bytes = 0
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        self._path = httptools.parse_url(self.url).path.decode("latin-1")
        self._body_limit = self.limits.body_limit_for(self._path)
        self._body_bytes = 0
        if declared_length(self.headers) > self._body_limit:
            self._refuse(RequestTooLarge(too_large_message(self._body_limit)))
            return
        if len(self.connections) > self.limits.max_connections:
            self._refuse(
                ServiceUnavailable("Too many connections right now; retry.", retry_after=1)
            )
            return
        super().on_headers_complete()
        if self.parser.should_upgrade():
            return
        cycle = self.cycle
        # Until the body has all arrived, an answer closes the connection (and says so);
        # a request whose body completes before the answer starts is kept alive as asked.
        self._keep_alive_after_body = cycle.keep_alive
        cycle.keep_alive = False
        cycle.transport = _CycleTransport(self, cycle, self.transport)  # type: ignore[assignment]
        self._body_timer = self.loop.call_later(self.limits.body_timeout_s, self._body_too_slow)

    def on_body(self, body: bytes) -> None:
        if self._draining:
            return
        self._body_bytes += len(body)
        if self._body_bytes > self._body_limit:
            self._refuse(RequestTooLarge(too_large_message(self._body_limit)))
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._draining:
            # The refused request's body has all arrived: the answer is read, close now.
            self._drain_parsing = False
            self.transport.close()
            return
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        self._awaiting_headers = True
        cycle = self.cycle
        if cycle is not None and not cycle.response_started:
            cycle.keep_alive = self._keep_alive_after_body
        super().on_message_complete()

    def on_response_complete(self) -> None:
        cycle = self.cycle
        # With a pipelined request queued, `self.cycle` is that one and the body of
        # the one just answered is complete; otherwise it is the one just answered.
        if (
            cycle is not None
            and cycle.more_body
            and not self.pipeline
            and not self.transport.is_closing()
        ):
            # The app answered without reading the whole body: drop the rest and close.
            self._drain()
            return
        super().on_response_complete()

    # -- refusals -----------------------------------------------------------

    def _headers_too_large(self) -> HeadersTooLarge:
        limit = self.limits.max_header_bytes
        return HeadersTooLarge(f"The request line and headers exceed the limit of {limit} bytes.")

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._awaiting_headers:
            self._refuse(
                RequestTimeout(
                    f"The request headers did not arrive within {self.limits.header_timeout_s:g} s."
                )
            )

    def _body_too_slow(self) -> None:
        self._body_timer = None
        if self.flow is not None and self.flow.read_paused:
            # We stopped reading (the app is busy), so the client is not the slow one.
            self._body_timer = self.loop.call_later(self.limits.body_timeout_s, self._body_too_slow)
            return
        self._refuse(
            RequestTimeout(
                f"The request body did not arrive within {self.limits.body_timeout_s:g} s."
            )
        )

    def _refuse(self, err: SekishoError) -> None:
        """Answer `err` (unless a response is already under way), then drain and close."""
        if self.transport.is_closing() or self._draining:
            return
        cycle = self.cycle
        busy = cycle is not None and not cycle.response_complete
        if busy and cycle.response_started:
            self.transport.close()
            return
        if busy:
            # The app is running: it now sees a disconnect and its sends are dropped.
            cycle.response_started = True
            cycle.disconnected = True
            cycle.message_event.set()
        path = self._path
        if self._awaiting_headers:  # the path of the request being refused, as far as it came
            path = getattr(self, "url", b"").split(b"?", 1)[0].decode("latin-1") or "/"
        self.transport.write(raw_error_response(path, err, request_id()))
        # Past the headers the parser may go on (to find the body's end); within them, not.
        self._drain_parsing = not self._awaiting_headers
        self._drain()

    def _drain(self) -> None:
        if self._draining:
            return
        self._draining = True
        self._cancel_timers()
        self._unset_keepalive_if_required()
        if self.flow is not None:
            self.flow.resume_reading()
        self._drain_timer = self.loop.call_later(self.limits.drain_timeout_s, self.transport.close)


def edge_protocol(limits: EdgeLimits) -> type[EdgeProtocol]:
    """The protocol class uvicorn instantiates per connection, bound to `limits`."""
    return type("EdgeProtocol", (EdgeProtocol,), {"limits": limits})
