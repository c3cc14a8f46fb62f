"""Guardrail events: one per finding, hashed, written off the hot path in batches.

The value a detector matched is turned into a salted HMAC-SHA256 at once and
dropped; the event keeps type, location, span and score. Equal values give
equal hashes under one salt, so an investigator can tell "the same card
again" without anyone being able to read the card.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert

from sekisho.guardrails.normalize import normalize
from sekisho.guardrails.tables import GuardrailEventRow
from sekisho.store.db import Database

EVENTS: Table = GuardrailEventRow.__table__  # type: ignore[assignment]


@dataclass(slots=True)
class GuardrailEvent:
    id: str
    ts: datetime
    request_id: str
    stage: str
    check: str
    action: str
    enforced: bool
    kind: str
    location: str
    policy: str
    policy_version: str
    latency_ms: float
    tenant_id: str | None = None
    key_id: str | None = None
    user_id: str | None = None
    alias: str | None = None
    span_start: int | None = None
    span_end: int | None = None
    score: float | None = None
    value_hash: str | None = None

    def as_row(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]


def value_hash(salt: bytes, value: str) -> str:
    """Salted hash of a matched value (normalised first: full-width and ASCII digits agree)."""
    return hmac.new(salt, normalize(value).text.encode(), hashlib.sha256).hexdigest()[:32]


def load_or_create_salt(state_dir: str, env_value: str | None) -> bytes:
    """The salt from the configured environment variable, else a 0600 file in state_dir."""
    if env_value:
        return env_value.encode()
    path = Path(state_dir) / "guardrail-salt"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # never replaces: a concurrent first start keeps one salt
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text(encoding="ascii").strip().encode()


class EventStoreSink:
    """Write a batch of events in one transaction (runs in the writer's thread)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def __call__(self, batch: Sequence[Any]) -> None:
        if not batch:
            return
        with self._db.begin() as session:
            session.execute(insert(EVENTS), [e.as_row() for e in batch])


@dataclass(slots=True)
class GuardStats:
    """Counters for /metrics: labels are stage, check, action — never values or tenants."""

    findings: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    blocks: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    errors: dict[tuple[str, str, str], int] = field(default_factory=lambda: defaultdict(int))
    checked: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    unknown_policy: int = 0
    refresh_failures: int = 0
