"""OpenAIAdapter: request forwarding, allow-listed responses, streams, errors."""

from __future__ import annotations

import copy

import orjson
import pytest
from openai.types.chat import ChatCompletion

from sekisho.adapters import OpenAIAdapter, UpstreamFormatError

from .adapter_payloads import (
    CTX,
    CTX_USAGE,
    OPENAI_AZURE_STREAM,
    OPENAI_TEXT_RESPONSE,
    OPENAI_TEXT_STREAM,
    OPENAI_TEXT_STREAM_CONTENT,
    OPENAI_TOOL_RESPONSE,
    OPENAI_TOOL_STREAM,
    OPENAI_TOOL_STREAM_CALLS,
    OPENAI_VLLM_ERROR_STREAM,
    OUR_CALL_ID,
    counter_ids,
    openai_sse,
    our_text_completion,
)
from .stream_helpers import assemble, chunks_of, run_stream

BODY = {
    "model": "chat-jp",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of Japan?"},
    ],
    "temperature": 0.2,
    "stream": True,
    "stream_options": {"include_usage": False},
    "user": "tenant-end-user-42",
    "store": False,
    "metadata": {"tenant": "acme"},
    "service_tier": "auto",
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
}


def test_build_request_forwards_body_with_upstream_model_and_usage() -> None:
    original = copy.deepcopy(BODY)
    req = OpenAIAdapter().build_request(
        BODY, upstream_model="kumo-large", api_key="sk-x", stream=True
    )
    assert original == BODY  # the caller's dict is not mutated
    assert req.path == "/chat/completions"
    assert req.headers == {"Authorization": "Bearer sk-x", "Content-Type": "application/json"}
    sent = orjson.loads(req.body)
    assert sent["model"] == "kumo-large"
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["messages"] == BODY["messages"]
    assert sent["tools"] == BODY["tools"]
    assert sent["temperature"] == 0.2
    for dropped in ("user", "store", "metadata", "service_tier"):
        assert dropped not in sent


def test_build_request_non_streaming_has_no_stream_options() -> None:
    req = OpenAIAdapter().build_request(BODY, upstream_model="m", api_key="k", stream=False)
    sent = orjson.loads(req.body)
    assert sent["stream"] is False
    assert "stream_options" not in sent


def test_text_response_is_rebuilt_with_our_identity() -> None:
    body, usage = OpenAIAdapter().parse_response(OPENAI_TEXT_RESPONSE, CTX)
    ChatCompletion.model_validate(body)
    assert body == our_text_completion("東京は日本の首都です。", 1117, 46)
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (1117, 46, 1163)


def test_tool_call_response_gets_our_ids_and_keeps_logprobs() -> None:
    body, _ = OpenAIAdapter().parse_response(OPENAI_TOOL_RESPONSE, CTX)
    ChatCompletion.model_validate(body)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    calls = choice["message"]["tool_calls"]
    assert [c["function"] for c in calls] == [
        {"name": "get_weather", "arguments": '{"location": "Tokyo"}'},
        {"name": "get_weather", "arguments": '{"location": "Osaka"}'},
    ]
    assert all(OUR_CALL_ID.fullmatch(c["id"]) for c in calls)
    assert calls[0]["id"] != calls[1]["id"]
    assert choice["logprobs"]["content"][0]["top_logprobs"][0]["bytes"] == [72, 105]


def test_unknown_finish_reason_and_dict_arguments_are_normalised() -> None:
    raw = orjson.dumps(
        {
            "choices": [
                {
                    "message": {
                        "role": "assistant",
                        "tool_calls": [
                            {
                                "id": "x",
                                "type": "function",
                                "function": {"name": "f", "arguments": {"a": 1}},
                            }
                        ],
                    },
                    "finish_reason": "abort",
                }
            ]
        }
    )
    body, usage = OpenAIAdapter().parse_response(raw, CTX)
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == '{"a":1}'
    assert body["usage"] is None and usage.total_tokens is None


@pytest.mark.parametrize("raw", [b"<html>502</html>", b"[]", b'{"object": "list"}'])
def test_unreadable_response_raises(raw: bytes) -> None:
    with pytest.raises(UpstreamFormatError):
        OpenAIAdapter().parse_response(raw, CTX)


def test_text_stream_frames() -> None:
    run = run_stream(OpenAIAdapter(), CTX, [OPENAI_TEXT_STREAM])
    assert run.done and run.error is None
    assert run.frames[-1] == b"data: [DONE]\n\n"
    chunks = chunks_of(run.frames)
    assert all(
        c["id"] == CTX.completion_id
        and c["model"] == "chat-jp"
        and c["created"] == CTX.created
        and "usage" not in c
        for c in chunks
    )
    got = assemble(chunks)
    assert got.content == OPENAI_TEXT_STREAM_CONTENT
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert got.finish_reasons == ["stop"]
    assert got.usage == []  # the client did not ask for usage...
    assert (run.usage.prompt_tokens, run.usage.completion_tokens) == (19, 10)  # ...we log it


def test_usage_chunk_passes_when_the_client_asked() -> None:
    chunks = chunks_of(run_stream(OpenAIAdapter(), CTX_USAGE, [OPENAI_TEXT_STREAM]).frames)
    assert all("usage" in c for c in chunks)
    assert chunks[-1] == {
        "id": CTX.completion_id,
        "object": "chat.completion.chunk",
        "created": CTX.created,
        "model": "chat-jp",
        "choices": [],
        "usage": {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29},
    }
    assert all(c["usage"] is None for c in chunks[:-1])


def test_tool_call_stream_maps_ids_consistently() -> None:
    # The same upstream id seen again later in the stream keeps the same new id.
    repeat = openai_sse(
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_DdmO9pD3xa9XTPNJ32zg2hcA",
                                "function": {"arguments": ""},
                            }
                        ]
                    },
                    "finish_reason": None,
                }
            ]
        }
    )
    stream = OPENAI_TOOL_STREAM.replace(b"data: [DONE]", repeat + b"data: [DONE]")
    run = run_stream(OpenAIAdapter(), CTX, [stream])
    got = assemble(chunks_of(run.frames))
    assert [(c["name"], c["args"]) for c in got.calls.values()] == OPENAI_TOOL_STREAM_CALLS
    ids = [c["id"] for c in got.calls.values()]
    assert all(OUR_CALL_ID.fullmatch(i) for i in ids) and ids[0] != ids[1]
    id_deltas = [
        call["id"]
        for chunk in chunks_of(run.frames)
        for choice in chunk["choices"]
        for call in choice["delta"].get("tool_calls", [])
        if "id" in call
    ]
    assert id_deltas == [ids[0], ids[1], ids[0]]
    assert got.finish_reasons == ["tool_calls"]
    assert run.usage.total_tokens == 133


def test_azure_filter_chunks_are_dropped_and_crlf_comments_parsed() -> None:
    run = run_stream(OpenAIAdapter(), CTX, [OPENAI_AZURE_STREAM])
    assert run.done
    chunks = chunks_of(run.frames)
    assert len(chunks) == 2  # the prompt-filter chunk and the usage chunk are not sent
    assert assemble(chunks).content == "Hello"
    assert run.usage.total_tokens == 10


def test_role_is_added_when_the_upstream_omits_it() -> None:
    stream = openai_sse(
        {"choices": [{"index": 0, "delta": {"content": "hi"}}]},
        {"choices": [{"index": 0, "delta": {"content": "!"}}]},
        "[DONE]",
    )
    chunks = chunks_of(run_stream(OpenAIAdapter(), CTX, [stream]).frames)
    assert [c["choices"][0]["delta"] for c in chunks] == [
        {"role": "assistant", "content": "hi"},
        {"content": "!"},
    ]


def test_in_stream_error_stops_the_stream() -> None:
    run = run_stream(OpenAIAdapter(), CTX, [OPENAI_VLLM_ERROR_STREAM])
    assert not run.done
    assert (
        run.error is not None and run.error.kind == "http_500"
    )  # judged by routing.outcome.classify
    assert "engine died" in run.error.detail
    assert assemble(chunks_of(run.frames)).content == "Par"  # nothing after the error


def test_missing_done_is_truncated() -> None:
    stream = OPENAI_TEXT_STREAM.replace(b"data: [DONE]\n\n", b"")
    run = run_stream(OpenAIAdapter(), CTX, [stream])
    assert not run.done and run.error is not None and run.error.kind == "truncated"


def test_stream_cut_mid_json_is_truncated_not_malformed() -> None:
    run = run_stream(OpenAIAdapter(), CTX, [OPENAI_TEXT_STREAM[:300]])
    assert run.error is not None and run.error.kind == "truncated"


def test_malformed_data_mid_stream_is_a_server_error() -> None:
    run = run_stream(OpenAIAdapter(), CTX, [b"data: {not json\n\n", OPENAI_TEXT_STREAM])
    assert run.error is not None and run.error.kind == "server_error"
    assert run.frames == []


def test_nothing_after_done() -> None:
    translator = OpenAIAdapter(counter_ids()).stream_translator(CTX)
    assert translator.feed(OPENAI_TEXT_STREAM).done
    assert translator.feed(OPENAI_TEXT_STREAM).frames == []
    out = translator.finish()
    assert out.frames == [] and out.error is None
