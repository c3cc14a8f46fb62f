"""API key format, hashing and comparison. Pure.

A key looks like `sks_<12 hex prefix>_<43 url-safe secret chars>`. The prefix
is stored in clear (it is how a key is found and shown); the whole key is
stored only as its SHA-256, which is safe for 256-bit random secrets, and
compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

KEY_RE = re.compile(r"^sks_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


def generate_key() -> tuple[str, str]:
    """A new (prefix, full key). The full key is shown once and never stored."""
    prefix = "sks_" + secrets.token_hex(6)
    return prefix, f"{prefix}_{secrets.token_urlsafe(32)}"


def key_prefix(raw: str) -> str | None:
    """The stored prefix of a well-formed key, or None for anything else."""
    m = KEY_RE.match(raw)
    return f"sks_{m.group(1)}" if m else None


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def key_matches(raw: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(raw), stored_hash)
