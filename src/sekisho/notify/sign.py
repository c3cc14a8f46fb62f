"""Webhook signatures. Pure.

    X-Sekisho-Timestamp: <unix seconds>
    X-Sekisho-Signature: v1=<hex HMAC-SHA256(key, "<timestamp>." + body)>

A receiver recomputes the HMAC over the raw body and rejects old timestamps.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "x-sekisho-signature"
TIMESTAMP_HEADER = "x-sekisho-timestamp"


def sign(key: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={digest}"


def verify(
    key: bytes, timestamp: int, body: bytes, signature: str, *, now: int, tolerance_s: int = 300
) -> bool:
    """True if `signature` is ours over this body and the timestamp is recent."""
    if abs(now - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(key, timestamp, body), signature)
