"""CSRF tokens bound to the session: HMAC of the session secret. Pure.

A signed-in browser sends the token in `X-CSRF-Token` (fetch) or a
`csrf_token` form field with every unsafe request; a cross-site page can
neither read it nor forge it.
"""

from __future__ import annotations

import hashlib
import hmac

CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def csrf_token(session_token: str) -> str:
    return hmac.new(session_token.encode(), b"sekisho-csrf-v1", hashlib.sha256).hexdigest()


def csrf_ok(session_token: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(csrf_token(session_token), presented)
