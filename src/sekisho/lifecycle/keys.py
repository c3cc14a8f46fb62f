"""API key lifecycle beyond creation: list, rotate with an overlap window, revoke."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sekisho import audit
from sekisho.actor import Actor
from sekisho.bus import Invalidation, notify_in_transaction
from sekisho.control.errors import ControlPlaneError
from sekisho.ids import WrongKind, expect_kind
from sekisho.lifecycle.service import last_suspension
from sekisho.matrix import Matrix
from sekisho.settings import Settings
from sekisho.store.models import ApiKey, Tenant
from sekisho.tenancy.service import create_key, find_tenant

MAX_OVERLAP = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class KeyChange:
    key: ApiKey
    event: Invalidation
    secret: str | None = None  # the new key of a rotation, shown once
    replaced: ApiKey | None = None


def key_status(key: ApiKey, now: datetime) -> str:
    if key.revoked_at is not None and key.revoked_at <= now:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


def blocked_because(session: Session, tenant: Tenant) -> str | None:
    """Why every key of `tenant` is refused although the key itself is fine, or None."""
    if tenant.state == "active":
        return None
    why = f"tenant {tenant.name} is {tenant.state}"
    suspension = last_suspension(session, tenant.id)
    if suspension is not None:
        why += (
            f" ({suspension.reason}, since {suspension.created_at.isoformat(timespec='seconds')})"
        )
    return why


def key_view(key: ApiKey, now: datetime, blocked: str | None = None) -> dict[str, Any]:
    """A key as listed: never the secret, only its prefix. `blocked`: why the tenant's state
    refuses an otherwise usable key (shown as status `blocked`)."""

    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "id": key.id,
        "prefix": key.prefix,
        "name": key.name,
        "tenant_id": key.tenant_id,
        "aliases": key.aliases,
        "status": "blocked"
        if blocked and key_status(key, now) == "active"
        else key_status(key, now),
        "blocked_because": blocked if key_status(key, now) == "active" else None,
        "created_at": iso(key.created_at),
        "expires_at": iso(key.expires_at),
        "revoked_at": iso(key.revoked_at),
        "last_used_at": iso(key.last_used_at),
    }


def list_keys(session: Session, tenant_ref: str) -> list[dict[str, Any]]:
    tenant = find_tenant(session, tenant_ref)
    now = datetime.now(UTC)
    rows = session.scalars(
        select(ApiKey).where(ApiKey.tenant_id == tenant.id).order_by(ApiKey.created_at)
    ).all()
    blocked = blocked_because(session, tenant)
    return [key_view(k, now, blocked) for k in rows]


def find_key(session: Session, ref: str) -> ApiKey:
    """A key by id (`key_...`) or prefix (`sks_...`); never by anything else."""
    ref = ref.strip()
    try:
        typed = expect_kind(ref, "key", "sks")
    except WrongKind as exc:
        raise ControlPlaneError(str(exc)) from exc
    if not typed:
        raise ControlPlaneError(f"{ref!r} is neither a key id (key_...) nor a prefix (sks_...)")
    column = ApiKey.id if ref.startswith("key_") else ApiKey.prefix
    key = session.scalars(select(ApiKey).where(column == ref)).first()
    if key is None:
        raise ControlPlaneError(f"no API key with id or prefix {ref!r}")
    return key


def _bump(session: Session, settings: Settings, tenant_id: str) -> Invalidation:
    tenant = session.get(Tenant, tenant_id)
    assert tenant is not None
    tenant.version = tenant.version + 1
    session.flush()
    event = Invalidation(tenant.id, tenant.version, tenant.state)
    notify_in_transaction(session, settings.bus.channel, event)
    return event


def revoke_key(
    session: Session, settings: Settings, ref: str, actor: Actor, note: str | None = None
) -> KeyChange:
    """Revoke at once (the row stays); every replica drops it within a second."""
    key = find_key(session, ref)
    now = datetime.now(UTC)
    if key.revoked_at is not None:
        raise ControlPlaneError(f"API key {key.prefix} is already revoked")
    key.revoked_at = now
    event = _bump(session, settings, key.tenant_id)
    audit.record(
        session,
        actor,
        "key.revoke",
        ("api_key", key.id),
        tenant_id=key.tenant_id,
        note=note,
        details={"prefix": key.prefix},
    )
    return KeyChange(key, event)


def rotate_key(
    session: Session,
    settings: Settings,
    matrix: Matrix,
    ref: str,
    actor: Actor,
    *,
    overlap: timedelta,
    note: str | None = None,
) -> KeyChange:
    """A new key with the same tenant, scope and name; the old one expires after `overlap`."""
    if overlap < timedelta(0) or overlap > MAX_OVERLAP:
        raise ControlPlaneError("the overlap must be between 0 and 30 days")
    old = find_key(session, ref)
    now = datetime.now(UTC)
    if key_status(old, now) != "active":
        raise ControlPlaneError(
            f"API key {old.prefix} is {key_status(old, now)}; nothing to rotate"
        )
    new, secret = create_key(
        session,
        matrix,
        old.tenant_id,
        actor,
        aliases=old.aliases,
        expires_at=old.expires_at if old.expires_at and old.expires_at > now + overlap else None,
        name=old.name,
    )
    ends = now + overlap
    if old.expires_at is None or old.expires_at > ends:
        old.expires_at = ends
    event = _bump(session, settings, old.tenant_id)
    audit.record(
        session,
        actor,
        "key.rotate",
        ("api_key", old.id),
        tenant_id=old.tenant_id,
        note=note,
        details={
            "old_prefix": old.prefix,
            "new_key_id": new.id,
            "new_prefix": new.prefix,
            "old_expires_at": old.expires_at.isoformat(),
        },
    )
    return KeyChange(new, event, secret, old)
