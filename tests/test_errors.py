"""One exception tree, one envelope: every code of DESIGN.md's table renders the same way."""

from __future__ import annotations

import orjson
import pytest

from sekisho.errors import ERROR_TABLE, error_body, error_for_code

DESIGN_TABLE = {
    "invalid_request": 400,
    "content_policy_violation": 400,
    "invalid_api_key": 401,
    "tenant_suspended": 403,
    "permission_denied": 403,
    "model_not_found": 404,
    "request_too_large": 413,
    "rate_limited": 429,
    "internal_error": 500,
    "upstream_unavailable": 502,
    "service_unavailable": 503,
}


def test_every_design_code_exists_with_its_status() -> None:
    for code, status in DESIGN_TABLE.items():
        assert ERROR_TABLE[code].status == status


@pytest.mark.parametrize("code", sorted(ERROR_TABLE))
def test_envelope(code: str) -> None:
    err = error_for_code(code, "The model behind alias 'chat-jp' said no.", param="model")
    body = orjson.loads(error_body(err))
    assert body == {
        "error": {
            "message": "The model behind alias 'chat-jp' said no.",
            "type": err.type,
            "code": code,
            "param": "model",
        }
    }
    assert 400 <= err.status < 600


def test_rate_limited_carries_retry_after() -> None:
    err = error_for_code("rate_limited", "slow down", retry_after=7)
    assert err.headers() == {"retry-after": "7"}
    assert error_for_code("invalid_request", "x").headers() == {}
