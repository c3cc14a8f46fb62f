"""AnthropicAdapter: messages and event streams -> our chat completions."""

from __future__ import annotations

import orjson
import pytest
from openai.types.chat import ChatCompletion

from sekisho.adapters import AnthropicAdapter, UpstreamFormatError

from .adapter_payloads import (
    ANTHROPIC_OVERLOADED_STREAM,
    ANTHROPIC_TEXT_RESPONSE,
    ANTHROPIC_TEXT_STREAM,
    ANTHROPIC_TEXT_STREAM_CONTENT,
    ANTHROPIC_TOOL_RESPONSE,
    ANTHROPIC_TOOL_STREAM,
    ANTHROPIC_TOOL_STREAM_CALLS,
    CTX,
    CTX_USAGE,
    OUR_CALL_ID,
    anthropic_sse,
    our_text_completion,
)
from .stream_helpers import assemble, chunks_of, run_stream


def test_text_response() -> None:
    body, usage = AnthropicAdapter().parse_response(ANTHROPIC_TEXT_RESPONSE, CTX)
    ChatCompletion.model_validate(body)
    # cached prompt tokens count as prompt tokens, as in OpenAI's usage
    assert body == our_text_completion("東京は日本の首都です。", 2200, 503)
    assert usage.total_tokens == 2703


def test_tool_use_response() -> None:
    body, usage = AnthropicAdapter().parse_response(ANTHROPIC_TOOL_RESPONSE, CTX)
    ChatCompletion.model_validate(body)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "I'll check the weather in both cities."
    calls = choice["message"]["tool_calls"]
    assert [
        (c["type"], c["function"]["name"], orjson.loads(c["function"]["arguments"])) for c in calls
    ] == [
        ("function", "get_weather", {"location": "Tokyo", "unit": "celsius"}),
        ("function", "get_weather", {"location": "Osaka"}),
    ]
    assert all(OUR_CALL_ID.fullmatch(c["id"]) for c in calls)
    assert (usage.prompt_tokens, usage.completion_tokens) == (472, 89)


def test_tool_only_response_has_null_content() -> None:
    raw = orjson.dumps(
        {
            "type": "message",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}],
            "stop_reason": "tool_use",
        }
    )
    body, _ = AnthropicAdapter().parse_response(raw, CTX)
    assert body["choices"][0]["message"]["content"] is None
    assert body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == "{}"


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        (None, "stop"),
        ("something_new", "stop"),
    ],
)
def test_stop_reasons(stop_reason: str | None, finish: str) -> None:
    raw = orjson.dumps(
        {
            "type": "message",
            "content": [{"type": "text", "text": "x"}],
            "stop_reason": stop_reason,
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }
    )
    assert AnthropicAdapter().parse_response(raw, CTX)[0]["choices"][0]["finish_reason"] == finish
    stream = anthropic_sse(
        {"type": "message_start", "message": {"usage": {"input_tokens": 3, "output_tokens": 1}}},
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason},
            "usage": {"output_tokens": 4},
        },
        {"type": "message_stop"},
    )
    run = run_stream(AnthropicAdapter(), CTX, [stream])
    assert assemble(chunks_of(run.frames)).finish_reasons == [finish]


@pytest.mark.parametrize("raw", [b"not json", b'{"type": "error", "error": {}}', b"[1]"])
def test_unreadable_response_raises(raw: bytes) -> None:
    with pytest.raises(UpstreamFormatError):
        AnthropicAdapter().parse_response(raw, CTX)


def test_text_stream() -> None:
    run = run_stream(AnthropicAdapter(), CTX, [ANTHROPIC_TEXT_STREAM])
    assert run.done and run.error is None
    assert run.frames[-1] == b"data: [DONE]\n\n"
    chunks = chunks_of(run.frames)
    assert all(
        c["id"] == CTX.completion_id and c["model"] == "chat-jp" and c["created"] == CTX.created
        for c in chunks
    )
    got = assemble(chunks)
    assert got.roles == ["assistant"]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "東京は"}
    assert got.content == ANTHROPIC_TEXT_STREAM_CONTENT
    assert got.finish_reasons == ["stop"]
    assert got.usage == []
    assert (run.usage.prompt_tokens, run.usage.completion_tokens) == (25, 15)


def test_usage_chunk_when_the_client_asked() -> None:
    chunks = chunks_of(run_stream(AnthropicAdapter(), CTX_USAGE, [ANTHROPIC_TEXT_STREAM]).frames)
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 25, "completion_tokens": 15, "total_tokens": 40}
    assert all(c["usage"] is None for c in chunks[:-1])


def test_tool_stream() -> None:
    run = run_stream(AnthropicAdapter(), CTX, [ANTHROPIC_TOOL_STREAM])
    assert run.done
    chunks = chunks_of(run.frames)
    got = assemble(chunks)
    assert got.content == "Checking both."  # thinking is not shown
    assert [(c["name"], c["args"]) for c in got.calls.values()] == ANTHROPIC_TOOL_STREAM_CALLS
    assert list(got.calls) == [0, 1]  # OpenAI indexes tool calls, not content blocks
    assert all(OUR_CALL_ID.fullmatch(c["id"]) for c in got.calls.values())
    starts = [
        call
        for c in chunks
        for call in c["choices"][0]["delta"].get("tool_calls", [])
        if "id" in call
    ]
    assert [(s["type"], s["function"]) for s in starts] == [
        ("function", {"name": "get_weather", "arguments": ""}),
        ("function", {"name": "get_time", "arguments": ""}),
    ]
    assert got.finish_reasons == ["tool_calls"]
    # message_delta's cumulative usage (with cache reads) is the final word
    assert (run.usage.prompt_tokens, run.usage.completion_tokens) == (35, 89)


def test_empty_stream_still_names_the_role() -> None:
    stream = anthropic_sse(
        {"type": "message_start", "message": {"usage": {"input_tokens": 1}}},
        {"type": "message_stop"},
    )
    chunks = chunks_of(run_stream(AnthropicAdapter(), CTX, [stream]).frames)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}


def test_error_event_after_message_start_sends_nothing() -> None:
    run = run_stream(AnthropicAdapter(), CTX, [ANTHROPIC_OVERLOADED_STREAM])
    assert run.frames == []  # so the chat core can still fail over
    assert run.error is not None and run.error.kind == "overloaded"
    assert "Overloaded" in run.error.detail and not run.done


@pytest.mark.parametrize(
    ("error_type", "kind"),
    [
        ("overloaded_error", "overloaded"),
        ("rate_limit_error", "rate_limited"),
        ("api_error", "server_error"),
        ("invalid_request_error", "invalid_request"),
        ("timeout_error", "timeout"),
        ("authentication_error", "authentication_error"),
        ("permission_error", "permission_error"),
        ("not_found_error", "not_found"),
        ("billing_error", "billing"),
        ("brand_new_error", "server_error"),
    ],
)
def test_error_event_kinds(error_type: str, kind: str) -> None:
    stream = anthropic_sse({"type": "error", "error": {"type": error_type, "message": "m"}})
    head = ANTHROPIC_TEXT_STREAM[: ANTHROPIC_TEXT_STREAM.index(b"event: content_block_stop")]
    run = run_stream(AnthropicAdapter(), CTX, [head, stream, ANTHROPIC_TEXT_STREAM])
    assert run.error is not None and run.error.kind == kind
    assert not run.done  # nothing is read after the error


def test_missing_message_stop_is_truncated() -> None:
    stream = ANTHROPIC_TEXT_STREAM[: ANTHROPIC_TEXT_STREAM.index(b"event: message_stop")]
    run = run_stream(AnthropicAdapter(), CTX, [stream])
    assert not run.done and run.error is not None and run.error.kind == "truncated"
    assert assemble(chunks_of(run.frames)).content == ANTHROPIC_TEXT_STREAM_CONTENT
