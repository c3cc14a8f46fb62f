"""`POST /v1/responses` (stateless) as bare ASGI over `ChatService.complete`.

The request is translated by `responses_shape` and served by the same chat
core as /v1/chat/completions (sovereignty, failover, suspension, request
log); errors use the OpenAI envelope, as on every other /v1 path.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import orjson

from sekisho.errors import InternalError, InvalidRequest, SekishoError
from sekisho.http.asgi import SSE_HEADERS, Receive, Scope, Send, read_body, send_bytes, send_error
from sekisho.http.v1 import authenticate
from sekisho.ids import request_id as new_request_id
from sekisho.inbound import responses_shape as shape

if TYPE_CHECKING:
    from sekisho.gateway import Gateway

log = logging.getLogger(__name__)


class ResponsesEndpoint:
    def __init__(self, gateway: Gateway) -> None:
        self._chat = gateway.chat
        self._keys = gateway.keys
        self._limit = gateway.settings.limits.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = new_request_id()
        try:
            if scope["method"] != "POST":
                raise InvalidRequest("Use POST for /v1/responses.")
            principal = await authenticate(scope, self._keys)
            raw = await read_body(scope, receive, self._limit)
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise InvalidRequest(f"The request body is not valid JSON: {exc}.") from exc
            req = shape.chat_request(body)
            result = await self._chat.complete(principal, req.chat, rid)
        except SekishoError as err:
            await send_error(send, err, rid)
            return
        except ConnectionAbortedError:
            return
        except Exception:
            log.exception("unexpected error serving %s", rid)
            await send_error(send, InternalError("Internal error. Quote the request id."), rid)
            return
        if result.stream is None:
            out = orjson.dumps(shape.response_object(result.body or {}, req))
            await send_bytes(send, result.status, out, rid)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*SSE_HEADERS, (b"x-request-id", rid.encode())],
            }
        )
        stream = result.stream
        events = shape.ResponseEvents(req)
        try:
            async for frame in stream:
                if data := events.feed(frame):
                    await send({"type": "http.response.body", "body": data, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except OSError:
            pass  # the client went away; the relay's finally logs it
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
