"""The conversation store: a member's own conversations and their turns, in the caller's session.

Every function takes the owner (tenant id and user id) and filters by both:
a conversation that belongs to anyone else is reported exactly like one that
does not exist (`ConversationNotFound`, 404), so ids cannot be probed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from sekisho.chatapp.tables import ChatMessage, Conversation
from sekisho.errors import InvalidRequest, NotFound
from sekisho.ids import new_id
from sekisho.store.db import Database

TITLE_MAX = 200
DEFAULT_TITLE = "New chat"
LIST_LIMIT = 200


_T = TypeVar("_T")


async def in_db(db: Database, fn: Callable[[Session], _T], *, write: bool = False) -> _T:
    """Run `fn` in one store transaction (a write transaction if `write`) off the event loop."""

    def run() -> _T:
        with db.begin() if write else db.read() as session:
            return fn(session)

    return await asyncio.to_thread(run)


class ConversationNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No such conversation.")


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose conversations: the signed-in member and their tenant."""

    tenant_id: str
    user_id: str


@dataclass(frozen=True, slots=True)
class Turn:
    id: str
    seq: int
    role: str
    content: str
    alias: str | None
    state: str
    error_code: str | None
    guardrail: dict[str, Any] | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "role": self.role,
            "content": self.content,
            "alias": self.alias,
            "state": self.state,
            "error_code": self.error_code,
            "guardrail": self.guardrail,
        }


@dataclass(frozen=True, slots=True)
class ConversationView:
    id: str
    title: str
    alias: str
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "alias": self.alias,
            "updated_at": self.updated_at.isoformat(),
        }


def _now() -> datetime:
    return datetime.now(UTC)


def clean_title(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidRequest("A title must be non-empty text.", param="title")
    title = " ".join(raw.split())
    if len(title) > TITLE_MAX:
        raise InvalidRequest(f"A title has at most {TITLE_MAX} characters.", param="title")
    return title


def title_from(text: str) -> str:
    """A conversation's first title: the start of its first message."""
    words = " ".join(text.split())
    return (words[:60] + "…") if len(words) > 60 else (words or DEFAULT_TITLE)


def _view(row: Conversation) -> ConversationView:
    return ConversationView(row.id, row.title, row.alias, row.updated_at)


def _turn(row: ChatMessage) -> Turn:
    return Turn(
        row.id,
        row.seq,
        row.role,
        row.content,
        row.alias,
        row.state,
        row.error_code,
        row.guardrail,
    )


def _owned(db: Session, owner: Owner, conversation_id: str) -> Conversation:
    row = db.scalars(
        select(Conversation).where(
            Conversation.id == conversation_id,
            Conversation.tenant_id == owner.tenant_id,
            Conversation.user_id == owner.user_id,
        )
    ).first()
    if row is None:
        raise ConversationNotFound()
    return row


def list_conversations(db: Session, owner: Owner) -> list[ConversationView]:
    rows = db.scalars(
        select(Conversation)
        .where(Conversation.tenant_id == owner.tenant_id, Conversation.user_id == owner.user_id)
        .order_by(Conversation.updated_at.desc(), Conversation.id)
        .limit(LIST_LIMIT)
    )
    return [_view(r) for r in rows]


def create_conversation(
    db: Session, owner: Owner, alias: str, title: object = DEFAULT_TITLE
) -> ConversationView:
    now = _now()
    row = Conversation(
        id=new_id("cnv", 10),
        tenant_id=owner.tenant_id,
        user_id=owner.user_id,
        title=clean_title(title),
        alias=alias,
        created_at=now,
        updated_at=now,
    )
    db.add(row)
    db.flush()
    return _view(row)


def get_conversation(db: Session, owner: Owner, conversation_id: str) -> ConversationView:
    return _view(_owned(db, owner, conversation_id))


def turns(db: Session, owner: Owner, conversation_id: str) -> list[Turn]:
    _owned(db, owner, conversation_id)
    rows = db.scalars(
        select(ChatMessage)
        .where(
            ChatMessage.conversation_id == conversation_id,
            ChatMessage.tenant_id == owner.tenant_id,
        )
        .order_by(ChatMessage.seq)
    )
    return [_turn(r) for r in rows]


def rename(db: Session, owner: Owner, conversation_id: str, title: object) -> ConversationView:
    row = _owned(db, owner, conversation_id)
    row.title = clean_title(title)
    row.updated_at = _now()
    return _view(row)


def set_alias(db: Session, owner: Owner, conversation_id: str, alias: str) -> None:
    _owned(db, owner, conversation_id).alias = alias


def delete_conversation(db: Session, owner: Owner, conversation_id: str) -> None:
    """The member deletes their own conversation and its turns (suspension never does)."""
    row = _owned(db, owner, conversation_id)
    db.execute(delete(ChatMessage).where(ChatMessage.conversation_id == row.id))
    db.delete(row)


def append(
    db: Session,
    owner: Owner,
    conversation_id: str,
    role: str,
    content: str,
    *,
    alias: str | None = None,
    state: str = "complete",
    error_code: str | None = None,
    request_id: str | None = None,
    guardrail: dict[str, Any] | None = None,
) -> Turn:
    conv = _owned(db, owner, conversation_id)
    last = db.scalar(
        select(func.max(ChatMessage.seq)).where(ChatMessage.conversation_id == conv.id)
    )
    now = _now()
    row = ChatMessage(
        id=new_id("msg", 10),
        conversation_id=conv.id,
        tenant_id=owner.tenant_id,
        seq=(last or 0) + 1,
        role=role,
        content=content,
        alias=alias,
        state=state,
        error_code=error_code,
        request_id=request_id,
        guardrail=guardrail,
        created_at=now,
    )
    db.add(row)
    if role == "user" and conv.title == DEFAULT_TITLE and (last or 0) == 0:
        conv.title = title_from(content)
    conv.updated_at = now
    db.flush()
    return _turn(row)


def drop_from(db: Session, owner: Owner, conversation_id: str, seq: int) -> None:
    """Remove the turns from `seq` on (regenerate drops the last answer; edit the last pair)."""
    conv = _owned(db, owner, conversation_id)
    db.execute(
        delete(ChatMessage).where(ChatMessage.conversation_id == conv.id, ChatMessage.seq >= seq)
    )
