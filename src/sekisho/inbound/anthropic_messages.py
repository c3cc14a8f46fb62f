"""`POST /v1/messages` and `/v1/messages/count_tokens`: the Anthropic Messages API, inbound.

A tenant key arrives as `x-api-key` (what the Anthropic SDK and Claude Code
send) or as `Authorization: Bearer`; `anthropic-version` is accepted as the
SDK sends it. The request is translated (`anthropic_shape`) and served by the
same `ChatService.complete` as /v1/chat/completions, so sovereignty,
failover, suspension, in-flight stream kills and the request log all apply;
errors use Anthropic's envelope on these paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from sekisho.chat.core import ChatResult
from sekisho.embeddings.request import wrong_kind
from sekisho.errors import InvalidRequest, SekishoError, error_for_code
from sekisho.http.asgi import Receive, Scope, Send, header, read_body, send_bytes
from sekisho.http.v1 import authenticate
from sekisho.ids import request_id as new_request_id
from sekisho.inbound import anthropic_shape as shape
from sekisho.inbound.serving import answer_or_fail, relay_stream
from sekisho.routing.availability import alias_access

if TYPE_CHECKING:
    from sekisho.chat.principal import Principal
    from sekisho.gateway import Gateway


def bearer_scope(scope: Scope) -> Scope:
    """The scope with an `x-api-key` presented as the Bearer credential `authenticate` reads."""
    if header(scope, b"authorization") is not None:
        return scope
    key = header(scope, b"x-api-key")
    if key is None:
        return scope
    return {**scope, "headers": [*scope["headers"], (b"authorization", b"Bearer " + key)]}


async def send_anthropic_error(send: Send, err: SekishoError, rid: str) -> None:
    extra = {**err.headers(), "request-id": rid}
    await send_bytes(send, err.status, shape.error_body(err), rid, extra=extra)


def _decode(raw: bytes) -> object:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}.") from exc


class MessagesEndpoint:
    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._chat = gateway.chat
        self._keys = gateway.keys
        self._limit = gateway.settings.limits.max_body_bytes

    async def _principal(self, scope: Scope, path: str) -> Principal:
        if scope["method"] != "POST":
            raise InvalidRequest(f"Use POST for {path}.")
        if header(scope, b"authorization") is None and header(scope, b"x-api-key") is None:
            raise error_for_code(
                "invalid_api_key", "Missing API key. Send it as 'x-api-key: <key>'."
            )
        return await authenticate(bearer_scope(scope), self._keys)

    async def messages(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = new_request_id()
        result = await answer_or_fail(
            send, rid, self._complete(scope, receive, rid), send_anthropic_error
        )
        if result is None:
            return
        if result.stream is None:
            body = orjson.dumps(shape.message_body(result.body or {}))
            await send_bytes(send, result.status, body, rid, extra={"request-id": rid})
            return
        events = shape.MessageStream()
        await relay_stream(send, rid, result, events.feed, ((b"request-id", rid.encode()),))

    async def _complete(self, scope: Scope, receive: Receive, rid: str) -> ChatResult:
        principal = await self._principal(scope, "/v1/messages")
        req = shape.chat_request(_decode(await read_body(scope, receive, self._limit)))
        return await self._chat.complete(principal, req, rid)

    async def count_tokens(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = new_request_id()
        tokens = await answer_or_fail(send, rid, self._count(scope, receive), send_anthropic_error)
        if tokens is not None:
            out = orjson.dumps({"input_tokens": tokens})
            await send_bytes(send, 200, out, rid, extra={"request-id": rid})

    async def _count(self, scope: Scope, receive: Receive) -> int:
        principal = await self._principal(scope, "/v1/messages/count_tokens")
        body = _decode(await read_body(scope, receive, self._limit))
        tokens = shape.estimate_input_tokens(body)
        alias = str(body.get("model")) if isinstance(body, dict) else ""
        matrix = self._gateway.routing.matrix
        access = alias_access(matrix, alias, principal.policy)
        if not access.usable:
            raise error_for_code(access.error_code or "permission_denied", access.customer_message)
        if (found := matrix.aliases.get(alias)) and found.kind != "chat":
            raise wrong_kind(alias, found.kind)
        return tokens
