"""`POST /v1/embeddings` as bare ASGI: key, body, validation, then the EmbeddingService."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from sekisho.embeddings.request import parse_embedding_request
from sekisho.errors import InvalidRequest
from sekisho.http.asgi import Receive, Scope, Send, read_body, send_bytes
from sekisho.http.v1 import authenticate
from sekisho.ids import request_id as new_request_id
from sekisho.inbound.serving import answer_or_fail

if TYPE_CHECKING:
    from sekisho.gateway import Gateway


class EmbeddingsEndpoint:
    def __init__(self, gateway: Gateway) -> None:
        self.service = gateway.embeddings
        self._keys = gateway.keys
        self._limit = gateway.settings.limits.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = new_request_id()
        answer = await answer_or_fail(send, rid, self._create(scope, receive, rid))
        if answer is not None:
            body, headers = answer
            await send_bytes(send, 200, orjson.dumps(body), rid, extra=headers)

    async def _create(
        self, scope: Scope, receive: Receive, rid: str
    ) -> tuple[dict[str, Any], dict[str, str] | None]:
        if scope["method"] != "POST":
            raise InvalidRequest("Use POST for /v1/embeddings.")
        principal = await authenticate(scope, self._keys)
        req = parse_embedding_request(await read_body(scope, receive, self._limit))
        return await self.service.create(principal, req, rid)
