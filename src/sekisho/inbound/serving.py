"""What the inbound endpoints share: error handling around a request, and the SSE relay.

`answer_or_fail` runs the part of a request before any byte is sent and turns
a failure into the path's error envelope; `relay_stream` sends the chat
core's frames, translated into the path's events, and always closes the core's
stream (whose `finally` writes the request-log row).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from sekisho.chat.core import ChatResult
from sekisho.errors import InternalError, SekishoError
from sekisho.http.asgi import SSE_HEADERS, Send, send_error

__all__ = ["ErrorSender", "answer_or_fail", "relay_stream"]

log = logging.getLogger(__name__)
T = TypeVar("T")
ErrorSender = Callable[[Send, SekishoError, str], Awaitable[None]]


async def answer_or_fail(
    send: Send, rid: str, work: Awaitable[T], send_err: ErrorSender = send_error
) -> T | None:
    """`work`'s result; on failure the error is answered (or the client is gone) and None."""
    try:
        return await work
    except SekishoError as err:
        await send_err(send, err, rid)
    except ConnectionAbortedError:
        pass  # the client left before its body arrived
    except Exception:
        log.exception("unexpected error serving %s", rid)
        await send_err(send, InternalError("Internal error. Quote the request id."), rid)
    return None


async def relay_stream(
    send: Send,
    rid: str,
    result: ChatResult,
    translate: Callable[[bytes], bytes],
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    """Send the core's SSE frames as `translate` renders them; close the result in any case."""
    stream = result.stream
    assert stream is not None
    try:
        await _relay(send, rid, stream, translate, headers)
    finally:
        # A chat result that owns its request closes it (stream, relay, log row) itself.
        closer = getattr(result, "aclose", None)
        await (closer() if closer is not None else stream.aclose())  # type: ignore[attr-defined]


async def _relay(
    send: Send,
    rid: str,
    stream: AsyncIterator[bytes],
    translate: Callable[[bytes], bytes],
    headers: tuple[tuple[bytes, bytes], ...],
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [*SSE_HEADERS, (b"x-request-id", rid.encode()), *headers],
        }
    )
    try:
        async for frame in stream:
            if data := translate(frame):
                await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    except OSError:
        pass  # the client went away; the relay's finally logs it
