"""The chat app's JSON routes under `/chat/api` (what the page's script calls).

    GET    /chat/api/session                       who is signed in, the CSRF token, the aliases
    GET    /chat/api/conversations                 the member's conversations, newest first
    POST   /chat/api/conversations                 {alias?, title?} -> a new conversation
    GET    /chat/api/conversations/{id}            one conversation with its turns
    PATCH  /chat/api/conversations/{id}            {title} rename
    DELETE /chat/api/conversations/{id}            delete it and its turns
    POST   /chat/api/conversations/{id}/messages   {content, alias?} -> streamed answer (NDJSON)
    POST   /chat/api/conversations/{id}/regenerate {alias?} -> a new answer to the last message
    POST   /chat/api/conversations/{id}/edit       {content, alias?} -> replace the last message

Errors use the DESIGN.md envelope with plain words; another member's
conversation is a 404 exactly like a missing one. Every state change needs
the session's CSRF token (`X-CSRF-Token`) and a same-origin browser.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sekisho.chatapp import store
from sekisho.chatapp.answer import Answerer
from sekisho.chatapp.browser import SECURITY_HEADERS
from sekisho.chatapp.members import Member, MemberAuth
from sekisho.chatapp.wording import plain_words
from sekisho.errors import (
    InternalError,
    InvalidRequest,
    NotFound,
    RequestTooLarge,
    SekishoError,
    error_body,
)
from sekisho.ids import request_id as new_request_id
from sekisho.store.db import Database

log = logging.getLogger(__name__)

MAX_JSON_BYTES = 256 * 1024
Handler = Callable[[Request, Member], Awaitable[Response]]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(data),
        status_code=status,
        media_type="application/json",
        headers={**SECURITY_HEADERS, **(headers or {})},
    )


def error_response(err: SekishoError) -> Response:
    return Response(
        error_body(err),
        status_code=err.status,
        media_type="application/json",
        headers={**SECURITY_HEADERS, **err.headers(), "x-request-id": new_request_id()},
    )


async def read_json(request: Request, limit: int = MAX_JSON_BYTES) -> dict[str, Any]:
    """The request's JSON object, read up to `limit` bytes; 400/413 otherwise (Rule 12, 13)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestTooLarge(f"The request body exceeds the limit of {limit} bytes.")
    size, parts = 0, []
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestTooLarge(f"The request body exceeds the limit of {limit} bytes.")
        parts.append(chunk)
    raw = b"".join(parts)
    if not raw:
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise InvalidRequest("The body must be a JSON object.")
    return data


def member_route(auth: MemberAuth, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate the member (session, CSRF, origin) and render any error as the envelope."""

    async def endpoint(request: Request) -> Response:
        try:
            member = await auth.member(request)
            return await handler(request, member)
        except SekishoError as err:
            return error_response(err)
        except Exception:
            log.exception("chat api %s %s failed", request.method, request.url.path)
            return error_response(InternalError(plain_words("internal_error", None)))

    return endpoint


def api_routes(db: Database, auth: MemberAuth, answerer: Answerer) -> list[Route]:
    async def in_db(fn: Callable[[Any], Any], *, write: bool = False) -> Any:
        return await store.in_db(db, fn, write=write)

    async def session_info(request: Request, member: Member) -> Response:
        return json_response(
            {
                "user": {"email": member.email},
                "tenant": member.signed_in.tenant.name if member.signed_in.tenant else None,
                "csrf_token": member.csrf,
                "aliases": answerer.usable_aliases(member),
            }
        )

    async def list_all(request: Request, member: Member) -> Response:
        views = await in_db(lambda s: store.list_conversations(s, member.owner))
        return json_response({"data": [v.as_json() for v in views]})

    async def create(request: Request, member: Member) -> Response:
        body = await read_json(request)
        aliases = answerer.usable_aliases(member)
        alias = body.get("alias") or (aliases[0] if aliases else None)
        if not isinstance(alias, str) or alias not in aliases:
            raise InvalidRequest("Pick one of your organization's models.", param="alias")
        title = body.get("title", store.DEFAULT_TITLE)
        view = await in_db(
            lambda s: store.create_conversation(s, member.owner, alias, title), write=True
        )
        return json_response(view.as_json(), 201)

    def conversation_id(request: Request) -> str:
        value = request.path_params["conversation_id"]
        if not isinstance(value, str) or len(value) > 40:
            raise NotFound("No such conversation.")
        return value

    async def show(request: Request, member: Member) -> Response:
        cid = conversation_id(request)

        def run(s: Any) -> dict[str, Any]:
            view = store.get_conversation(s, member.owner, cid)
            return {
                **view.as_json(),
                "turns": [t.as_json() for t in store.turns(s, member.owner, cid)],
            }

        return json_response(await in_db(run))

    async def rename(request: Request, member: Member) -> Response:
        cid = conversation_id(request)
        body = await read_json(request)
        view = await in_db(
            lambda s: store.rename(s, member.owner, cid, body.get("title")), write=True
        )
        return json_response(view.as_json())

    async def remove(request: Request, member: Member) -> Response:
        cid = conversation_id(request)
        await in_db(lambda s: store.delete_conversation(s, member.owner, cid), write=True)
        return json_response({"deleted": True, "id": cid})

    def answering(action: str) -> Handler:
        async def run(request: Request, member: Member) -> Response:
            body = await read_json(request)
            prepared = await answerer.prepare(member, conversation_id(request), action, body)
            result = await answerer.open(member, prepared)
            return answerer.response(member, prepared, result)

        return run

    def route(path: str, handler: Handler, methods: list[str]) -> Route:
        return Route(path, member_route(auth, handler), methods=methods)

    return [
        route("/api/session", session_info, ["GET"]),
        route("/api/conversations", list_all, ["GET"]),
        route("/api/conversations", create, ["POST"]),
        route("/api/conversations/{conversation_id}", show, ["GET"]),
        route("/api/conversations/{conversation_id}", rename, ["PATCH"]),
        route("/api/conversations/{conversation_id}", remove, ["DELETE"]),
        route("/api/conversations/{conversation_id}/messages", answering("send"), ["POST"]),
        route("/api/conversations/{conversation_id}/regenerate", answering("regenerate"), ["POST"]),
        route("/api/conversations/{conversation_id}/edit", answering("edit"), ["POST"]),
    ]
