"""Rule 8 as a pure function: each reason x each role, and the state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sekisho.lifecycle.policy import (
    REASON_OWNER,
    NotAuthorized,
    Person,
    Refused,
    check_people,
    next_state,
    review_date,
)
from sekisho.store.models import ROLES

OPERATOR = Person("u1", "op@x.test", "operator")


@pytest.mark.parametrize("reason", sorted(REASON_OWNER))
@pytest.mark.parametrize("role", ROLES)
def test_only_the_matching_owner_authorizes(reason: str, role: str) -> None:
    authorizer = Person("u2", f"{role}@x.test", role)
    if role == REASON_OWNER[reason]:
        check_people(reason, OPERATOR, authorizer)
    else:
        with pytest.raises(NotAuthorized, match=REASON_OWNER[reason]):
            check_people(reason, OPERATOR, authorizer)


@pytest.mark.parametrize("role", ROLES)
def test_only_operators_and_admins_request(role: str) -> None:
    requester = Person("u1", "r@x.test", role)
    owner = Person("u2", "b@x.test", "billing_owner")
    if role in ("operator", "admin"):
        check_people("non_payment", requester, owner)
    else:
        with pytest.raises(NotAuthorized):
            check_people("non_payment", requester, owner)


def test_disabled_people_and_unknown_reasons_are_refused() -> None:
    owner = Person("u2", "b@x.test", "billing_owner")
    with pytest.raises(NotAuthorized):
        check_people("non_payment", OPERATOR, Person("u2", "b@x.test", "billing_owner", True))
    with pytest.raises(Refused, match="unknown reason"):
        check_people("late_vibes", OPERATOR, owner)


@pytest.mark.parametrize(
    ("state", "action", "expected"),
    [
        ("active", "suspend", "suspended"),
        ("suspended", "reinstate", "active"),
        ("suspended", "offboard", "offboarding"),
        ("offboarding", "offboard_complete", "offboarded"),
        ("suspended", "suspend", None),
        ("active", "reinstate", None),
        ("offboarding", "reinstate", None),
        ("active", "offboard", None),
        ("offboarded", "reinstate", None),
        ("suspended", "offboard_complete", None),
    ],
)
def test_state_machine(state: str, action: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(Refused):
            next_state(state, action)
    else:
        assert next_state(state, action) == expected


def test_review_date_defaults_to_14_days_and_is_bounded() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert review_date(now, None, 14) == now + timedelta(days=14)
    assert review_date(now, timedelta(days=3), 14) == now + timedelta(days=3)
    for bad in (timedelta(0), timedelta(days=400)):
        with pytest.raises(Refused):
            review_date(now, bad, 14)
