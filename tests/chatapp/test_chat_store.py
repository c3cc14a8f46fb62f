"""The conversation store on SQLite and PostgreSQL: ownership, order, delete, suspension keeps all."""

from __future__ import annotations

import pytest

from sekisho.actor import Actor
from sekisho.chatapp import store
from sekisho.lifecycle import service as lifecycle
from sekisho.settings import Settings
from sekisho.store.db import Database
from sekisho.tenancy.service import create_user
from tests.lifecycle.support import make_people, row_counts
from tests.support.gateway import gateway_settings, make_tenant


@pytest.fixture
def owners(any_db: Database, tmp_path) -> tuple[Settings, store.Owner, store.Owner, store.Owner]:  # type: ignore[no-untyped-def]
    settings = gateway_settings("http://127.0.0.1:9", tmp_path)
    a, _ = make_tenant(any_db, settings, "store-a")
    b, _ = make_tenant(any_db, settings, "store-b")
    with any_db.begin() as s:
        ua = create_user(s, "a1@a.test", "member", None, Actor.system("t"), tenant_ref=a)
        ua2 = create_user(s, "a2@a.test", "member", None, Actor.system("t"), tenant_ref=a)
        ub = create_user(s, "b1@b.test", "member", None, Actor.system("t"), tenant_ref=b)
    return settings, store.Owner(a, ua.id), store.Owner(a, ua2.id), store.Owner(b, ub.id)


def test_turns_are_ordered_and_the_title_comes_from_the_first_message(
    any_db: Database, owners
) -> None:  # type: ignore[no-untyped-def]
    _, mine, _, _ = owners
    with any_db.begin() as s:
        conv = store.create_conversation(s, mine, "chat-large")
        store.append(s, mine, conv.id, "user", "  What is   a sekisho? ")
        store.append(s, mine, conv.id, "assistant", "A checkpoint.", alias="chat-large")
        store.append(s, mine, conv.id, "user", "Where?")
    with any_db.read() as s:
        turns = store.turns(s, mine, conv.id)
        assert [t.seq for t in turns] == [1, 2, 3]
        assert store.get_conversation(s, mine, conv.id).title == "What is a sekisho?"
    with any_db.begin() as s:
        store.drop_from(s, mine, conv.id, 2)
    with any_db.read() as s:
        assert [t.content for t in store.turns(s, mine, conv.id)] == ["  What is   a sekisho? "]


def test_nobody_else_reaches_a_conversation(any_db: Database, owners) -> None:  # type: ignore[no-untyped-def]
    _, mine, neighbour, stranger = owners
    with any_db.begin() as s:
        conv = store.create_conversation(s, mine, "chat-large", "private")
        store.append(s, mine, conv.id, "user", "hello")
    for other in (neighbour, stranger, store.Owner(stranger.tenant_id, mine.user_id)):
        with any_db.begin() as s:
            attempts = [
                (store.get_conversation, ()),
                (store.turns, ()),
                (store.rename, ("x",)),
                (store.delete_conversation, ()),
                (store.append, ("user", "x")),
                (store.drop_from, (1,)),
            ]
            for fn, extra in attempts:
                with pytest.raises(store.ConversationNotFound):
                    fn(s, other, conv.id, *extra)  # type: ignore[operator]
            assert store.list_conversations(s, other) == []
    with any_db.read() as s:
        assert store.get_conversation(s, mine, conv.id).title == "private"
        assert len(store.turns(s, mine, conv.id)) == 1


def test_delete_removes_only_that_conversation(any_db: Database, owners) -> None:  # type: ignore[no-untyped-def]
    _, mine, _, _ = owners
    with any_db.begin() as s:
        keep = store.create_conversation(s, mine, "chat-large", "keep")
        drop = store.create_conversation(s, mine, "chat-large", "drop")
        for c in (keep, drop):
            store.append(s, mine, c.id, "user", "hi")
    with any_db.begin() as s:
        store.delete_conversation(s, mine, drop.id)
    with any_db.read() as s:
        assert [c.id for c in store.list_conversations(s, mine)] == [keep.id]
        assert len(store.turns(s, mine, keep.id)) == 1


def test_suspension_and_reinstatement_delete_no_conversation(any_db: Database, owners) -> None:  # type: ignore[no-untyped-def]
    settings, mine, _, _ = owners
    people = make_people(any_db, passwords=False)
    with any_db.begin() as s:
        conv = store.create_conversation(s, mine, "chat-large")
        store.append(s, mine, conv.id, "user", "keep me")
    before = row_counts(any_db)
    req = lifecycle.LifecycleRequest(
        tenant=mine.tenant_id,
        requested_by=people["operator"],
        authorized_by=people["legal_owner"],
        note="contract ended",
        via="tests",
    )
    with any_db.begin() as s:
        lifecycle.suspend_tenant(s, settings, req, reason="contract_termination")
    with any_db.begin() as s:
        lifecycle.reinstate_tenant(s, settings, req)
    after = row_counts(any_db)
    for table in ("chat_conversations", "chat_messages"):
        assert after[table] == before[table] == 1
    with any_db.read() as s:
        assert store.turns(s, mine, conv.id)[0].content == "keep me"
