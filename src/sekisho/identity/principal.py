"""Who proved themselves to the admin API: a platform user, by operator token or session.

Declared here (services), not in `sekisho.admin`, so the session resolver can
build one without importing the interface layer; `sekisho.admin.auth` re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sekisho.actor import Actor


@dataclass(frozen=True, slots=True)
class AdminPrincipal:
    user_id: str
    email: str
    role: str
    via: str  # "token" | "session"

    @property
    def actor(self) -> Actor:
        """The principal that proved itself, as the ledger records it (Rule 14)."""
        via = f"admin-api:{self.via}" if self.via in ("token", "session") else self.via
        return Actor("user", self.user_id, self.email, self.role, via=via)
