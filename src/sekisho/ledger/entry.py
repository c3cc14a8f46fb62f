"""Ledger entries: the body schema, its canonical bytes and leaf hash, chain verification.

An entry body is the RFC 8785 canonical JSON of::

    {"v": 1, "ledger": "platform" | "tenant:<id>", "seq": n, "time": RFC 3339 UTC,
     "actor": {"type", "id", "email", "role"}, "action": "tenant.suspend",
     "target": {"type", "id"}, "tenant": id | null, "reason": ..., "note": ...,
     "authorized_by": actor | null, "request_id": ..., "details": {...},
     "prev": hex leaf hash of entry n-1 (64 zeros for n = 0)}

Leaf hash = SHA-256(0x00 || body). Every entry that names a tenant lives in
that tenant's ledger, so one tenant's history can be shown complete on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sekisho.ledger.jcs import CanonicalizationError, canonicalize, parse_canonical
from sekisho.ledger.merkle import leaf_hash

__all__ = [
    "ENTRY_VERSION",
    "LEDGER_OPEN",
    "PLATFORM_LEDGER",
    "SYSTEM_ACTOR",
    "ZERO_HASH",
    "ChainBreak",
    "ChainCheck",
    "EntryError",
    "LedgerEntry",
    "StoredEntry",
    "build_entry",
    "check_ledger_name",
    "entry_from_body",
    "format_time",
    "ledger_for",
    "tenant_ledger",
    "verify_chain",
]

ENTRY_VERSION = 1
PLATFORM_LEDGER = "platform"
# Recorded in the platform ledger when a tenant ledger gets its first entry.
LEDGER_OPEN = "ledger.open"
SYSTEM_ACTOR = {"type": "system", "id": "ledger"}
TENANT_PREFIX = "tenant:"
ZERO_HASH = bytes(32)

_LEDGER_RE = re.compile(r"[a-z][a-z0-9_-]{0,31}(:[A-Za-z0-9_.-]{1,64})?")
_ACTION_RE = re.compile(r"[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*")
_HEX64_RE = re.compile(r"[0-9a-f]{64}")
_TIME_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
_BODY_KEYS = frozenset(
    {
        "v",
        "ledger",
        "seq",
        "time",
        "actor",
        "action",
        "target",
        "tenant",
        "reason",
        "note",
        "authorized_by",
        "request_id",
        "details",
        "prev",
    }
)
_ACTOR_KEYS = ("type", "id", "email", "role")
# Names of detail fields that would carry a secret. Ids, prefixes and hashes of
# secrets are fine ("key_id", "key_prefix", "secret_hash").
_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "apikey",
        "authorization",
        "cookie",
        "credential",
        "credentials",
        "privatekey",
        "plaintext",
    }
)
_SAFE_SUFFIXES = frozenset(
    {
        "id",
        "ids",
        "prefix",
        "hash",
        "sha256",
        "digest",
        "fingerprint",
        "count",
        "name",
        "type",
        "kind",
        "expires",
        "expiry",
        "ttl",
        "at",
        "ref",
        "version",
        "len",
        "length",
    }
)


class EntryError(ValueError):
    """An entry cannot be built, or a stored body is not a valid entry."""


def tenant_ledger(tenant_id: str) -> str:
    """The name of a tenant's own ledger."""
    return check_ledger_name(TENANT_PREFIX + tenant_id)


def ledger_for(tenant: str | None, ledger: str | None = None) -> str:
    """The ledger an entry belongs in; refuses a tenant's entry outside its ledger."""
    expected = PLATFORM_LEDGER if tenant is None else tenant_ledger(tenant)
    if ledger is None:
        return expected
    check_ledger_name(ledger)
    if tenant is not None and ledger != expected:
        raise EntryError(f"an entry of tenant {tenant} belongs in ledger {expected}, not {ledger}")
    if tenant is None and ledger.startswith(TENANT_PREFIX):
        raise EntryError(f"an entry in {ledger} must name its tenant")
    return ledger


def check_ledger_name(name: str) -> str:
    """Return ``name`` if it is a valid ledger name, else raise EntryError."""
    if not isinstance(name, str) or not _LEDGER_RE.fullmatch(name):
        raise EntryError(f"invalid ledger name {name!r}")
    return name


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with microseconds, the one time format of entry bodies."""
    if moment.tzinfo is None:
        raise EntryError("entry time must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class LedgerEntry:
    """One entry: its canonical body bytes, leaf hash and decoded fields."""

    ledger: str
    seq: int
    body: bytes
    leaf_hash: bytes
    prev: bytes
    time: datetime
    action: str
    actor: Mapping[str, str | None]
    target: Mapping[str, str]
    tenant: str | None
    reason: str | None
    note: str | None
    authorized_by: Mapping[str, str | None] | None
    request_id: str | None
    details: Mapping[str, Any] = field(default_factory=dict)


def build_entry(
    *,
    ledger: str,
    seq: int,
    time: datetime,
    prev: bytes,
    actor: Any,
    action: str,
    target: Any,
    tenant: str | None = None,
    reason: str | None = None,
    note: str | None = None,
    authorized_by: Any = None,
    request_id: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> LedgerEntry:
    """Validate the fields and produce the entry with its canonical body."""
    tenant = _opt_id(tenant, "tenant")
    ledger_for(tenant, ledger)
    if len(prev) != 32:
        raise EntryError("prev must be a 32-byte hash")
    doc = {
        "v": ENTRY_VERSION,
        "ledger": ledger,
        "seq": _seq(seq),
        "time": format_time(time),
        "actor": _actor(actor, "actor"),
        "action": _action(action),
        "target": _target(target),
        "tenant": _opt_id(tenant, "tenant"),
        "reason": _opt_text(reason, "reason"),
        "note": _opt_text(note, "note"),
        "authorized_by": None if authorized_by is None else _actor(authorized_by, "authorized_by"),
        "request_id": _opt_id(request_id, "request_id"),
        "details": _details(details),
        "prev": prev.hex(),
    }
    try:
        body = canonicalize(doc)
    except CanonicalizationError as exc:
        raise EntryError(str(exc)) from exc
    return _entry(doc, body)


def entry_from_body(body: bytes) -> LedgerEntry:
    """Decode and validate stored body bytes; EntryError names what is wrong."""
    try:
        doc = parse_canonical(body)
    except CanonicalizationError as exc:
        raise EntryError(str(exc)) from exc
    if not isinstance(doc, dict) or set(doc) != _BODY_KEYS:
        raise EntryError("body does not have the entry fields")
    if type(doc["v"]) is not int or doc["v"] != ENTRY_VERSION:
        raise EntryError(f"unknown entry version {doc['v']!r}")
    if not isinstance(doc["time"], str) or not _TIME_RE.fullmatch(doc["time"]):
        raise EntryError("time is not RFC 3339 UTC with microseconds")
    if not isinstance(doc["prev"], str) or not _HEX64_RE.fullmatch(doc["prev"]):
        raise EntryError("prev is not a lowercase hex SHA-256")
    _seq(doc["seq"])
    ledger_for(_opt_id(doc["tenant"], "tenant"), doc["ledger"])
    if doc["actor"] is None or _actor(doc["actor"], "actor") != doc["actor"]:
        raise EntryError("actor is not in normal form")
    auth = doc["authorized_by"]
    if auth is not None and _actor(auth, "authorized_by") != auth:
        raise EntryError("authorized_by is not in normal form")
    if _target(doc["target"]) != doc["target"]:
        raise EntryError("target is not in normal form")
    _action(doc["action"])
    for key in ("reason", "note"):
        _opt_text(doc[key], key)
    _opt_id(doc["request_id"], "request_id")
    if not isinstance(doc["details"], dict):
        raise EntryError("details is not an object")
    return _entry(doc, body)


def _entry(doc: dict[str, Any], body: bytes) -> LedgerEntry:
    return LedgerEntry(
        ledger=doc["ledger"],
        seq=doc["seq"],
        body=body,
        leaf_hash=leaf_hash(body),
        prev=bytes.fromhex(doc["prev"]),
        time=datetime.fromisoformat(doc["time"]),
        action=doc["action"],
        actor=doc["actor"],
        target=doc["target"],
        tenant=doc["tenant"],
        reason=doc["reason"],
        note=doc["note"],
        authorized_by=doc["authorized_by"],
        request_id=doc["request_id"],
        details=doc["details"],
    )


def _seq(seq: Any) -> int:
    if type(seq) is not int or seq < 0:
        raise EntryError(f"seq must be a non-negative integer, got {seq!r}")
    return seq


def _id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise EntryError(f"{name} must be a non-empty string (ids are strings), got {value!r}")
    return value


def _opt_id(value: Any, name: str) -> str | None:
    return None if value is None else _id(value, name)


def _opt_text(value: Any, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise EntryError(f"{name} must be a string")
    return value


def _action(action: Any) -> str:
    if not isinstance(action, str) or not _ACTION_RE.fullmatch(action):
        raise EntryError(f"invalid action {action!r}: use dotted lowercase, e.g. tenant.suspend")
    return action


def _actor(actor: Any, name: str) -> dict[str, str | None]:
    if hasattr(actor, "as_dict"):
        actor = actor.as_dict()
    if not isinstance(actor, Mapping):
        raise EntryError(f"{name} must be a mapping with type and id")
    unknown = set(actor) - set(_ACTOR_KEYS)
    if unknown:
        raise EntryError(f"{name} has unknown fields {sorted(unknown)}")
    return {
        "type": _id(actor.get("type"), f"{name}.type"),
        "id": _id(actor.get("id"), f"{name}.id"),
        "email": _opt_id(actor.get("email"), f"{name}.email"),
        "role": _opt_id(actor.get("role"), f"{name}.role"),
    }


def _target(target: Any) -> dict[str, str]:
    if isinstance(target, tuple) and len(target) == 2:
        target = {"type": target[0], "id": target[1]}
    if not isinstance(target, Mapping) or set(target) != {"type", "id"}:
        raise EntryError("target must be a mapping with exactly type and id")
    return {"type": _id(target["type"], "target.type"), "id": _id(target["id"], "target.id")}


def _details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    if details is None:
        return {}
    if not isinstance(details, Mapping):
        raise EntryError("details must be a mapping")
    _refuse_secrets(details, "details")
    return dict(details)


def _refuse_secrets(value: Any, path: str) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and _looks_secret(key):
                raise EntryError(
                    f"{path}.{key} looks like a secret; record an id, prefix or hash instead"
                )
            _refuse_secrets(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _refuse_secrets(item, f"{path}[{i}]")
    elif isinstance(value, str) and "-----BEGIN" in value and "PRIVATE KEY" in value:
        raise EntryError(f"{path} holds a private key")


def _looks_secret(key: str) -> bool:
    words = [w for w in re.split(r"[_\-.\s]+|(?<=[a-z])(?=[A-Z])", key.strip()) if w]
    words = [w.lower() for w in words]
    if not words or words[-1] in _SAFE_SUFFIXES:
        return False
    joined = "".join(words)
    if joined in {"key", "apikey", "privatekey", "signingkey", "secretkey"} or joined.endswith(
        ("apikey", "privatekey")
    ):
        return True
    return any(w in _SECRET_WORDS for w in words)


@dataclass(frozen=True)
class StoredEntry:
    """An entry as a store or an export hands it to the verifier."""

    seq: int
    body: bytes
    leaf_hash: bytes | None = None  # the stored column, when there is one
    prev: bytes | None = None
    sig: bytes | None = None  # the gateway's entry signature (sekisho.ledger.signing)


@dataclass(frozen=True)
class ChainBreak:
    """The first entry of a ledger that fails verification, and why."""

    seq: int
    reason: str


@dataclass(frozen=True)
class ChainCheck:
    """Result of walking one ledger's hash chain."""

    ledger: str
    leaf_hashes: tuple[bytes, ...]
    entries: tuple[LedgerEntry | None, ...]
    first_break: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.first_break is None

    @property
    def size(self) -> int:
        return len(self.leaf_hashes)


def verify_chain(
    ledger: str, entries: Iterable[StoredEntry], *, start: int = 0, prev: bytes = ZERO_HASH
) -> ChainCheck:
    """Walk a ledger in stored order and name the first bad entry.

    ``start``/``prev`` continue a chain from an entry already trusted. Leaf
    hashes are computed from the body bytes for every entry (also after a
    break) so that tree roots can still be compared with checkpoints.
    """
    hashes: list[bytes] = []
    decoded: list[LedgerEntry | None] = []
    first: ChainBreak | None = None
    for position, stored in enumerate(entries, start=start):
        computed = leaf_hash(stored.body)
        reason, entry = _check_one(ledger, position, stored, computed, prev)
        if reason is not None and first is None:
            first = ChainBreak(position, reason)
        hashes.append(computed)
        decoded.append(entry)
        prev = computed
    return ChainCheck(ledger, tuple(hashes), tuple(decoded), first)


def _check_one(
    ledger: str, position: int, stored: StoredEntry, computed: bytes, prev: bytes
) -> tuple[str | None, LedgerEntry | None]:
    if stored.seq != position:
        what = "missing or reordered" if stored.seq > position else "duplicated or reordered"
        return f"expected seq {position}, found seq {stored.seq}: entries {what}", None
    try:
        entry = entry_from_body(stored.body)
    except EntryError as exc:
        return f"body is not a valid entry: {exc}", None
    if entry.seq != position:
        return f"body says seq {entry.seq} but is stored at seq {position}", entry
    if entry.ledger != ledger:
        return f"body belongs to ledger {entry.ledger}, found in {ledger}", entry
    if stored.leaf_hash is not None and stored.leaf_hash != computed:
        return "stored leaf hash does not match the body (body edited)", entry
    if entry.prev != prev:
        before = "the zero hash" if position == 0 else f"the leaf hash of seq {position - 1}"
        return f"prev is not {before} (this entry or the one before it was altered)", entry
    if stored.prev is not None and stored.prev != entry.prev:
        return "stored prev column does not match the body", entry
    return None, entry
