"""Two-step lifecycle steps: an operator's request, then the matching owner's sign-off.

    request_suspension / request_reinstatement / request_offboarding   (operator or admin)
          │  pending ── withdraw (the requester, or a holder of the owner role) ──► withdrawn
          ▼
    sign_off (the owner role matching the reason, not the requester) ──► executed

Every function runs in the caller's write transaction and writes its ledger
entry there (Rule 10); the actor is always the principal that proved itself
(Rule 14), loaded afresh from the store, so a disabled user or a changed role
is refused at once. Who may sign off or withdraw is decided by
`sekisho.lifecycle.policy` (`sign_off_problem`, `withdraw_problem`), the one
decision the admin API, the console and the CLI share. `sign_off` executes the
step through `sekisho.lifecycle.service` (a security suspension snapshots its
evidence first); the caller announces `result.event` after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sekisho import audit
from sekisho.actor import Actor
from sekisho.bus import Invalidation
from sekisho.ids import new_id
from sekisho.lifecycle import service
from sekisho.lifecycle.policy import (
    MAX_REVIEW,
    MIN_REVIEW,
    REASON_OWNER,
    REQUEST_ACTIONS,
    NotAuthorized,
    Person,
    Refused,
    check_note,
    check_reason,
    check_requester,
    check_sign_off,
    next_state,
    sign_off_problem,
    withdraw_problem,
)
from sekisho.lifecycle.tables import REQUEST_STATES, SuspensionRequestRow
from sekisho.settings import Settings
from sekisho.store.models import Tenant, User
from sekisho.tenancy.service import find_tenant

__all__ = [
    "SuspensionRequest",
    "get_request",
    "list_requests",
    "pending_requests",
    "request_offboarding",
    "request_reinstatement",
    "request_suspension",
    "sign_off",
    "withdraw",
]


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _who(user: User | None) -> dict[str, str] | None:
    if user is None:
        return None
    return {"id": user.id, "email": user.email, "role": user.role}


@dataclass(frozen=True, slots=True)
class SuspensionRequest:
    """A request as the API, the console and the CLI show it (plain values)."""

    id: str
    kind: str  # suspension | reinstatement | offboarding | offboarding_complete
    state: str  # pending | executed | withdrawn
    tenant_id: str
    tenant_name: str
    tenant_state: str
    reason: str
    owner_role: str
    note: str
    review_at: datetime | None
    requested_by: dict[str, str]
    requested_at: datetime
    requested_via: str | None
    decided_by: dict[str, str] | None
    decided_at: datetime | None
    decided_via: str | None
    decision_note: str | None
    suspension_id: str | None
    evidence_sha256: str | None
    result: service.LifecycleResult | None = None  # set by sign_off only

    @property
    def event(self) -> Invalidation | None:
        """What the caller announces after the commit (a signed-off, executed step)."""
        return self.result.event if self.result else None

    def requester(self) -> Person:
        r = self.requested_by
        return Person(r["id"], r["email"], r["role"])

    def as_dict(self, viewer: Person | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "tenant_id": self.tenant_id,
            "tenant": self.tenant_name,
            "tenant_state": self.tenant_state,
            "reason": self.reason,
            "owner_role": self.owner_role,
            "note": self.note,
            "review_at": _iso(self.review_at),
            "requested_by": self.requested_by,
            "requested_at": _iso(self.requested_at),
            "requested_via": self.requested_via,
            "decided_by": self.decided_by,
            "decided_at": _iso(self.decided_at),
            "decided_via": self.decided_via,
            "decision_note": self.decision_note,
            "suspension_id": self.suspension_id,
            "evidence_sha256": self.evidence_sha256,
        }
        if viewer is not None:
            pending = self.state == "pending"
            sign = sign_off_problem(self.reason, self.requester(), viewer) if pending else None
            back = withdraw_problem(self.reason, self.requester(), viewer) if pending else None
            out["can_sign_off"] = pending and sign is None
            out["sign_off_refused_because"] = sign
            out["can_withdraw"] = pending and back is None
        return out


def _view(
    session: Session, row: SuspensionRequestRow, result: service.LifecycleResult | None = None
) -> SuspensionRequest:
    tenant = session.get(Tenant, row.tenant_id)
    requester = _who(session.get(User, row.requested_by))
    assert tenant is not None and requester is not None
    return SuspensionRequest(
        id=row.id,
        kind=row.kind,
        state=row.state,
        tenant_id=tenant.id,
        tenant_name=tenant.name,
        tenant_state=tenant.state,
        reason=row.reason,
        owner_role=REASON_OWNER[row.reason],
        note=row.note,
        review_at=row.review_at,
        requested_by=requester,
        requested_at=row.requested_at,
        requested_via=row.requested_via,
        decided_by=_who(session.get(User, row.decided_by)) if row.decided_by else None,
        decided_at=row.decided_at,
        decided_via=row.decided_via,
        decision_note=row.decision_note,
        suspension_id=row.suspension_id,
        evidence_sha256=row.evidence_sha256,
        result=result,
    )


def person_of(session: Session, actor: Actor) -> Person:
    """The acting user as the store knows them now (role, disabled), or NotAuthorized."""
    user = session.get(User, actor.id) if actor.kind == "user" else None
    if user is None:
        raise NotAuthorized("this step needs a signed-in platform user")
    return service.person(user)


def _pending_for(session: Session, tenant_id: str) -> SuspensionRequestRow | None:
    return session.scalars(
        select(SuspensionRequestRow).where(
            SuspensionRequestRow.tenant_id == tenant_id, SuspensionRequestRow.state == "pending"
        )
    ).first()


def _check_review_at(review_at: datetime | None, now: datetime) -> datetime | None:
    if review_at is None:
        return None
    if review_at.tzinfo is None:
        review_at = review_at.replace(tzinfo=UTC)
    if not now + MIN_REVIEW <= review_at <= now + MAX_REVIEW:
        raise Refused("the review date must be between 1 hour and 365 days from now")
    return review_at


def _create(
    session: Session,
    tenant_ref: str,
    kind: str,
    note: str,
    actor: Actor,
    *,
    reason: str | None = None,
    review_at: datetime | None = None,
) -> SuspensionRequest:
    note = check_note(note)
    requester = person_of(session, actor)
    check_requester(requester)
    now = _now()
    review_at = _check_review_at(review_at, now)
    tenant = service.locked_tenant(session, tenant_ref)
    next_state(tenant.state, REQUEST_ACTIONS[kind])  # refuse a step that cannot happen now
    if reason is None:  # the way out: the reason of the suspension being ended
        last = service.last_suspension(session, tenant.id)
        if last is None:
            raise Refused(f"tenant {tenant.name!r} has no suspension to end")
        reason = last.reason
    owner = check_reason(reason)
    pending = _pending_for(session, tenant.id)
    if pending is not None:
        raise Refused(
            f"tenant {tenant.name!r} already has a pending {pending.kind} request {pending.id}; "
            "sign it off or withdraw it first"
        )
    row = SuspensionRequestRow(
        id=new_id("sreq", 8),
        kind=kind,
        tenant_id=tenant.id,
        reason=reason,
        note=note,
        review_at=review_at,
        state="pending",
        requested_by=requester.id,
        requested_at=now,
        requested_via=actor.via,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "suspension_request.create",
        ("suspension_request", row.id),
        tenant_id=tenant.id,
        reason=reason,
        note=note,
        details={"kind": kind, "owner_role": owner, "review_at": _iso(review_at)},
    )
    return _view(session, row)


def request_suspension(
    session: Session,
    tenant_ref: str,
    reason: str,
    note: str,
    review_at: datetime | None,
    actor: Actor,
) -> SuspensionRequest:
    """An operator's (or admin's) request to suspend; `review_at` None: the default on execution."""
    check_reason(reason)
    return _create(
        session, tenant_ref, "suspension", note, actor, reason=reason, review_at=review_at
    )


def request_reinstatement(
    session: Session, tenant_ref: str, note: str, actor: Actor
) -> SuspensionRequest:
    """A request to end the open suspension; signed off by the owner role of its reason."""
    return _create(session, tenant_ref, "reinstatement", note, actor)


def request_offboarding(
    session: Session, tenant_ref: str, note: str, actor: Actor, *, complete: bool = False
) -> SuspensionRequest:
    """A request to start (or `complete`) off-boarding a suspended tenant. Deletes nothing."""
    kind = "offboarding_complete" if complete else "offboarding"
    return _create(session, tenant_ref, kind, note, actor)


def _pending_row(session: Session, request_id: str) -> SuspensionRequestRow:
    row = session.get(SuspensionRequestRow, request_id.strip())
    if row is None:
        raise Refused(f"no suspension request with id {request_id!r}")
    if session.get_bind().dialect.name == "postgresql":
        session.refresh(row, with_for_update=True)
    if row.state != "pending":
        raise Refused(f"request {row.id} is {row.state}, not pending")
    return row


def sign_off(
    session: Session,
    request_id: str,
    actor: Actor,
    *,
    settings: Settings,
    note: str | None = None,
) -> SuspensionRequest:
    """The matching owner's sign-off: records it and executes the step in this transaction.

    Refused (nothing written) unless `actor` is an enabled holder of the owner
    role matching the reason and not the requester. Announce `.event` after commit.
    """
    row = _pending_row(session, request_id)
    signer = person_of(session, actor)
    requester_user = session.get(User, row.requested_by)
    assert requester_user is not None
    requester = service.person(requester_user)
    check_sign_off(row.reason, requester, signer)
    decision = check_note(note) if note else None
    now = _now()
    audit.record(
        session,
        actor,
        "suspension_request.sign_off",
        ("suspension_request", row.id),
        tenant_id=row.tenant_id,
        reason=row.reason,
        note=decision,
        authorized_by=actor,
        details={"kind": row.kind, "requested_by": requester_user.email},
    )
    step = service.LifecycleRequest(
        tenant=row.tenant_id,
        requested_by=requester.id,
        authorized_by=signer.id,
        note=row.note,
        via=actor.via or "",
        actor=actor,
        request_id=row.id,
    )
    if row.kind == "suspension":
        result = service.suspend_tenant(
            session, settings, step, reason=row.reason, review_at=row.review_at
        )
    elif row.kind == "reinstatement":
        result = service.reinstate_tenant(session, settings, step)
    else:
        result = service.offboard_tenant(
            session, settings, step, complete=row.kind == "offboarding_complete"
        )
    row.state = "executed"
    row.decided_by = signer.id
    row.decided_at = now
    row.decided_via = actor.via
    row.decision_note = decision
    row.suspension_id = result.suspension_id
    row.evidence_sha256 = result.evidence_sha256
    session.flush()
    return _view(session, row, result)


def withdraw(
    session: Session, request_id: str, actor: Actor, note: str | None = None
) -> SuspensionRequest:
    """Either side withdraws a pending request: the requester, or a holder of the owner role."""
    row = _pending_row(session, request_id)
    who = person_of(session, actor)
    requester_user = session.get(User, row.requested_by)
    assert requester_user is not None
    problem = withdraw_problem(row.reason, service.person(requester_user), who)
    if problem is not None:
        raise NotAuthorized(problem)
    decision = check_note(note) if note else None
    row.state = "withdrawn"
    row.decided_by = who.id
    row.decided_at = _now()
    row.decided_via = actor.via
    row.decision_note = decision
    session.flush()
    audit.record(
        session,
        actor,
        "suspension_request.withdraw",
        ("suspension_request", row.id),
        tenant_id=row.tenant_id,
        reason=row.reason,
        note=decision,
        details={
            "kind": row.kind,
            "side": "requester" if who.id == requester_user.id else "owner",
        },
    )
    return _view(session, row)


def get_request(session: Session, request_id: str) -> SuspensionRequest:
    row = session.get(SuspensionRequestRow, request_id.strip())
    if row is None:
        raise Refused(f"no suspension request with id {request_id!r}")
    return _view(session, row)


def list_requests(
    session: Session,
    *,
    state: str | None = "pending",
    tenant_ref: str | None = None,
    for_actor: Actor | None = None,
) -> list[SuspensionRequest]:
    """Requests, newest first; an owner (`for_actor`) sees only those of their role."""
    if state is not None and state not in REQUEST_STATES:
        raise Refused(f"unknown state {state!r} (one of: {', '.join(REQUEST_STATES)})")
    query = select(SuspensionRequestRow).order_by(SuspensionRequestRow.requested_at.desc())
    if state is not None:
        query = query.where(SuspensionRequestRow.state == state)
    if tenant_ref is not None:
        query = query.where(SuspensionRequestRow.tenant_id == find_tenant(session, tenant_ref).id)
    if for_actor is not None and for_actor.role in REASON_OWNER.values():
        reasons = [r for r, owner in REASON_OWNER.items() if owner == for_actor.role]
        query = query.where(SuspensionRequestRow.reason.in_(reasons))
    return [_view(session, row) for row in session.scalars(query.limit(500))]


def pending_requests(session: Session, for_actor: Actor | None = None) -> list[SuspensionRequest]:
    """Pending requests; for an owner, those their role may sign off."""
    return list_requests(session, state="pending", for_actor=for_actor)
