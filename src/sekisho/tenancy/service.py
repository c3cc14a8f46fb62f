"""Tenant, user and API-key creation: validated, stored and recorded in the ledger.

Each function runs in the caller's write transaction (`Database.begin()`), so
the change and its ledger entry commit or roll back together (Rule 10).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sekisho import audit
from sekisho.actor import Actor
from sekisho.ids import WrongKind, expect_kind, name_problem, new_id
from sekisho.matrix import Matrix
from sekisho.store.models import ROLES, ApiKey, Tenant, User
from sekisho.tenancy.keys import generate_key, hash_key
from sekisho.tenancy.passwords import hash_password
from sekisho.tenancy.snapshot import KeySnapshot, TenantSnapshot

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TAG_RE = re.compile(r"^[a-z0-9_]{1,64}$")


class ControlPlaneError(Exception):
    """A refused control-plane change: nothing was written. The message says why."""


def _now() -> datetime:
    return datetime.now(UTC)


def _typed(ref: str, *prefixes: str) -> bool:
    try:
        return expect_kind(ref, *prefixes)
    except WrongKind as exc:
        raise ControlPlaneError(str(exc)) from exc


def find_tenant(session: Session, ref: str) -> Tenant:
    """A tenant by id (`ten_...`: by id only) or by unique name (anything untyped)."""
    ref = ref.strip()
    if _typed(ref, "ten"):
        tenant = session.get(Tenant, ref)
        if tenant is None:
            raise ControlPlaneError(f"no tenant with id {ref!r}")
        return tenant
    tenant = session.scalars(select(Tenant).where(Tenant.name == ref)).first()
    if tenant is None:
        raise ControlPlaneError(f"no tenant with id or name {ref!r}")
    return tenant


def find_user(session: Session, ref: str) -> User:
    """A user by e-mail (anything with an '@') or by id (`usr_...`)."""
    ref = ref.strip()
    if "@" not in ref and _typed(ref, "usr"):
        user = session.get(User, ref)
        if user is None:
            raise ControlPlaneError(f"no user with id {ref!r}")
        return user
    user = session.scalars(select(User).where(User.email == ref.lower())).first()
    if user is None:
        raise ControlPlaneError(f"no user with e-mail {ref!r}")
    return user


def _check_aliases(matrix: Matrix, aliases: Sequence[str] | None) -> list[str] | None:
    if aliases is None:
        return None
    cleaned = sorted({a.strip() for a in aliases if a.strip()})
    if not cleaned:
        raise ControlPlaneError("an alias list was given but it names no alias")
    unknown = [a for a in cleaned if a not in matrix.aliases]
    if unknown:
        raise ControlPlaneError(f"unknown alias(es): {', '.join(unknown)}")
    return cleaned


def _known_tags(matrix: Matrix) -> set[str]:
    tags = {t for p in matrix.providers.values() for t in p.sovereignty}
    tags.update(a.sovereignty for a in matrix.aliases.values() if a.sovereignty)
    return tags


@dataclass(frozen=True, slots=True)
class TenantSpec:
    name: str
    sovereignty: str | None = None
    china_gated_access: bool = False
    aliases: Sequence[str] | None = None
    account_owner_email: str | None = None
    cs_email: str | None = None


def create_tenant(session: Session, matrix: Matrix, spec: TenantSpec, actor: Actor) -> Tenant:
    name = spec.name.strip()
    if not _NAME_RE.match(name):
        raise ControlPlaneError(
            "tenant name must be 1-100 characters of letters, digits, space, '.', '_' or '-'"
        )
    problem = name_problem(name)
    if problem is not None:
        raise ControlPlaneError(f"tenant name {name!r} refused: {problem}")
    if spec.sovereignty is not None:
        if not _TAG_RE.match(spec.sovereignty):
            raise ControlPlaneError(f"sovereignty tag {spec.sovereignty!r} is not a valid tag name")
        if spec.sovereignty not in _known_tags(matrix):
            raise ControlPlaneError(
                f"sovereignty tag {spec.sovereignty!r} is not satisfied by any provider in the matrix"
            )
    for field_name, email in (("account owner", spec.account_owner_email), ("CS", spec.cs_email)):
        if email is not None and not _EMAIL_RE.match(email):
            raise ControlPlaneError(f"{field_name} e-mail {email!r} is not an e-mail address")
    aliases = _check_aliases(matrix, spec.aliases)
    if session.scalars(select(Tenant.id).where(Tenant.name == name)).first():
        raise ControlPlaneError(f"a tenant named {name!r} already exists")
    now = _now()
    tenant = Tenant(
        id=new_id("ten", 8),
        name=name,
        state="active",
        sovereignty=spec.sovereignty,
        china_gated_access=spec.china_gated_access,
        allowed_aliases=aliases,
        account_owner_email=spec.account_owner_email,
        cs_email=spec.cs_email,
        created_at=now,
        state_changed_at=now,
        version=1,
    )
    session.add(tenant)
    session.flush()
    audit.record(
        session,
        actor,
        "tenant.create",
        ("tenant", tenant.id),
        tenant_id=tenant.id,
        details={
            "name": name,
            "sovereignty": spec.sovereignty,
            "china_gated_access": spec.china_gated_access,
            "aliases": aliases,
        },
    )
    return tenant


def create_user(
    session: Session,
    email: str,
    role: str,
    password: str | None,
    actor: Actor,
    *,
    tenant_ref: str | None = None,
) -> User:
    email = email.strip().lower()
    if not _EMAIL_RE.match(email):
        raise ControlPlaneError(f"{email!r} is not an e-mail address")
    if role not in ROLES:
        raise ControlPlaneError(f"unknown role {role!r} (one of: {', '.join(ROLES)})")
    tenant_id = None
    if role == "member":
        if tenant_ref is None:
            raise ControlPlaneError("a member belongs to a tenant: give --tenant")
        tenant_id = find_tenant(session, tenant_ref).id
    elif tenant_ref is not None:
        raise ControlPlaneError(f"role {role!r} is a platform role and takes no tenant")
    if password is not None and len(password) < 10:
        raise ControlPlaneError("password must be at least 10 characters")
    if session.scalars(select(User.id).where(User.email == email)).first():
        raise ControlPlaneError(f"a user with e-mail {email!r} already exists")
    user = User(
        id=new_id("usr", 8),
        email=email,
        role=role,
        tenant_id=tenant_id,
        password_hash=hash_password(password) if password else None,
        disabled=False,
        created_at=_now(),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "user.create",
        ("user", user.id),
        tenant_id=tenant_id,
        details={"email": email, "role": role},
    )
    return user


def create_key(
    session: Session,
    matrix: Matrix,
    tenant_ref: str,
    actor: Actor,
    *,
    aliases: Sequence[str] | None = None,
    expires_at: datetime | None = None,
    name: str = "",
) -> tuple[ApiKey, str]:
    """A new API key; returns the row and the full secret, which is never stored."""
    tenant = find_tenant(session, tenant_ref)
    if tenant.state != "active":
        raise ControlPlaneError(f"tenant {tenant.name!r} is {tenant.state}; no new keys")
    scope = _check_aliases(matrix, aliases)
    if scope is not None and tenant.allowed_aliases is not None:
        outside = sorted(set(scope) - set(tenant.allowed_aliases))
        if outside:
            raise ControlPlaneError(f"alias(es) not allowed for this tenant: {', '.join(outside)}")
    if expires_at is not None and expires_at <= _now():
        raise ControlPlaneError("expiry must be in the future")
    prefix, secret = generate_key()
    key = ApiKey(
        id=new_id("key", 8),
        tenant_id=tenant.id,
        prefix=prefix,
        secret_hash=hash_key(secret),
        name=name,
        aliases=scope,
        created_at=_now(),
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    audit.record(
        session,
        actor,
        "key.create",
        ("api_key", key.id),
        tenant_id=tenant.id,
        details={
            "prefix": prefix,
            "aliases": scope,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return key, secret


def tenant_snapshot(tenant: Tenant) -> TenantSnapshot:
    return TenantSnapshot(
        id=tenant.id,
        name=tenant.name,
        state=tenant.state,
        sovereignty=tenant.sovereignty,
        china_gated_access=tenant.china_gated_access,
        allowed_aliases=frozenset(tenant.allowed_aliases)
        if tenant.allowed_aliases is not None
        else None,
        version=tenant.version,
    )


def key_snapshot(key: ApiKey) -> KeySnapshot:
    return KeySnapshot(
        id=key.id,
        tenant_id=key.tenant_id,
        prefix=key.prefix,
        secret_hash=key.secret_hash,
        aliases=frozenset(key.aliases) if key.aliases is not None else None,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
    )
