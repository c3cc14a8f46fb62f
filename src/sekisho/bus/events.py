"""The invalidation message and its wire form. Pure."""

from __future__ import annotations

from dataclasses import dataclass

import orjson


@dataclass(frozen=True, slots=True)
class Invalidation:
    """Tenant `tenant_id` changed (state, keys or sessions); `version` is its new version."""

    tenant_id: str
    version: int
    state: str


def encode(event: Invalidation) -> str:
    return orjson.dumps({"t": event.tenant_id, "v": event.version, "s": event.state}).decode()


def decode(raw: str | bytes) -> Invalidation | None:
    """The event in a message, or None for anything malformed (ignored, never trusted)."""
    try:
        doc = orjson.loads(raw)
        tenant, version, state = doc["t"], doc["v"], doc["s"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    if not (isinstance(tenant, str) and isinstance(version, int) and isinstance(state, str)):
        return None
    return Invalidation(tenant, version, state)
