"""Alias availability (403/404 before any upstream call), `/v1/models`, and the tenant policy."""

from __future__ import annotations

import pytest

from sekisho.routing.availability import alias_access, usable_aliases
from sekisho.routing.policy import effective_constraint, tenant_kinds

from .builders import EU, JP, alias, demo_matrix, matrix, provider, tenant

M = demo_matrix()


@pytest.mark.parametrize(
    ("alias_name", "policy", "denial", "code", "status"),
    [
        ("nope", tenant(), "unknown_alias", "model_not_found", 404),
        (
            "chat-jp",
            tenant(allowed={"chat-large"}),
            "not_allowed_for_tenant",
            "permission_denied",
            403,
        ),
        ("chat-jp", tenant(key={"chat-large"}), "not_allowed_for_key", "permission_denied", 403),
        ("chat-cn", tenant(), "china_gate_not_granted", "permission_denied", 403),
        ("chat-large", tenant(JP), "primary_does_not_satisfy", "permission_denied", 403),
        ("chat-cn", tenant(JP, china=True), "primary_does_not_satisfy", "permission_denied", 403),
    ],
)
def test_denials_map_to_the_error_table(
    alias_name: str, policy: object, denial: str, code: str, status: int
) -> None:
    access = alias_access(M, alias_name, policy)  # type: ignore[arg-type]
    assert not access.usable
    assert (access.denial, access.error_code, access.http_status) == (denial, code, status)
    assert alias_name in access.customer_message
    # Short ids ("cn", "r") occur in any English sentence; the longer ones must not.
    words = access.customer_message.replace(alias_name, "")
    assert not [s for s in M.identity_strings() if len(s) > 2 and s in words]


def test_unknown_primary_provider_is_our_bug_not_the_customers() -> None:
    m = matrix([provider("a")], [alias("x", "ghost", "a")])
    access = alias_access(m, "x", tenant())
    assert (access.denial, access.error_code, access.http_status) == (
        "primary_not_in_matrix",
        "internal_error",
        500,
    )


def test_usable_alias() -> None:
    access = alias_access(M, "chat-jp", tenant(JP, allowed={"chat-jp"}, key={"chat-jp"}))
    assert access.usable
    assert (
        access.error_code is None and access.http_status is None and access.customer_message == ""
    )


def test_tenant_scope_is_checked_before_key_scope() -> None:
    assert alias_access(M, "chat-jp", tenant(allowed=set(), key=set())).denial == (
        "not_allowed_for_tenant"
    )


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (tenant(), ["chat-jp", "chat-large"]),
        (tenant(china=True), ["chat-cn", "chat-jp", "chat-large"]),
        (tenant(JP), ["chat-jp"]),
        (tenant(EU), []),
        (tenant(china=True, key={"chat-cn", "chat-zzz"}), ["chat-cn"]),
    ],
)
def test_usable_aliases_are_what_models_lists(policy: object, expected: list[str]) -> None:
    assert usable_aliases(M, policy) == expected  # type: ignore[arg-type]


def test_effective_constraint_is_the_union() -> None:
    jp_alias = M.aliases["chat-jp"]
    assert effective_constraint(jp_alias, tenant()) == {JP}
    assert effective_constraint(jp_alias, tenant(EU)) == {JP, EU}
    assert effective_constraint(M.aliases["chat-large"], tenant()) == frozenset()


def test_tenant_kinds_cover_every_tag_with_and_without_the_grant() -> None:
    kinds = {(k.sovereignty, k.china_gated_access) for k in tenant_kinds(M)}
    assert kinds == {(t, c) for t in (None, JP, EU) for c in (False, True)}
    assert len({k.tenant_id for k in tenant_kinds(M)}) == 6
