"""Who may request and who may authorize each lifecycle step. Pure, no I/O.

Rule 8: reason `non_payment` needs a billing owner, `contract_termination` a
legal owner, `security_event` a security owner. An operator (or admin)
requests; only the owner role matching the reason authorizes, and the same
owner role authorizes the way out (reinstatement or off-boarding).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sekisho.control.errors import ControlPlaneError

REASON_OWNER: dict[str, str] = {
    "non_payment": "billing_owner",
    "contract_termination": "legal_owner",
    "security_event": "security_owner",
}
REASONS = tuple(REASON_OWNER)
REQUESTER_ROLES = ("operator", "admin")
MAX_REVIEW = timedelta(days=365)

# action -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "suspend": (("active",), "suspended"),
    "reinstate": (("suspended",), "active"),
    "offboard": (("suspended",), "offboarding"),
    "offboard_complete": (("offboarding",), "offboarded"),
}


class Refused(ControlPlaneError):
    """A lifecycle step that is not allowed; nothing was written."""


class NotAuthorized(Refused):
    """The requester or authorizer does not hold the role this step needs."""


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    email: str
    role: str
    disabled: bool = False


def next_state(current: str, action: str) -> str:
    """The state `action` leads to from `current`, or Refused."""
    sources, target = TRANSITIONS[action]
    if current not in sources:
        raise Refused(
            f"cannot {action.replace('_', ' ')} a tenant that is {current}"
            f" (only from: {', '.join(sources)})"
        )
    return target


def check_people(reason: str, requester: Person, authorizer: Person) -> None:
    """Refused unless an enabled operator/admin requests and the matching owner authorizes."""
    if reason not in REASON_OWNER:
        raise Refused(f"unknown reason {reason!r} (one of: {', '.join(REASONS)})")
    if requester.disabled or authorizer.disabled:
        raise NotAuthorized("a disabled user can neither request nor authorize")
    if requester.role not in REQUESTER_ROLES:
        raise NotAuthorized(
            f"{requester.email} is {requester.role}; a request comes from an "
            f"{' or '.join(REQUESTER_ROLES)}"
        )
    owner = REASON_OWNER[reason]
    if authorizer.role != owner:
        raise NotAuthorized(
            f"reason {reason} must be authorized by a {owner}; "
            f"{authorizer.email} is {authorizer.role}"
        )


def check_note(note: str) -> str:
    cleaned = note.strip()
    if not cleaned:
        raise Refused("a note saying why is required")
    if len(cleaned) > 2000:
        raise Refused("the note is longer than 2000 characters")
    return cleaned


def review_date(now: datetime, review_in: timedelta | None, default_days: int) -> datetime:
    """When the suspension must be reviewed: `review_in` from now, default 14 days."""
    delta = review_in if review_in is not None else timedelta(days=default_days)
    if delta <= timedelta(0) or delta > MAX_REVIEW:
        raise Refused("the review date must be within a year from now")
    return now + delta
