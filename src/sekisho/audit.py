"""The one call every control-plane change makes to record itself in the ledger.

`record` appends in the caller's transaction, so the change and its entry
commit or roll back together (Rule 10). The actor is the principal that
proved itself; through what it acted (`actor.via`) goes into `details.via`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from sekisho.actor import Actor
from sekisho.ledger.append import append


def record(
    session: Session,
    actor: Actor,
    action: str,
    target: tuple[str, str],
    *,
    tenant_id: str | None = None,
    reason: str | None = None,
    note: str | None = None,
    authorized_by: Actor | None = None,
    request_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    if actor.via and not (details and "via" in details):
        details = {**(details or {}), "via": actor.via}
    append(
        session,
        actor=actor.as_dict(),
        action=action,
        target={"type": target[0], "id": target[1]},
        tenant=tenant_id,
        reason=reason,
        note=note,
        authorized_by=authorized_by.as_dict() if authorized_by else None,
        request_id=request_id,
        details=details,
    )
