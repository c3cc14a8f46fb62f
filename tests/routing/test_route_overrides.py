"""Operator overrides: validation (Rules 2-3 hold), warnings, activity windows."""

from __future__ import annotations

from sekisho.routing.overrides import active_overrides, override_warnings, validate_override

from .builders import JP, alias, demo_matrix, matrix, override, provider

M = demo_matrix()


def test_valid_drain_and_pin() -> None:
    assert validate_override(M, override("1", "chat-jp", "drain", "kumo")) == []
    assert validate_override(M, override("2", "chat-jp", "pin", "hoshi")) == []
    assert validate_override(M, override("3", "chat-cn", "pin", "cn")) == []  # its own primary


def test_provider_must_be_a_route_of_the_alias() -> None:
    assert validate_override(M, override("1", "chat-jp", "drain", "eu")) == [
        "provider 'eu' is not a route of alias 'chat-jp'"
    ]
    assert validate_override(M, override("1", "nope", "drain", "eu")) == ["unknown alias 'nope'"]


def test_pin_onto_a_non_sovereign_fallback_is_refused() -> None:
    assert validate_override(M, override("1", "chat-jp", "pin", "global")) == [
        "cannot pin alias 'chat-jp' to 'global': it does not satisfy the alias requirement "
        "jp_sovereign"
    ]
    # Draining it is harmless, and allowed.
    assert validate_override(M, override("1", "chat-jp", "drain", "global")) == []


def test_pin_onto_a_china_gated_fallback_is_refused() -> None:
    bad = matrix([provider("a"), provider("cn", china=True)], [alias("x", "a", "cn")])
    problems = validate_override(bad, override("1", "x", "pin", "cn"))
    assert problems == [
        "cannot pin alias 'x' to China-gated provider 'cn': China-gated providers are never a fallback"
    ]


def test_missing_fields_and_bad_times() -> None:
    bad = override("1", "chat-jp", "flip", "kumo", reason=" ", created_at=5.0, expires_at=5.0)
    bad = bad.__class__(**{**bad.to_dict(), "created_by": ""})
    assert validate_override(M, bad) == [
        "unknown override kind 'flip' (expected drain or pin)",
        "a reason is required",
        "the operator who sets it is required",
        "the expiry must be after the creation time",
    ]


def test_provider_missing_from_a_bad_matrix() -> None:
    m = matrix([provider("a", JP)], [alias("x", "a", "ghost")])
    assert validate_override(m, override("1", "x", "drain", "ghost")) == [
        "provider 'ghost' is not in the matrix"
    ]


def test_draining_every_route_is_allowed_but_warned() -> None:
    first = override("1", "chat-jp", "drain", "kumo")
    second = override("2", "chat-jp", "drain", "hoshi")
    third = override("3", "chat-jp", "drain", "global")
    assert validate_override(M, third) == []
    assert override_warnings(M, second, [first]) == []
    assert override_warnings(M, third, [first, second]) == [
        "this drains every route of alias 'chat-jp': every request for it will fail with "
        "upstream_unavailable until an override is reverted or expires"
    ]
    single = matrix([provider("a")], [alias("x", "a", "a/m2")])
    assert len(override_warnings(single, override("1", "x", "drain", "a"))) == 1


def test_pin_warnings() -> None:
    drain = override("1", "chat-jp", "drain", "hoshi")
    old_pin = override("2", "chat-jp", "pin", "kumo")
    pin = override("3", "chat-jp", "pin", "hoshi")
    assert override_warnings(M, pin, [drain, old_pin, pin]) == [
        "provider 'hoshi' is drained; the drain wins over this pin",
        "replaces pin #2 (kumo)",
    ]
    assert override_warnings(M, override("4", "chat-cn", "pin", "global")) == [
        "takes the China-gated primary of alias 'chat-cn' out of service while it lasts: "
        "China-gated providers are never a fallback"
    ]
    assert override_warnings(M, override("4", "nope", "pin", "global")) == []


def test_active_window_and_order() -> None:
    a = override("a", "x", "drain", "p", created_at=10.0, expires_at=20.0)
    b = override("b", "x", "pin", "p", created_at=5.0, expires_at=30.0, reverted_at=15.0)
    c = override("c", "x", "pin", "p", created_at=12.0, expires_at=13.0)
    assert active_overrides([a, b, c], 9.0) == [b]
    assert active_overrides([a, b, c], 12.0) == [b, a, c]
    assert active_overrides([a, b, c], 15.0) == [a]  # b reverted at 15
    assert active_overrides([a, b, c], 20.0) == []  # a expired at 20
    assert a.to_dict()["kind"] == "drain"
