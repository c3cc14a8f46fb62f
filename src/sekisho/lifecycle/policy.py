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
MIN_REVIEW = timedelta(hours=1)
MAX_REVIEW = timedelta(days=365)
# two-step request kind -> the lifecycle action it executes once signed off
REQUEST_ACTIONS: dict[str, str] = {
    "suspension": "suspend",
    "reinstatement": "reinstate",
    "offboarding": "offboard",
    "offboarding_complete": "offboard_complete",
}

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


def check_reason(reason: str) -> str:
    """The owner role `reason` needs, or Refused for an unknown reason."""
    if reason not in REASON_OWNER:
        raise Refused(f"unknown reason {reason!r} (one of: {', '.join(REASONS)})")
    return REASON_OWNER[reason]


def check_requester(requester: Person) -> None:
    """Refused unless `requester` is an enabled operator or admin."""
    if requester.disabled:
        raise NotAuthorized("a disabled user can neither request nor authorize")
    if requester.role not in REQUESTER_ROLES:
        raise NotAuthorized(
            f"{requester.email} is {requester.role}; a request comes from an "
            f"{' or '.join(REQUESTER_ROLES)}"
        )


def check_people(reason: str, requester: Person, authorizer: Person) -> None:
    """Refused unless an enabled operator/admin requests and the matching owner authorizes."""
    owner = check_reason(reason)
    if requester.disabled or authorizer.disabled:
        raise NotAuthorized("a disabled user can neither request nor authorize")
    check_requester(requester)
    if authorizer.role != owner:
        raise NotAuthorized(
            f"reason {reason} must be authorized by a {owner}; "
            f"{authorizer.email} is {authorizer.role}"
        )


def sign_off_problem(reason: str, requester: Person, signer: Person) -> str | None:
    """Why `signer` may not sign off a request `requester` made for `reason`, or None.

    The one decision behind the admin API, the console and the CLI: the signer is
    an enabled holder of the owner role matching the reason, and not the requester.
    """
    if signer.id == requester.id:
        return "a request cannot be signed off by the person who made it"
    try:
        check_people(reason, requester, signer)
    except Refused as exc:
        return str(exc)
    return None


def check_sign_off(reason: str, requester: Person, signer: Person) -> None:
    problem = sign_off_problem(reason, requester, signer)
    if problem is not None:
        raise NotAuthorized(problem)


def withdraw_problem(reason: str, requester: Person, actor: Person) -> str | None:
    """Why `actor` may not withdraw the request, or None: either side may (the requester,
    or a holder of the owner role that would sign it off)."""
    if actor.disabled:
        return "a disabled user cannot act"
    if actor.id == requester.id or actor.role == REASON_OWNER.get(reason):
        return None
    return (
        f"only the requester ({requester.email}) or a {REASON_OWNER.get(reason, 'owner')} "
        "may withdraw this request"
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
    if delta < MIN_REVIEW or delta > MAX_REVIEW:
        raise Refused("the review date must be between 1 hour and 365 days from now (e.g. 14 days)")
    return now + delta
