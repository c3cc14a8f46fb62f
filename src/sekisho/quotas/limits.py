"""What a tenant may spend: the configured defaults with the tenant's override laid over them."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

LIMIT_NAMES = (
    "rpm",
    "tpm",
    "concurrent_streams",
    "monthly_tokens",
    "key_rpm",
    "key_tpm",
    "key_concurrent_streams",
)


@dataclass(frozen=True, slots=True)
class QuotaLimits:
    """Each limit is a positive integer or None (unlimited)."""

    rpm: int | None = None
    tpm: int | None = None
    concurrent_streams: int | None = None
    monthly_tokens: int | None = None
    key_rpm: int | None = None
    key_tpm: int | None = None
    key_concurrent_streams: int | None = None

    @property
    def unlimited(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def to_dict(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in LIMIT_NAMES}


def check_limits(values: dict[str, Any]) -> dict[str, int | None]:
    """Validate a mapping of limit names to values; raises ValueError naming the bad one."""
    out: dict[str, int | None] = {}
    for name, value in values.items():
        if name not in LIMIT_NAMES:
            raise ValueError(f"unknown quota {name!r}; known: {', '.join(LIMIT_NAMES)}")
        if value is None:
            out[name] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"quota {name} must be a positive integer or null, not {value!r}")
        out[name] = value
    return out


def overlay(defaults: QuotaLimits, override: dict[str, int | None] | None) -> QuotaLimits:
    """The tenant's effective limits: an override names only what it changes.

    A name present with None means "unlimited for this tenant", which is why the override is a
    mapping of the names it sets rather than a second QuotaLimits.
    """
    if not override:
        return defaults
    return replace(defaults, **{k: v for k, v in override.items() if k in LIMIT_NAMES})
