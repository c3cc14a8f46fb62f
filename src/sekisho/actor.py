"""Who did something: a user who proved themselves (token, session, CLI identity) or the system.

An `Actor` is always the principal that authenticated, never a name a caller
typed (Rule 14). `via` says through what it acted (`cli`, `admin-api:token`,
`admin-api:session`, `console`); the ledger records it in the entry's details.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

ActorKind = Literal["user", "system"]


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    id: str
    email: str | None = None
    role: str | None = None
    via: str | None = None

    @classmethod
    def system(cls, what: str = "sekisho", via: str | None = None) -> Actor:
        return cls("system", what, via=via)

    def through(self, via: str) -> Actor:
        return replace(self, via=via)

    def describe(self) -> str:
        """'alice@example.com (operator) via cli' — what a command prints as whom it acts."""
        who = self.email or self.id
        if self.role:
            who += f" ({self.role})"
        return who + (f" via {self.via}" if self.via else "")

    def as_dict(self) -> dict[str, str]:
        out = {"type": self.kind, "id": self.id}
        if self.email:
            out["email"] = self.email
        if self.role:
            out["role"] = self.role
        return out
