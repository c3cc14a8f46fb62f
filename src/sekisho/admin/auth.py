"""Who is calling the admin API, and may they? Role checks on every route.

`AdminPrincipal` comes from an operator token (`Authorization: Bearer
sko_...`) or, for the console, from a signed-in session (the identity module
registers a session resolver). `require(*roles)` is the FastAPI dependency
each route declares; the table of route x role is tested.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.requests import Request

from sekisho.errors import InvalidApiKey, PermissionDenied, ServiceUnavailable
from sekisho.gateway import Gateway
from sekisho.identity.principal import AdminPrincipal as AdminPrincipal
from sekisho.identity.tokens import user_for_token

SessionResolver = Callable[[Request], Awaitable[AdminPrincipal | None]]

# Role groups used by the routes.
READ_OPS = ("admin", "operator", "auditor")
WRITE_OPS = ("admin", "operator")
AUDIT = ("admin", "auditor")
OWNERS = ("billing_owner", "legal_owner", "security_owner")
VIEWERS = (*READ_OPS, *OWNERS)


def gateway_of(request: Request) -> Gateway:
    return request.app.state.gateway  # type: ignore[no-any-return]


async def resolve_principal(request: Request) -> AdminPrincipal:
    gateway = gateway_of(request)
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():

        def lookup() -> AdminPrincipal | None:
            with gateway.db.read() as session:
                user = user_for_token(session, token.strip())
                return AdminPrincipal(user.id, user.email, user.role, "token") if user else None

        try:
            principal = await asyncio.to_thread(lookup)
        except Exception as exc:  # fail closed
            raise ServiceUnavailable("Cannot verify credentials right now.") from exc
        if principal is None:
            raise InvalidApiKey("Invalid or expired operator token.")
        return principal
    resolver: SessionResolver | None = getattr(request.app.state, "session_resolver", None)
    if resolver is not None:
        principal = await resolver(request)
        if principal is not None:
            return principal
    raise InvalidApiKey("Sign in or send an operator token as 'Authorization: Bearer <token>'.")


def allows(role: str, roles: tuple[str, ...]) -> bool:
    """The one authorization decision (admin API and console): may `role` do what `roles` may?"""
    return role in roles


def require(*roles: str) -> Callable[[Request], Awaitable[AdminPrincipal]]:
    """A dependency admitting only the given platform roles."""

    async def dependency(request: Request) -> AdminPrincipal:
        principal = await resolve_principal(request)
        if not allows(principal.role, roles):
            raise PermissionDenied(f"Role {principal.role!r} may not do this.")
        request.state.principal = principal
        return principal

    dependency.roles = roles  # type: ignore[attr-defined]
    return dependency
