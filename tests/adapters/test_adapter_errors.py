"""Upstream error details (internal log) and the kinds the chat core decides on."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from sekisho.adapters import AnthropicAdapter, OpenAIAdapter
from sekisho.adapters.upstream_errors import error_detail, read_error, stream_error
from sekisho.routing.outcome import classify_stream_error


@pytest.mark.parametrize(
    ("status", "body", "detail"),
    [
        (
            400,
            {
                "error": {
                    "message": "This model's maximum context length is 128000 tokens.",
                    "type": "invalid_request_error",
                    "param": "messages",
                    "code": "context_length_exceeded",
                }
            },
            "HTTP 400: context_length_exceeded: This model's maximum context length is 128000 tokens.",
        ),
        (
            529,
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            "HTTP 529: overloaded_error: Overloaded",
        ),
        (
            400,
            {
                "object": "error",
                "message": "bad",
                "type": "BadRequestError",
                "param": None,
                "code": 400,
            },
            "HTTP 400: BadRequestError: bad",
        ),
        (500, {"error": "engine crashed"}, "HTTP 500: engine crashed"),
        (422, {"detail": "Field required"}, "HTTP 422: Field required"),
    ],
)
def test_error_detail_extracts_the_upstream_message(
    status: int, body: dict[str, Any], detail: str
) -> None:
    raw = orjson.dumps(body)
    assert OpenAIAdapter().error_detail(status, raw) == detail
    assert AnthropicAdapter().error_detail(status, raw) == detail


def test_error_detail_of_non_json_bodies_is_bounded() -> None:
    assert error_detail(502, b"<html>Bad Gateway</html>\n") == "HTTP 502: <html>Bad Gateway</html>"
    assert error_detail(503, b"") == "HTTP 503: (empty body)"
    assert len(error_detail(500, b"x" * 100_000)) == 1000
    assert len(error_detail(500, orjson.dumps({"error": {"message": "y" * 5000}}))) == 1000


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (
            400,
            {"error": {"code": "context_length_exceeded", "message": "m"}},
            "context_length_exceeded",
        ),
        (
            400,
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "message": "prompt is too long: 210000 tokens > 200000 maximum",
                },
            },
            "context_length_exceeded",
        ),
        (
            400,
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "message": "Your credit balance is too low",
                },
            },
            "billing",
        ),
        (429, {"error": {"code": "insufficient_quota", "message": "m"}}, "billing"),
        (
            400,
            {"error": {"type": "invalid_request_error", "message": "bad tools"}},
            "invalid_request",
        ),
        (503, b"<html>down</html>", None),
    ],
)
def test_read_error_reads_the_kind_the_body_names(
    status: int, body: dict[str, Any] | bytes, kind: str | None
) -> None:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    said = read_error(status, raw)
    assert said.kind == kind
    assert said.detail.startswith(f"HTTP {status}: ")


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        ({"error": {"message": "m", "type": "server_error", "code": None}}, "server_error"),
        (
            {"error": {"message": "m", "type": "tokens", "code": "rate_limit_exceeded"}},
            "rate_limited",
        ),
        (
            {"error": {"message": "m", "type": "invalid_request_error", "code": "invalid_api_key"}},
            "authentication_error",
        ),
        ({"error": {"object": "error", "message": "m", "type": "X", "code": 429}}, "http_429"),
        ({"object": "error", "message": "m", "type": "Y", "code": 503}, "http_503"),
        ({"error": {}}, "server_error"),
    ],
)
def test_stream_error_kinds(payload: dict[str, Any], kind: str) -> None:
    assert stream_error(payload).kind == kind


@pytest.mark.parametrize(
    ("payload", "judged"),
    [
        ({"error": {"object": "error", "message": "m", "type": "X", "code": 429}}, "rate_limited"),
        ({"object": "error", "message": "m", "type": "Y", "code": 503}, "server_error"),
        ({"object": "error", "message": "m", "type": "Y", "code": 400}, "request_error"),
        ({"type": "error", "error": {"type": "overloaded_error", "message": "m"}}, "server_error"),
    ],
)
def test_stream_errors_are_judged_by_the_one_classifier(
    payload: dict[str, Any], judged: str
) -> None:
    assert classify_stream_error(stream_error(payload).kind).kind == judged
