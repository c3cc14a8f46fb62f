"""`BodyGuard`: the body limits as a small ASGI layer in front of the Starlette part.

The edge protocol (`sekisho.http.protocol`) already enforces them on our own
server; this layer keeps them when the app is served by any other ASGI
server, and costs the admin API, console and status pages one wrapper call.
A declared `Content-Length` over the limit is refused before the app runs; a
chunked body is counted as it streams; a body that takes longer than
`body_timeout_s` is refused with 408. Once it has answered, the guard hands
the app a disconnect and drops whatever the app still sends.
"""

from __future__ import annotations

import asyncio

from sekisho.errors import RequestTimeout, RequestTooLarge, SekishoError
from sekisho.http.asgi import Message, Receive, Scope, Send
from sekisho.http.dispatch import AsgiHandler, send_api_error
from sekisho.http.limits import EdgeLimits, declared_length, too_large_message

_DISCONNECT: Message = {"type": "http.disconnect"}


class BodyGuard:
    def __init__(self, app: AsgiHandler, limits: EdgeLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self.limits.body_limit_for(path)
        if declared_length(scope["headers"]) > limit:
            await send_api_error(send, path, RequestTooLarge(too_large_message(limit)))
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.body_timeout_s
        received = 0
        body_done = False
        started = False
        answered = False

        async def answer(err: SekishoError) -> Message:
            nonlocal answered
            if not started:
                await send_api_error(send, path, err)
            answered = True
            return _DISCONNECT

        async def guarded_receive() -> Message:
            nonlocal received, body_done
            if answered:
                return _DISCONNECT
            if body_done:  # after the body only a disconnect can come: no deadline
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                return await answer(
                    RequestTimeout(
                        f"The request body did not arrive within {self.limits.body_timeout_s:g} s."
                    )
                )
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    return await answer(RequestTooLarge(too_large_message(limit)))
                body_done = not message.get("more_body", False)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if answered:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, guarded_receive, guarded_send)
