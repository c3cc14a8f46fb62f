"""Suspend, reinstate and off-board a tenant, each in the caller's write transaction.

Every function: checks the policy first (a refusal writes nothing), locks the
tenant row, changes state and bumps `tenants.version`, writes its ledger
entries, queues notifications, and queues the PostgreSQL NOTIFY. It returns
the `Invalidation` the caller publishes after the commit (`Announcer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sekisho import audit
from sekisho.actor import Actor
from sekisho.bus import Invalidation, notify_in_transaction
from sekisho.evidence import EvidenceFilters, EvidenceWindow, collect_bundle, record_bundle
from sekisho.ids import new_id
from sekisho.lifecycle.policy import (
    MIN_REVIEW,
    Person,
    Refused,
    check_note,
    check_people,
    next_state,
    review_date,
)
from sekisho.notify import notify_people
from sekisho.settings import Settings
from sekisho.store.models import Tenant, TenantSuspension, User, UserSession
from sekisho.tenancy.service import find_tenant, find_user


@dataclass(frozen=True, slots=True)
class LifecycleRequest:
    """Who asks, who authorizes, why; `via` says through what (cli, admin-api:token).

    `actor` is the principal that proved itself and is acting now (Rule 14):
    the owner signing off a two-step request, or the CLI's operator identity.
    With `statement` (the CLI's break-glass form) `requested_by` and
    `authorized_by` are only what the actor states; they are recorded as such,
    never as the ledger's actor or authorizer. Without an actor (service
    callers and tests), the requester is recorded as the actor.
    """

    tenant: str
    requested_by: str
    authorized_by: str
    note: str
    via: str = ""
    actor: Actor | None = None
    statement: bool = False
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class LifecycleResult:
    tenant_id: str
    tenant_name: str
    state: str
    suspension_id: str
    event: Invalidation
    evidence_sha256: str | None = None
    review_at: datetime | None = None
    sessions_revoked: int = 0


def _now() -> datetime:
    return datetime.now(UTC)


def person(user: User) -> Person:
    return Person(user.id, user.email, user.role, user.disabled)


def actor_of(p: Person) -> Actor:
    return Actor("user", p.id, p.email, p.role)


def locked_tenant(session: Session, ref: str) -> Tenant:
    """The tenant, its row locked for this transaction on PostgreSQL."""
    tenant = find_tenant(session, ref)
    if session.get_bind().dialect.name == "postgresql":
        session.refresh(tenant, with_for_update=True)
    return tenant


def _people(session: Session, req: LifecycleRequest) -> tuple[Person, Person]:
    return person(find_user(session, req.requested_by)), person(
        find_user(session, req.authorized_by)
    )


def _recorded(
    req: LifecycleRequest, requester: Person, authorizer: Person
) -> tuple[Actor, Actor | None, dict[str, Any]]:
    """(ledger actor, ledger authorizer, extra details) for a step (Rule 14)."""
    via = req.via or (req.actor.via if req.actor else None) or ""
    if req.actor is None:
        return actor_of(requester), actor_of(authorizer), {"via": via}
    if req.statement:
        stated = {
            "requested_by": actor_of(requester).as_dict(),
            "authorized_by": actor_of(authorizer).as_dict(),
        }
        return req.actor, None, {"via": via, "break_glass": True, "statement": stated}
    return (
        req.actor,
        actor_of(authorizer),
        {"via": via, "requested_by": actor_of(requester).as_dict(), "request_id": req.request_id},
    )


def _review_at(
    now: datetime, review_in: timedelta | None, review_at: datetime | None, default_days: int
) -> datetime:
    if review_at is None:
        return review_date(now, review_in, default_days)
    if review_at <= now:
        raise Refused(
            f"the requested review date {review_at.isoformat()} has passed; "
            "withdraw the request and ask again"
        )
    return review_date(now, max(review_at - now, MIN_REVIEW), default_days)


def last_suspension(session: Session, tenant_id: str) -> TenantSuspension | None:
    """The tenant's most recent suspension, open or ended."""
    return session.scalars(
        select(TenantSuspension)
        .where(TenantSuspension.tenant_id == tenant_id)
        .order_by(TenantSuspension.created_at.desc())
    ).first()


def open_suspension(session: Session, tenant_id: str) -> TenantSuspension | None:
    return session.scalars(
        select(TenantSuspension)
        .where(TenantSuspension.tenant_id == tenant_id, TenantSuspension.ended_at.is_(None))
        .order_by(TenantSuspension.created_at.desc())
    ).first()


def _set_state(
    session: Session, settings: Settings, tenant: Tenant, state: str, now: datetime
) -> Invalidation:
    tenant.state = state
    tenant.state_changed_at = now
    tenant.version = tenant.version + 1
    session.flush()
    event = Invalidation(tenant.id, tenant.version, state)
    notify_in_transaction(session, settings.bus.channel, event)
    return event


def revoke_tenant_sessions(session: Session, tenant_id: str, reason: str, now: datetime) -> int:
    """End every live session of the tenant's members (rows stay, marked revoked)."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.tenant_id == tenant_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _tenant_contacts(tenant: Tenant) -> list[str | None]:
    return [tenant.account_owner_email, tenant.cs_email]


def suspend_tenant(
    session: Session,
    settings: Settings,
    req: LifecycleRequest,
    *,
    reason: str,
    review_in: timedelta | None = None,
    review_at: datetime | None = None,
) -> LifecycleResult:
    """Suspend: authorized by the owner matching `reason`; evidence first for security events."""
    note = check_note(req.note)
    requester, authorizer = _people(session, req)
    check_people(reason, requester, authorizer)
    now = _now()
    review_at = _review_at(now, review_in, review_at, settings.lifecycle.review_default_days)
    tenant = locked_tenant(session, req.tenant)
    new_state = next_state(tenant.state, "suspend")
    actor, approver, recorded = _recorded(req, requester, authorizer)

    evidence_sha: str | None = None
    if reason == "security_event":  # Rule 9: preserve the evidence before anything changes
        window = EvidenceWindow(now - timedelta(seconds=settings.lifecycle.evidence_window_s), now)
        bundle = collect_bundle(
            session,
            EvidenceFilters(tenant_id=tenant.id),
            window,
            meta={"purpose": "suspension_snapshot", "reason": reason},
        )
        record_bundle(
            session,
            bundle,
            purpose="suspension_snapshot",
            actor=actor,
            keep_content=True,
            note=f"evidence snapshot before suspension: {note}",
        )
        evidence_sha = bundle.sha256

    suspension = TenantSuspension(
        id=new_id("sus", 8),
        tenant_id=tenant.id,
        reason=reason,
        note=note,
        requested_by=requester.id,
        authorized_by=authorizer.id,
        created_at=now,
        review_at=review_at,
        evidence_sha256=evidence_sha,
    )
    session.add(suspension)
    event = _set_state(session, settings, tenant, new_state, now)
    revoked = revoke_tenant_sessions(session, tenant.id, "tenant_suspended", now)
    audit.record(
        session,
        actor,
        "tenant.suspend",
        ("tenant", tenant.id),
        tenant_id=tenant.id,
        reason=reason,
        note=note,
        authorized_by=approver,
        details={
            "suspension_id": suspension.id,
            "review_at": review_at.isoformat(),
            "evidence_sha256": evidence_sha,
            "sessions_revoked": revoked,
            "tenant_version": tenant.version,
            **recorded,
        },
    )
    notify_people(
        session,
        settings,
        event="tenant.suspended",
        tenant_id=tenant.id,
        subject=f"Sekisho: access for {tenant.name} is suspended",
        payload={
            "tenant": tenant.name,
            "tenant_id": tenant.id,
            "reason": reason,
            "suspended_at": now.isoformat(),
            "review_at": review_at.isoformat(),
        },
        emails=_tenant_contacts(tenant),
        dedupe_key=f"suspended:{suspension.id}",
    )
    return LifecycleResult(
        tenant.id, tenant.name, new_state, suspension.id, event, evidence_sha, review_at, revoked
    )


def _end_suspension(
    session: Session, settings: Settings, req: LifecycleRequest, action: str, ledger_action: str
) -> LifecycleResult:
    note = check_note(req.note)
    requester, authorizer = _people(session, req)
    tenant = locked_tenant(session, req.tenant)
    new_state = next_state(tenant.state, action)
    suspension = open_suspension(session, tenant.id)
    if suspension is None:
        raise Refused(f"tenant {tenant.name!r} has no open suspension")
    check_people(suspension.reason, requester, authorizer)
    now = _now()
    suspension.ended_at = now
    suspension.ended_kind = "reinstated" if action == "reinstate" else "offboarding"
    suspension.ended_requested_by = requester.id
    suspension.ended_authorized_by = authorizer.id
    suspension.end_note = note
    event = _set_state(session, settings, tenant, new_state, now)
    actor, approver, recorded = _recorded(req, requester, authorizer)
    audit.record(
        session,
        actor,
        ledger_action,
        ("tenant", tenant.id),
        tenant_id=tenant.id,
        reason=suspension.reason,
        note=note,
        authorized_by=approver,
        details={"suspension_id": suspension.id, "tenant_version": tenant.version, **recorded},
    )
    word = "reinstated" if action == "reinstate" else "being off-boarded"
    notify_people(
        session,
        settings,
        event=f"tenant.{suspension.ended_kind}",
        tenant_id=tenant.id,
        subject=f"Sekisho: {tenant.name} is {word}",
        payload={
            "tenant": tenant.name,
            "tenant_id": tenant.id,
            "state": new_state,
            "at": now.isoformat(),
        },
        emails=_tenant_contacts(tenant),
        dedupe_key=f"{suspension.ended_kind}:{suspension.id}",
    )
    return LifecycleResult(tenant.id, tenant.name, new_state, suspension.id, event)


def reinstate_tenant(
    session: Session, settings: Settings, req: LifecycleRequest
) -> LifecycleResult:
    """Reinstate: authorized by the owner role matching the open suspension's reason."""
    return _end_suspension(session, settings, req, "reinstate", "tenant.reinstate")


def offboard_tenant(
    session: Session, settings: Settings, req: LifecycleRequest, *, complete: bool = False
) -> LifecycleResult:
    """Start off-boarding a suspended tenant, or (`complete`) finish it. Deletes nothing."""
    if not complete:
        return _end_suspension(session, settings, req, "offboard", "tenant.offboard.start")
    note = check_note(req.note)
    requester, authorizer = _people(session, req)
    tenant = locked_tenant(session, req.tenant)
    new_state = next_state(tenant.state, "offboard_complete")
    last = last_suspension(session, tenant.id)
    if last is None:
        raise Refused(f"tenant {tenant.name!r} has no suspension to off-board from")
    check_people(last.reason, requester, authorizer)
    event = _set_state(session, settings, tenant, new_state, _now())
    actor, approver, recorded = _recorded(req, requester, authorizer)
    audit.record(
        session,
        actor,
        "tenant.offboard.complete",
        ("tenant", tenant.id),
        tenant_id=tenant.id,
        reason=last.reason,
        note=note,
        authorized_by=approver,
        details={
            "suspension_id": last.id,
            "tenant_version": tenant.version,
            "data_retained": True,
            **recorded,
        },
    )
    return LifecycleResult(tenant.id, tenant.name, new_state, last.id, event)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def tenant_view(session: Session, ref: str, now: datetime | None = None) -> dict[str, Any]:
    """Everything an operator needs about a tenant's lifecycle, as plain data."""
    now = now or _now()
    tenant = find_tenant(session, ref)
    emails = dict(session.execute(select(User.id, User.email)).all())
    history = session.scalars(
        select(TenantSuspension)
        .where(TenantSuspension.tenant_id == tenant.id)
        .order_by(TenantSuspension.created_at)
    ).all()
    suspensions = [
        {
            "id": s.id,
            "reason": s.reason,
            "note": s.note,
            "created_at": _iso(s.created_at),
            "requested_by": emails.get(s.requested_by),
            "authorized_by": emails.get(s.authorized_by),
            "review_at": _iso(s.review_at),
            "overdue": s.ended_at is None and s.review_at <= now,
            "evidence_sha256": s.evidence_sha256,
            "ended_at": _iso(s.ended_at),
            "ended_kind": s.ended_kind,
            "end_note": s.end_note,
        }
        for s in history
    ]
    return {
        "id": tenant.id,
        "name": tenant.name,
        "state": tenant.state,
        "state_changed_at": _iso(tenant.state_changed_at),
        "version": tenant.version,
        "sovereignty": tenant.sovereignty,
        "china_gated_access": tenant.china_gated_access,
        "allowed_aliases": tenant.allowed_aliases,
        "account_owner_email": tenant.account_owner_email,
        "cs_email": tenant.cs_email,
        "open_suspension": next((s for s in suspensions if s["ended_at"] is None), None),
        "suspensions": suspensions,
    }
