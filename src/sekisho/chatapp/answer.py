"""Answering a conversation: store the member's turn, call the chat core in-process, stream back.

The chat core is called exactly as `/v1` calls it (`ChatService.complete`),
so admission (`may_act` on the session just read), routing, quotas,
guardrails and the request log (with the member's user id) are the API's.

The browser receives newline-delimited JSON events over a fetch stream:

    {"type": "start", "request_id": ..., "turn": {...the member's turn...}}
    {"type": "delta", "text": "..."}                (as the model's text arrives)
    {"type": "notice", "kind": "guardrail", "message": "..."}
    {"type": "error", "code": ..., "message": "..."} (plain words, by alias)
    {"type": "done", "turn": {...the answer as stored...}}

Stop: the browser aborts the fetch; the disconnect cancels the task that
drives the chat core's stream, which closes the upstream response (and logs
499). The text that arrived is kept as a `stopped` answer. When the tenant is
suspended, the chat core ends its streams with a `tenant_suspended` event;
that becomes an `error` event carrying the suspension notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from sekisho.adapters.sse import SSEDecoder
from sekisho.chat.core import ChatResult, ChatService
from sekisho.chat.request import ChatRequest, parse_chat_request
from sekisho.chatapp import store
from sekisho.chatapp.browser import SECURITY_HEADERS
from sekisho.chatapp.history import MAX_MESSAGE_CHARS, budget_chars, history_for
from sekisho.chatapp.members import Member
from sekisho.chatapp.wording import guardrail_notice, plain_words
from sekisho.errors import InvalidRequest, PermissionDenied, SekishoError
from sekisho.ids import request_id as new_request_id
from sekisho.matrix import Matrix
from sekisho.store.db import Database

log = logging.getLogger(__name__)

ACTIONS = ("send", "regenerate", "edit")
NDJSON = "application/x-ndjson"


@dataclass(slots=True)
class Prepared:
    """A conversation ready to be answered: the request for the core and where to store."""

    conversation_id: str
    alias: str
    request: ChatRequest
    request_id: str
    user_turn: store.Turn
    dropped: int


@dataclass(slots=True)
class Outcome:
    """What the stream produced, stored as the answer turn when it ends."""

    text: list[str] = field(default_factory=list)
    state: str = "complete"
    error_code: str | None = None
    guardrail: dict[str, Any] | None = None


def _content(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidRequest("Type a message first.", param="content")
    if len(raw) > MAX_MESSAGE_CHARS:
        raise InvalidRequest(
            f"A message has at most {MAX_MESSAGE_CHARS} characters.", param="content"
        )
    return raw


def _line(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event) + b"\n"


def plain_error(err: SekishoError, alias: str | None) -> SekishoError:
    """The same error with the member-facing words (status and code unchanged)."""
    words = plain_words(err.code, alias, err.retry_after)
    if err.code in ("invalid_request", "context_length_exceeded") and err.param in (
        "content",
        "alias",
        "title",
    ):
        words = err.message  # our own validation already speaks plainly
    clone = type(err)(words, param=err.param, retry_after=err.retry_after)
    return clone


class Answerer:
    def __init__(
        self,
        db: Database,
        chat: ChatService,
        matrix: Callable[[], Matrix],
        max_body_bytes: int,
    ) -> None:
        self._db = db
        self._chat = chat
        self._matrix = matrix
        self._max_body = max_body_bytes

    def usable_aliases(self, member: Member) -> list[str]:
        return self._chat.usable_aliases(member.principal)

    def _budget(self, alias: str) -> int:
        # A matrix that states a context window (tokens) for the alias bounds the history.
        entry = self._matrix().aliases.get(alias)
        window = getattr(entry, "context_window", None)
        return budget_chars(window if isinstance(window, int) else None, self._max_body)

    def _alias(self, member: Member, conversation_alias: str, raw: object) -> str:
        alias = conversation_alias if raw in (None, "") else raw
        if not isinstance(alias, str) or alias not in self.usable_aliases(member):
            raise PermissionDenied(
                f"'{alias}' is not one of the models your organization may use.", param="alias"
            )
        return alias

    async def prepare(
        self, member: Member, conversation_id: str, action: str, body: dict[str, Any]
    ) -> Prepared:
        """Change the stored turns for `action` and build the chat request; raises on bad input."""
        if action not in ACTIONS:
            raise InvalidRequest("Unknown action.", param="action")
        content = _content(body.get("content")) if action in ("send", "edit") else None
        return await asyncio.to_thread(
            self._prepare_blocking, member, conversation_id, action, content, body.get("alias")
        )

    def _prepare_blocking(
        self,
        member: Member,
        conversation_id: str,
        action: str,
        content: str | None,
        raw_alias: object,
    ) -> Prepared:
        owner = member.owner
        with self._db.begin() as db:
            conv = store.get_conversation(db, owner, conversation_id)
            alias = self._alias(member, conv.alias, raw_alias)
            existing = store.turns(db, owner, conversation_id)
            if action == "send":
                assert content is not None
                user_turn = store.append(db, owner, conversation_id, "user", content)
            elif action == "regenerate":
                users = [t for t in existing if t.role == "user"]
                if not users:
                    raise InvalidRequest("There is nothing to regenerate yet.", param="action")
                user_turn = users[-1]
                store.drop_from(db, owner, conversation_id, user_turn.seq + 1)
            else:
                assert content is not None
                users = [t for t in existing if t.role == "user"]
                if not users:
                    raise InvalidRequest("There is no message to edit yet.", param="action")
                store.drop_from(db, owner, conversation_id, users[-1].seq)
                user_turn = store.append(db, owner, conversation_id, "user", content)
            if alias != conv.alias:
                store.set_alias(db, owner, conversation_id, alias)
            history = history_for(
                store.turns(db, owner, conversation_id), self._budget(alias), alias
            )
        body = {
            "model": alias,
            "messages": history.messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        request = parse_chat_request(orjson.dumps(body))
        return Prepared(
            conversation_id, alias, request, new_request_id(), user_turn, history.dropped
        )

    async def open(self, member: Member, prepared: Prepared) -> ChatResult:
        """Call the chat core; a refusal is stored as a failed answer and raised in plain words."""
        try:
            return await self._chat.complete(
                member.principal, prepared.request, prepared.request_id
            )
        except SekishoError as err:
            await self.finish(member, prepared, Outcome(state="error", error_code=err.code))
            raise plain_error(err, prepared.alias) from err

    async def finish(self, member: Member, prepared: Prepared, outcome: Outcome) -> store.Turn:
        def run() -> store.Turn:
            with self._db.begin() as db:
                return store.append(
                    db,
                    member.owner,
                    prepared.conversation_id,
                    "assistant",
                    "".join(outcome.text),
                    alias=prepared.alias,
                    state=outcome.state,
                    error_code=outcome.error_code,
                    request_id=prepared.request_id,
                    guardrail=outcome.guardrail,
                )

        return await asyncio.to_thread(run)

    async def answer_fully(self, member: Member, prepared: Prepared, result: ChatResult) -> None:
        """Read the whole answer on the server (the page's form fallback) and store it."""
        outcome = Outcome()
        assert result.stream is not None
        decoder = SSEDecoder()
        try:
            async for frame in result.stream:
                texts, error = _deltas(decoder, frame)
                outcome.text.extend(texts)
                if error is not None:
                    outcome.state = "error"
                    outcome.error_code = str(error.get("code") or "upstream_unavailable")
        finally:
            await result.stream.aclose()  # type: ignore[attr-defined]
        notice = guardrail_notice(result.record.guardrail if result.record else None)
        outcome.guardrail = {"notice": notice} if notice else None
        await self.finish(member, prepared, outcome)

    def response(self, member: Member, prepared: Prepared, result: ChatResult) -> AnswerStream:
        return AnswerStream(self, member, prepared, result)


def _deltas(decoder: SSEDecoder, frame: bytes) -> tuple[list[str], dict[str, Any] | None]:
    """The text pieces and any error in a chunk of the chat core's SSE frames."""
    texts: list[str] = []
    error: dict[str, Any] | None = None
    for event in decoder.feed(frame):
        if event.data == "[DONE]":
            continue
        try:
            obj = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(obj, dict):
            continue
        if isinstance(obj.get("error"), dict):
            error = obj["error"]
            continue
        for choice in obj.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            text = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(text, str) and text:
                texts.append(text)
    return texts, error


class AnswerStream(Response):
    """The streaming answer as an ASGI response that watches for the browser leaving."""

    media_type = NDJSON

    def __init__(
        self, answerer: Answerer, member: Member, prepared: Prepared, result: ChatResult
    ) -> None:
        # Not Response.__init__: it would declare a Content-Length for the empty body.
        self.status_code = 200
        self.background = None
        self.raw_headers = [
            (b"content-type", NDJSON.encode()),
            (b"x-accel-buffering", b"no"),
            *((k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()),
        ]
        self._answerer = answerer
        self._member = member
        self._prepared = prepared
        self._result = result

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        prepared, result = self._prepared, self._result
        outcome = Outcome()
        assert result.stream is not None
        stream: AsyncIterator[bytes] = result.stream
        gone = asyncio.Event()

        async def pump() -> None:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await self._send(
                send,
                {
                    "type": "start",
                    "request_id": prepared.request_id,
                    "alias": prepared.alias,
                    "dropped": prepared.dropped,
                    "turn": prepared.user_turn.as_json(),
                },
            )
            decoder = SSEDecoder()
            async for frame in stream:
                texts, error = _deltas(decoder, frame)
                if texts:
                    outcome.text.extend(texts)
                    await self._send(send, {"type": "delta", "text": "".join(texts)})
                if error is not None:
                    outcome.state = "error"
                    outcome.error_code = str(error.get("code") or "upstream_unavailable")

        async def watch() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    gone.set()
                    return

        pumping = asyncio.ensure_future(pump())
        watching = asyncio.ensure_future(watch())
        try:
            await asyncio.wait({pumping, watching}, return_when=asyncio.FIRST_COMPLETED)
            if not pumping.done():  # the browser left (stop): cancel the chat core's stream
                pumping.cancel()
                outcome.state = "stopped"
            try:
                await pumping
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # we are being cancelled ourselves (shutdown), not just the pump
            except OSError:
                pass
            except Exception:
                log.exception("chat answer %s failed", prepared.request_id)
                outcome.state, outcome.error_code = "error", "internal_error"
        finally:
            watching.cancel()
            if not pumping.done():
                pumping.cancel()
            with contextlib.suppress(Exception):
                await stream.aclose()  # type: ignore[attr-defined]
        record = result.record
        info = record.guardrail if record is not None else None
        notice = guardrail_notice(info)
        if notice is not None:
            outcome.guardrail = {"notice": notice}
        # Tell the page first (a suspension notice must not wait for the store), then store.
        if not gone.is_set():
            with contextlib.suppress(OSError):
                if outcome.state == "error":
                    code = outcome.error_code or "internal_error"
                    words = plain_words(code, prepared.alias)
                    await self._send(send, {"type": "error", "code": code, "message": words})
                if notice is not None:
                    await self._send(
                        send, {"type": "notice", "kind": "guardrail", "message": notice}
                    )
        turn = await self._answerer.finish(self._member, prepared, outcome)
        if gone.is_set():
            return
        with contextlib.suppress(OSError):
            await self._send(send, {"type": "done", "turn": turn.as_json()})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _send(self, send: Send, event: dict[str, Any]) -> None:
        await send({"type": "http.response.body", "body": _line(event), "more_body": True})
