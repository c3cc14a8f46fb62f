"""`BodyGuard`: the body limits as a small ASGI layer in front of the Starlette part.

The edge protocol (`sekisho.http.protocol`) already enforces them on our own
server; this layer keeps them when the app is served by any other ASGI
server, and costs the admin API, console and status pages one wrapper call.
A declared `Content-Length` over the limit is refused before the app runs; a
chunked body is counted as it streams; a body that takes longer than
`body_timeout_s` is refused with 408. Once it has answered, the guard hands
the app a disconnect and drops whatever the app still sends.

A JSON body is read whole (within those limits) and checked with the same
strict parser as the data plane before the app sees it: nesting deeper than
1024, numbers that overflow, invalid UTF-8, lone surrogates and U+0000 are a
400 here, instead of reaching a handler (and the store) through the framework's
lenient parser.
"""

from __future__ import annotations

import asyncio

import orjson

from sekisho.errors import InvalidRequest, RequestTimeout, RequestTooLarge, SekishoError
from sekisho.http.asgi import Message, Receive, Scope, Send, header, read_body
from sekisho.http.dispatch import AsgiHandler, send_api_error
from sekisho.http.limits import EdgeLimits, declared_length, too_large_message

_DISCONNECT: Message = {"type": "http.disconnect"}
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def json_problem(body: bytes) -> str | None:
    """Why `body` is not acceptable JSON (strict: orjson), or None. An empty body is left to the app."""
    if not body.strip():
        return None
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return str(exc).split(":", 1)[0]
    if b"\\u0000" in body and _holds_nul(doc):
        return "a string holds U+0000"
    return None


def _holds_nul(doc: object) -> bool:
    """Whether any key or string value holds U+0000 (the store cannot keep it)."""
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _is_json(scope: Scope) -> bool:
    ctype = (header(scope, b"content-type") or b"").split(b";", 1)[0].strip().lower()
    return ctype == b"application/json" or ctype.endswith(b"+json")


def _is_form(scope: Scope) -> bool:
    ctype = (header(scope, b"content-type") or b"").split(b";", 1)[0].strip().lower()
    return ctype == b"application/x-www-form-urlencoded"


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
        if scope["method"] in _BODY_METHODS and (_is_json(scope) or _is_form(scope)):
            # Read whole before the app runs: a handler that refuses early (origin, CSRF)
            # then leaves no unread body behind, so the connection stays usable.
            await self._buffered(scope, receive, send, limit, deadline, check_json=_is_json(scope))
            return
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

    async def _buffered(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        limit: int,
        deadline: float,
        *,
        check_json: bool,
    ) -> None:
        path: str = scope["path"]
        try:
            async with asyncio.timeout_at(deadline):
                body = await read_body(scope, receive, limit)
        except TimeoutError:
            err: SekishoError = RequestTimeout(
                f"The request body did not arrive within {self.limits.body_timeout_s:g} s."
            )
            await send_api_error(send, path, err)
            return
        except SekishoError as exc:
            await send_api_error(send, path, exc)
            return
        except ConnectionAbortedError:
            return
        problem = json_problem(body) if check_json else None
        if problem is not None:
            await send_api_error(
                send, path, InvalidRequest(f"The body is not valid JSON: {problem}.")
            )
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
