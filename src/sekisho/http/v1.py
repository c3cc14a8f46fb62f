"""The data plane: `POST /v1/chat/completions` and `GET /v1/models`, as bare ASGI.

Order of checks, each answering in the DESIGN.md envelope with our
`x-request-id`: method, API key (401/403/503), body size (413), JSON and
fields (400), alias (404/403); only then is an upstream called.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import orjson

from sekisho.chat.core import ChatService
from sekisho.chat.principal import Principal
from sekisho.chat.request import parse_chat_request
from sekisho.errors import InternalError, InvalidApiKey, InvalidRequest, SekishoError
from sekisho.http.asgi import (
    SSE_HEADERS,
    Receive,
    Scope,
    Send,
    header,
    read_body,
    send_bytes,
    send_error,
)
from sekisho.ids import request_id as new_request_id
from sekisho.tenancy.authcache import KeyCache
from sekisho.tenancy.keys import key_matches, key_prefix
from sekisho.tenancy.snapshot import may_act

log = logging.getLogger(__name__)


async def authenticate(scope: Scope, keys: KeyCache) -> Principal:
    """The caller's principal from `Authorization: Bearer <key>`; fails closed."""
    raw = header(scope, b"authorization")
    if raw is None:
        raise InvalidApiKey("Missing API key. Send it as 'Authorization: Bearer <key>'.")
    scheme, _, token = raw.decode("latin-1").partition(" ")
    token = token.strip()
    prefix = key_prefix(token) if scheme.lower() == "bearer" else None
    if prefix is None:
        raise InvalidApiKey("Invalid API key.")
    found = await keys.lookup(prefix)
    if found is None or not key_matches(token, found[0].secret_hash):
        raise InvalidApiKey("Invalid API key.")
    key, tenant = found
    may_act(tenant, key, datetime.now(UTC))
    return Principal(tenant=tenant, key=key, source="api")


class DataPlane:
    def __init__(self, chat: ChatService, keys: KeyCache, *, max_body_bytes: int) -> None:
        self._chat = chat
        self._keys = keys
        self._limit = max_body_bytes

    async def chat_completions(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = new_request_id()
        try:
            if scope["method"] != "POST":
                raise InvalidRequest("Use POST for /v1/chat/completions.")
            principal = await authenticate(scope, self._keys)
            req = parse_chat_request(await read_body(scope, receive, self._limit))
            result = await self._chat.complete(principal, req, rid)
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
            await send_bytes(send, result.status, orjson.dumps(result.body), rid)
            return
        stream = result.stream
        async with result:  # closes the stream and logs the request on every path
            watcher = asyncio.ensure_future(result.close_on_disconnect(receive))
            try:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [*SSE_HEADERS, (b"x-request-id", rid.encode())],
                    }
                )
                async for frame in stream:
                    await send({"type": "http.response.body", "body": frame, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
            except OSError:
                pass  # the client went away; the relay's finally logs it
            finally:
                watcher.cancel()

    async def models(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = new_request_id()
        try:
            if scope["method"] != "GET":
                raise InvalidRequest("Use GET for /v1/models.")
            principal = await authenticate(scope, self._keys)
        except SekishoError as err:
            await send_error(send, err, rid)
            return
        data = [
            {"id": name, "object": "model", "created": 0, "owned_by": "sekisho"}
            for name in self._chat.usable_aliases(principal)
        ]
        await send_bytes(send, 200, orjson.dumps({"object": "list", "data": data}), rid)
