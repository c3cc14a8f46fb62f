"""Who did something: a signed-in user, an operator token, the CLI, or the system."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ActorKind = Literal["user", "cli", "system"]


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    id: str
    email: str | None = None
    role: str | None = None

    @classmethod
    def system(cls, what: str = "sekisho") -> Actor:
        return cls("system", what)

    @classmethod
    def cli(cls, os_user: str) -> Actor:
        return cls("cli", f"cli:{os_user}")

    def as_dict(self) -> dict[str, str]:
        out = {"type": self.kind, "id": self.id}
        if self.email:
            out["email"] = self.email
        if self.role:
            out["role"] = self.role
        return out
