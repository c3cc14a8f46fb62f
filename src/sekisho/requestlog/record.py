"""One request-log row, as the chat core fills it in."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(slots=True)
class Attempt:
    """One upstream attempt (internal: names the provider)."""

    provider: str
    upstream_model: str
    outcome: str  # ok | rate_limited | server_error | timeout | connect_error | reset | ...
    status: int | None
    latency_ms: float
    reason: str = ""  # why it was tried ("primary", "fallback 1", ...)
    detail: str = ""  # the upstream's own words, internal only

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class RequestRecord:
    id: str
    ts: datetime
    source: str = "api"  # api | chat | probe
    tenant_id: str | None = None
    key_id: str | None = None
    user_id: str | None = None  # the member, for requests from the chat app
    alias: str | None = None
    stream: bool = False
    status: int = 0
    error_code: str | None = None
    provider: str | None = None
    upstream_model: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    plan: dict[str, Any] | None = None
    ttfb_ms: float | None = None
    latency_ms: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage_estimated: bool = False  # tokens counted by us (sekisho.chat.estimate)
    guardrail: dict[str, Any] | None = None

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)

    def as_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ts": self.ts,
            "source": self.source,
            "tenant_id": self.tenant_id,
            "key_id": self.key_id,
            "user_id": self.user_id,
            "alias": self.alias,
            "stream": self.stream,
            "status": self.status,
            "error_code": self.error_code,
            "provider": self.provider,
            "upstream_model": self.upstream_model,
            "attempts": [a.as_dict() for a in self.attempts],
            "plan": self.plan,
            "ttfb_ms": self.ttfb_ms,
            "latency_ms": self.latency_ms,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "usage_estimated": self.usage_estimated,
            "guardrail": self.guardrail,
        }
