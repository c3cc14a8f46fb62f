"""`POST /v1/responses` (stateless) as bare ASGI over `ChatService.complete`.

The request is translated by `responses_shape` and served by the same chat
core as /v1/chat/completions (sovereignty, failover, suspension, request
log); errors use the OpenAI envelope, as on every other /v1 path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from sekisho.chat.core import ChatResult
from sekisho.errors import InvalidRequest
from sekisho.http.asgi import Receive, Scope, Send, read_body, send_bytes
from sekisho.http.v1 import authenticate
from sekisho.ids import request_id as new_request_id
from sekisho.inbound import responses_shape as shape
from sekisho.inbound.serving import answer_or_fail, relay_stream

if TYPE_CHECKING:
    from sekisho.gateway import Gateway


class ResponsesEndpoint:
    def __init__(self, gateway: Gateway) -> None:
        self._chat = gateway.chat
        self._keys = gateway.keys
        self._limit = gateway.settings.limits.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = new_request_id()
        served = await answer_or_fail(send, rid, self._complete(scope, receive, rid))
        if served is None:
            return
        req, result = served
        if result.stream is None:
            out = orjson.dumps(shape.response_object(result.body or {}, req))
            await send_bytes(send, result.status, out, rid)
            return
        await relay_stream(send, rid, result, shape.ResponseEvents(req).feed)

    async def _complete(
        self, scope: Scope, receive: Receive, rid: str
    ) -> tuple[shape.ResponsesRequest, ChatResult]:
        if scope["method"] != "POST":
            raise InvalidRequest("Use POST for /v1/responses.")
        principal = await authenticate(scope, self._keys)
        raw = await read_body(scope, receive, self._limit)
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"The request body is not valid JSON: {exc}.") from exc
        req = shape.chat_request(body)
        return req, await self._chat.complete(principal, req.chat, rid)
