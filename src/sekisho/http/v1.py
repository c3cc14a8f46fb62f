"""The data plane: `POST /v1/chat/completions` and `GET /v1/models`, as bare ASGI.

Order of checks, each answering in the DESIGN.md envelope with our
`x-request-id`: method, API key (401/403/503), body size (413), JSON and
fields (400), alias (404/403); only then is an upstream called.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import orjson

from sekisho.chat.core import ChatService
from sekisho.chat.principal import Principal
from sekisho.chat.request import parse_chat_request
from sekisho.errors import InternalError, InvalidApiKey, ModelNotFound, SekishoError
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
from sekisho.observe.refusals import RefusalLog
from sekisho.tenancy.authcache import KeyCache
from sekisho.tenancy.keys import key_matches, key_prefix
from sekisho.tenancy.snapshot import may_act

log = logging.getLogger(__name__)


async def authenticate(
    scope: Scope,
    keys: KeyCache,
    on_refusal: Callable[[str, str, SekishoError], None] | None = None,
) -> Principal:
    """The caller's principal from `Authorization: Bearer <key>`; fails closed.

    ``on_refusal(tenant_id, key_id, error)`` hears a valid key refused for its
    tenant's state (e.g. suspended), so the refusal is counted.
    """
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
    try:
        may_act(tenant, key, datetime.now(UTC))
    except SekishoError as err:
        if on_refusal is not None:
            on_refusal(tenant.id, key.id, err)
        raise
    return Principal(tenant=tenant, key=key, source="api")


class DataPlane:
    def __init__(
        self,
        chat: ChatService,
        keys: KeyCache,
        *,
        max_body_bytes: int,
        refusals: RefusalLog | None = None,
    ) -> None:
        self._chat = chat
        self._keys = keys
        self._limit = max_body_bytes
        self._refusals = refusals

    def _refusal_hook(self, rid: str) -> Callable[[str, str, SekishoError], None] | None:
        refusals = self._refusals
        if refusals is None:
            return None
        return lambda tenant_id, key_id, err: refusals.refused(rid, tenant_id, key_id, err)

    async def chat_completions(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = new_request_id()
        try:
            principal = await authenticate(scope, self._keys, self._refusal_hook(rid))
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
            await send_bytes(
                send, result.status, orjson.dumps(result.body), rid, extra=result.headers
            )
            return
        stream = result.stream
        headers = [*SSE_HEADERS, (b"x-request-id", rid.encode())]
        if result.headers:  # the tenant's x-ratelimit-*
            headers.extend((k.encode(), v.encode()) for k, v in result.headers.items())
        async with result:  # closes the stream and logs the request on every path
            watcher = asyncio.ensure_future(result.close_on_disconnect(receive))
            try:
                await send({"type": "http.response.start", "status": 200, "headers": headers})
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
            principal = await authenticate(scope, self._keys, self._refusal_hook(rid))
        except SekishoError as err:
            await send_error(send, err, rid)
            return
        data = [_model_object(name) for name in self._chat.usable_aliases(principal)]
        await send_bytes(send, 200, orjson.dumps({"object": "list", "data": data}), rid)

    async def model(self, scope: Scope, receive: Receive, send: Send) -> None:
        """`GET /v1/models/{alias}`: one alias the caller may use, else 404."""
        rid = new_request_id()
        alias = scope["path"].removeprefix(MODELS_PREFIX)
        try:
            principal = await authenticate(scope, self._keys)
            if alias not in self._chat.usable_aliases(principal):
                raise ModelNotFound(
                    f"The model '{alias[:200]}' does not exist or you do not have access to it.",
                    param="model",
                )
        except SekishoError as err:
            await send_error(send, err, rid)
            return
        await send_bytes(send, 200, orjson.dumps(_model_object(alias)), rid)


MODELS_PREFIX = "/v1/models/"


def _model_object(alias: str) -> dict[str, object]:
    return {"id": alias, "object": "model", "created": 0, "owned_by": "sekisho"}
