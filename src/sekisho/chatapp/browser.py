"""What every chat-app response carries and every state change must pass, browser-side. Pure.

- A strict Content-Security-Policy: scripts and styles from our own origin
  only (no inline script, no CDN), no frames, no plugins, forms post home,
  and Trusted Types so that only DOMPurify's output may become HTML.
- `same_origin_ok`: a state change (POST/PATCH/DELETE) is refused when the
  browser says it comes from another site (`Sec-Fetch-Site`) or names a
  foreign `Origin`; the CSRF token is checked on top of this.
- The session cookie: `__Host-` prefixed and Secure under TLS (so no other
  host or path can set or shadow it), HttpOnly, SameSite.
"""

from __future__ import annotations

from collections.abc import Mapping

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types dompurify",
    ]
)

SECURITY_HEADERS: dict[str, str] = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "cache-control": "no-store",
}

COOKIE = "sekisho_chat"
SECURE_COOKIE = "__Host-sekisho_chat"
PRE_COOKIE = "sekisho_chat_pre"  # before sign-in: binds the sign-in form's CSRF token
SECURE_PRE_COOKIE = "__Host-sekisho_chat_pre"

ALLOWED_FETCH_SITES = frozenset({"same-origin"})


def cookie_names(secure: bool) -> tuple[str, str]:
    """(session cookie, pre-sign-in cookie) names for a request over TLS or not."""
    return (SECURE_COOKIE, SECURE_PRE_COOKIE) if secure else (COOKIE, PRE_COOKIE)


def own_origin(scheme: str, host: str) -> str:
    return f"{scheme}://{host}".lower()


def same_origin_ok(headers: Mapping[str, str], origin_of_request: str) -> bool:
    """False when the browser tells us a state change comes from another origin.

    A non-browser client sends neither header; it still needs the CSRF token,
    which only a page of ours can read.
    """
    site = headers.get("sec-fetch-site")
    if site is not None and site.lower() not in ALLOWED_FETCH_SITES:
        return False
    origin = headers.get("origin")
    return origin is None or origin.lower() == origin_of_request
