"""What a clean error answer looks like, for either envelope."""

from __future__ import annotations

from sekisho.errors import ERROR_TABLE
from tests.security.rawhttp import RawResponse

ANTHROPIC_TYPES = {
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "api_error",
    "overloaded_error",
    "timeout_error",
}


def assert_clean_error(resp: RawResponse, envelope: str = "ours", status: int | None = None) -> str:
    """A 4xx JSON error in the right envelope with our request id; returns the code/type.

    `envelope`: "ours", "anthropic", "any" (either), or "page" for the browser
    apps (/console, /chat), which answer in an HTML page unless the edge refused first.
    """
    assert 400 <= resp.status < 500, (resp.status, resp.body[:300])
    if status is not None:
        assert resp.status == status, (resp.status, resp.body[:300])
    if envelope == "page" and resp.headers.get("content-type", "").startswith("text/html"):
        return _clean_page(resp)
    if envelope == "page":  # refused before the page's app: our JSON envelope
        envelope = "ours"
    assert resp.headers.get("content-type", "").startswith("application/json"), resp.headers
    assert resp.headers.get("x-request-id", "").startswith("req_"), resp.headers
    doc = resp.json()
    assert isinstance(doc, dict)
    if envelope == "any":  # answered before the path was known
        envelope = "anthropic" if doc.get("type") == "error" else "ours"
    if envelope == "anthropic":
        assert doc["type"] == "error", doc
        assert doc["error"]["type"] in ANTHROPIC_TYPES, doc
        assert doc["error"]["message"]
        return str(doc["error"]["type"])
    err = doc["error"]
    assert set(err) == {"message", "type", "code", "param"}, doc
    assert err["code"] in ERROR_TABLE, doc
    assert ERROR_TABLE[err["code"]].status == resp.status, doc
    assert err["message"]
    return str(err["code"])


def _clean_page(resp: RawResponse) -> str:
    """A browser page's error answer: HTML in words, under a CSP, no stack trace."""
    assert "content-security-policy" in resp.headers, resp.headers
    text = resp.body.decode("utf-8")
    assert text.lstrip().lower().startswith("<!doctype html"), text[:200]
    assert "Traceback" not in text and 'File "' not in text
    return f"page:{resp.status}"
