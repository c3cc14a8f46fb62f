"""Identifiers we mint: random, URL-safe, typed by a prefix naming what they are.

`ID_PREFIXES` is the one registry of typed prefixes. It makes references
unambiguous (DESIGN.md): no name may take an id's shape (`name_problem`), and
a reference with a registered prefix is looked up as that kind of id only,
never as a name and never as another kind's id (`id_kind`). A test checks that
every `new_id(...)` in the code uses a registered prefix.
"""

from __future__ import annotations

import re
import secrets

# prefix -> what an id with that prefix names
ID_PREFIXES: dict[str, str] = {
    "ten": "tenant",
    "usr": "user",
    "key": "API key",
    "sks": "API key",  # the visible prefix of a key secret (`sks_<12 hex>`)
    "tok": "operator token",
    "sko": "operator token",  # the visible prefix of a token secret
    "inc": "incident",
    "sreq": "suspension request",
    "sus": "suspension",
    "ses": "session",
    "req": "request",
    "evb": "evidence bundle",
    "ovr": "override",
    "alr": "alert",
    "ntf": "notification",
    "call": "tool call",
    "cnv": "chat conversation",
    "msg": "chat message",
    "inv": "chat invitation",
    "gre": "guardrail event",
    "run": "runbook run",
}

_TYPED = re.compile(r"^([A-Za-z]+)_")
# Also refused as a name: anything shaped like an id of a prefix added later.
_ID_SHAPE = re.compile(r"^[A-Za-z]{2,8}_[0-9a-fA-F]{6,}$")


def new_id(prefix: str, nbytes: int = 12) -> str:
    return f"{prefix}_{secrets.token_hex(nbytes)}"


def request_id() -> str:
    return "req_" + secrets.token_hex(12)


def completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def id_prefix(ref: str) -> str | None:
    """The registered prefix `ref` starts with (`ten` for `ten_1234`), or None."""
    m = _TYPED.match(ref.strip())
    if m and m.group(1).lower() in ID_PREFIXES:
        return m.group(1).lower()
    return None


def id_kind(ref: str) -> str | None:
    """What kind of object a typed reference names ("tenant", "user", ...), or None."""
    prefix = id_prefix(ref)
    return ID_PREFIXES[prefix] if prefix else None


def name_problem(name: str) -> str | None:
    """Why `name` may not be used as a name (it looks like an id), or None when it may."""
    prefix = id_prefix(name)
    if prefix is not None:
        return (
            f"a name may not start with {prefix + '_'!r}: that is the prefix of "
            f"{ID_PREFIXES[prefix]} ids"
        )
    if _ID_SHAPE.match(name.strip()):
        return "a name may not look like an id (letters, '_', then hex digits)"
    return None


class WrongKind(ValueError):
    """A typed reference names another kind of object than the one asked for."""


def expect_kind(ref: str, *prefixes: str) -> bool:
    """True if `ref` is typed with one of `prefixes`; False if untyped (a name).

    Raises WrongKind for an id of another kind, so a user id never finds a
    tenant and a tenant named like an id can never be reached by that id.
    """
    prefix = id_prefix(ref)
    if prefix is None:
        return False
    if prefix in prefixes:
        return True
    wanted = ID_PREFIXES[prefixes[0]]
    raise WrongKind(f"{ref!r} is a {ID_PREFIXES[prefix]} id, not a {wanted} id or name")
