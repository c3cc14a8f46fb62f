"""Entry bodies and pure chain verification."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from sekisho.actor import Actor
from sekisho.ledger.entry import (
    ZERO_HASH,
    EntryError,
    LedgerEntry,
    StoredEntry,
    build_entry,
    entry_from_body,
    ledger_for,
    verify_chain,
)
from sekisho.ledger.merkle import leaf_hash

T0 = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
ADMIN = {"type": "user", "id": "usr_1", "email": "ops@example.com", "role": "admin"}


def _chain(n: int, ledger: str = "platform", tenant: str | None = None) -> list[LedgerEntry]:
    out: list[LedgerEntry] = []
    prev = ZERO_HASH
    for seq in range(n):
        e = build_entry(
            ledger=ledger,
            seq=seq,
            time=T0 + timedelta(seconds=seq),
            prev=prev,
            actor=ADMIN,
            action="tenant.update",
            target=("tenant", f"ten_{seq}"),
            tenant=tenant,
            details={"n": seq},
        )
        out.append(e)
        prev = e.leaf_hash
    return out


def _stored(entries: list[LedgerEntry]) -> list[StoredEntry]:
    return [StoredEntry(e.seq, e.body, e.leaf_hash, e.prev) for e in entries]


def test_body_is_canonical_and_hash_is_rfc6962_leaf() -> None:
    e = build_entry(
        ledger="tenant:ten_1",
        seq=0,
        time=T0.astimezone(timezone(timedelta(hours=9))),
        prev=ZERO_HASH,
        actor=Actor("user", "usr_1", "a@example.com", "billing_owner"),
        action="tenant.suspend",
        target={"type": "tenant", "id": "ten_1"},
        tenant="ten_1",
        reason="non_payment",
        note="invoice 42 unpaid",
        authorized_by=ADMIN,
        request_id="req_1",
        details={"review_by": "2025-02-01", "key_prefix": "sk-abc"},
    )
    assert e.body.startswith(b'{"action":"tenant.suspend","actor":{"email":"a@example.com"')
    assert b'"time":"2025-01-02T03:04:05.678901Z"' in e.body
    assert e.leaf_hash == leaf_hash(e.body)
    again = entry_from_body(e.body)
    assert again == e


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"tenant": 5}, "ids are strings"),
        ({"target": ("tenant", 7)}, "ids are strings"),
        ({"action": "Tenant Suspend"}, "invalid action"),
        ({"details": {"api_key": "sk-live-123"}}, "looks like a secret"),
        ({"details": {"nested": [{"password": "x"}]}}, "looks like a secret"),
        ({"details": {"pem": "-----BEGIN PRIVATE KEY-----"}}, "private key"),
        ({"details": {"amount": 1.5}}, "floats"),
        ({"details": {"big": 2**60}}, "outside"),
        ({"time": datetime(2025, 1, 1)}, "timezone-aware"),
        ({"actor": {"type": "user"}}, "actor.id"),
        ({"actor": {"type": "user", "id": "u", "password": "x"}}, "unknown fields"),
        ({"ledger": "platform", "tenant": "ten_1"}, "belongs in ledger tenant:ten_1"),
        ({"ledger": "tenant:ten_2", "tenant": "ten_1"}, "belongs in ledger tenant:ten_1"),
        ({"ledger": "tenant:ten_1"}, "must name its tenant"),
        ({"ledger": "Bad Name"}, "invalid ledger name"),
    ],
)
def test_bad_fields_are_refused(changes: dict[str, object], fragment: str) -> None:
    fields: dict[str, object] = {
        "ledger": "platform",
        "seq": 0,
        "time": T0,
        "prev": ZERO_HASH,
        "actor": ADMIN,
        "action": "key.create",
        "target": ("api_key", "key_1"),
    }
    fields.update(changes)
    with pytest.raises(EntryError, match=fragment):
        build_entry(**fields)  # type: ignore[arg-type]


def test_secret_looking_names_that_are_safe() -> None:
    details = {"key_id": "k1", "key_prefix": "sk-ab", "secret_hash": "00", "max_tokens": 5}
    build_entry(
        ledger="platform",
        seq=0,
        time=T0,
        prev=ZERO_HASH,
        actor=ADMIN,
        action="key.create",
        target=("api_key", "k1"),
        details=details,
    )


def test_ledger_for() -> None:
    assert ledger_for(None) == "platform"
    assert ledger_for("ten_1") == "tenant:ten_1"


def test_intact_chain() -> None:
    check = verify_chain("platform", _stored(_chain(5)))
    assert check.ok and check.size == 5
    assert check.leaf_hashes[-1] == _chain(5)[-1].leaf_hash


def _first_break(stored: list[StoredEntry], ledger: str = "platform") -> tuple[int, str]:
    check = verify_chain(ledger, stored)
    assert check.first_break is not None
    return check.first_break.seq, check.first_break.reason


def test_edited_body_detected_at_that_entry() -> None:
    stored = _stored(_chain(5))
    stored[2] = replace(stored[2], body=stored[2].body.replace(b'"n":2', b'"n":9'))
    assert _first_break(stored) == (2, "stored leaf hash does not match the body (body edited)")


def test_edited_body_with_recomputed_hash_detected_at_next() -> None:
    entries = _chain(5)
    body = entries[2].body.replace(b'"n":2', b'"n":9')
    stored = _stored(entries)
    stored[2] = StoredEntry(2, body, leaf_hash(body), entries[2].prev)
    seq, reason = _first_break(stored)
    assert seq == 3 and "prev is not the leaf hash of seq 2" in reason


def test_deleted_swapped_inserted() -> None:
    stored = _stored(_chain(6))
    assert _first_break(stored[:3] + stored[4:])[0] == 3
    assert _first_break([stored[0], stored[2], stored[1], *stored[3:]])[0] == 1
    assert _first_break([*stored[:2], stored[1], *stored[2:]])[0] == 2
    renumbered = [StoredEntry(i, s.body) for i, s in enumerate(stored[:2] + stored[3:])]
    seq, reason = _first_break(renumbered)
    assert seq == 2 and "body says seq 3" in reason


def test_entry_from_other_ledger_or_tenant_detected() -> None:
    foreign = _chain(2, ledger="tenant:ten_1", tenant="ten_1")
    seq, reason = _first_break(_stored(foreign), ledger="tenant:ten_2")
    assert seq == 0 and "belongs to ledger tenant:ten_1" in reason


def test_non_canonical_body_detected() -> None:
    stored = _stored(_chain(2))
    stored[1] = StoredEntry(1, stored[1].body.replace(b'{"action"', b'{ "action"'))
    seq, reason = _first_break(stored)
    assert seq == 1 and "canonical" in reason
