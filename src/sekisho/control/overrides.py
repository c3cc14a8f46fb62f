"""Operator overrides of an alias: set (drain or pin, with reason and expiry), revert, expire.

The policy (what an override may do, how it changes a plan) is pure, in
`sekisho.routing.overrides`; this module stores overrides and writes each set,
revert and expiry to the ledger in the same transaction. Every replica reads
the active overrides from the store about once a second, so an override
reaches all of them without a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sekisho import audit
from sekisho.actor import Actor
from sekisho.control.errors import ControlPlaneError
from sekisho.ids import new_id
from sekisho.matrix import Matrix
from sekisho.routing.overrides import Override, override_warnings, validate_override
from sekisho.store.models import AliasOverride

MIN_DURATION = timedelta(minutes=1)
MAX_DURATION = timedelta(days=7)


def to_policy(row: AliasOverride) -> Override:
    return Override(
        id=row.id,
        alias=row.alias,
        kind=row.kind,  # type: ignore[arg-type]
        provider=row.provider,
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at.timestamp(),
        expires_at=row.expires_at.timestamp(),
        reverted_at=row.reverted_at.timestamp() if row.reverted_at else None,
    )


def set_override(
    session: Session,
    matrix: Matrix,
    *,
    alias: str,
    kind: str,
    provider: str,
    duration: timedelta,
    reason: str,
    actor: Actor,
    incident_id: str | None = None,
    now: datetime | None = None,
) -> tuple[AliasOverride, list[str]]:
    """Store a validated override; returns it with any warnings. Refusals change nothing."""
    now = now or datetime.now(UTC)
    if alias not in matrix.aliases:
        raise ControlPlaneError(f"unknown alias {alias!r}")
    if kind not in ("drain", "pin"):
        raise ControlPlaneError(f"override kind must be drain or pin, not {kind!r}")
    if not reason or not reason.strip():
        raise ControlPlaneError("an override needs a reason")
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise ControlPlaneError("an override lasts between 1 minute and 7 days")
    candidate = Override(
        id=new_id("ovr", 6),
        alias=alias,
        kind=kind,  # type: ignore[arg-type]
        provider=provider,
        reason=reason.strip(),
        created_by=actor.email or actor.id,
        created_at=now.timestamp(),
        expires_at=(now + duration).timestamp(),
    )
    problems = validate_override(matrix, candidate)
    if problems:
        raise ControlPlaneError("; ".join(problems))
    active = load_active(session, now)
    warnings = override_warnings(matrix, candidate, active)
    row = AliasOverride(
        id=candidate.id,
        alias=alias,
        kind=kind,
        provider=provider,
        reason=candidate.reason,
        created_by=candidate.created_by,
        created_at=now,
        expires_at=now + duration,
        incident_id=incident_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        f"alias.override.{kind}",
        ("alias", alias),
        note=candidate.reason,
        details={
            "override_id": row.id,
            "provider": provider,
            "expires_at": row.expires_at.isoformat(),
            "incident_id": incident_id,
        },
    )
    return row, warnings


def revert_overrides(
    session: Session,
    *,
    alias: str,
    actor: Actor,
    note: str | None = None,
    override_id: str | None = None,
    now: datetime | None = None,
) -> list[AliasOverride]:
    """End the active overrides of an alias (or one of them); each revert is recorded."""
    now = now or datetime.now(UTC)
    rows = [
        r
        for r in active_rows(session, now)
        if r.alias == alias and (override_id is None or r.id == override_id)
    ]
    if not rows:
        raise ControlPlaneError(
            f"alias {alias!r} has no active override"
            + (f" with id {override_id!r}" if override_id else "")
        )
    for row in rows:
        row.reverted_at = now
        row.reverted_by = actor.email or actor.id
        audit.record(
            session,
            actor,
            "alias.override.revert",
            ("alias", alias),
            note=note,
            details={"override_id": row.id, "kind": row.kind, "provider": row.provider},
        )
    session.flush()
    return rows


def active_rows(session: Session, now: datetime) -> Sequence[AliasOverride]:
    return session.scalars(
        select(AliasOverride)
        .where(AliasOverride.reverted_at.is_(None), AliasOverride.expires_at > now)
        .order_by(AliasOverride.created_at, AliasOverride.id)
    ).all()


def load_active(session: Session, now: datetime) -> list[Override]:
    return [to_policy(r) for r in active_rows(session, now)]


def history(session: Session, alias: str, limit: int = 20) -> Sequence[AliasOverride]:
    return session.scalars(
        select(AliasOverride)
        .where(AliasOverride.alias == alias)
        .order_by(AliasOverride.created_at.desc())
        .limit(limit)
    ).all()


def histories(
    session: Session, aliases: list[str], limit: int = 20
) -> dict[str, list[AliasOverride]]:
    """`history` of several aliases in one query: each alias's newest `limit` overrides."""
    ranked = (
        select(
            AliasOverride.id,
            func.row_number()
            .over(partition_by=AliasOverride.alias, order_by=AliasOverride.created_at.desc())
            .label("rn"),
        )
        .where(AliasOverride.alias.in_(aliases))
        .subquery()
    )
    rows = session.scalars(
        select(AliasOverride)
        .join(ranked, ranked.c.id == AliasOverride.id)
        .where(ranked.c.rn <= limit)
        .order_by(AliasOverride.created_at.desc())
    ).all()
    out: dict[str, list[AliasOverride]] = {a: [] for a in aliases}
    for row in rows:
        out[row.alias].append(row)
    return out


def record_expiries(session: Session, now: datetime | None = None) -> list[str]:
    """Record each override that has expired, exactly once across all replicas."""
    now = now or datetime.now(UTC)
    due = session.scalars(
        select(AliasOverride).where(
            AliasOverride.expires_at <= now,
            AliasOverride.reverted_at.is_(None),
            AliasOverride.expiry_recorded_at.is_(None),
        )
    ).all()
    recorded: list[str] = []
    for row in due:
        claimed = session.execute(
            update(AliasOverride)
            .where(AliasOverride.id == row.id, AliasOverride.expiry_recorded_at.is_(None))
            .values(expiry_recorded_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            continue  # another replica got there first
        audit.record(
            session,
            Actor.system("override-expiry"),
            "alias.override.expire",
            ("alias", row.alias),
            details={
                "override_id": row.id,
                "kind": row.kind,
                "provider": row.provider,
                "expired_at": row.expires_at.isoformat(),
            },
        )
        recorded.append(row.id)
    return recorded
