"""The OpenAI wire over a real socket, through the official SDK and raw httpx."""

from __future__ import annotations

import httpx
import openai
import orjson
import pytest
from openai.types.chat import (
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageParam,
)

from sekisho.simulator import SimulatorServer

from .sim_helpers import OPENAI_AUTH, chat_body, sse_data, sse_json

TOOLS: list[ChatCompletionFunctionToolParam] = [
    {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
]


@pytest.fixture
def sdk(sim: SimulatorServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.base_url("p1"), api_key="sk-test", max_retries=0, timeout=5)


def test_completion_is_deterministic_and_stamped_with_the_provider(sdk: openai.OpenAI) -> None:
    raw = sdk.chat.completions.with_raw_response.create(
        model="gpt-x",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "What is the capital of Japan?"},
        ],
        temperature=0.3,
        top_p=0.9,
    )
    completion = raw.parse()
    assert (
        completion.choices[0].message.content
        == "Simulated answer to: What is the capital of Japan?"
    )
    assert completion.choices[0].finish_reason == "stop"
    assert completion.id == "chatcmpl-p1-1"
    assert completion.model == "gpt-x-p1-2024-08-06"
    assert completion.system_fingerprint == "fp_p1"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (8, 9)
    assert completion.usage.total_tokens == 17
    headers = raw.headers
    assert headers["x-simulator-provider"] == "p1"
    assert headers["openai-organization"] == "p1-org"
    assert headers["server"] == "p1-sim/1.0"
    assert headers["x-request-id"] == "p1-req-1"
    assert headers["x-ratelimit-limit-requests"] == "10000"


def test_sampling_parameters_are_recorded(sim: SimulatorServer, sdk: openai.OpenAI) -> None:
    sdk.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], temperature=0.3, top_p=0.9
    )
    stats = sim.stats("p1")
    assert stats["last_sampling"] == {"temperature": 0.3, "top_p": 0.9}
    last = stats["last_request"]
    assert isinstance(last, dict)
    assert last["path"] == "/p1/v1/chat/completions"
    assert last["headers"]["authorization"] == "Bearer sk-test"


def test_max_completion_tokens_truncates_with_length(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "one two three"}], max_completion_tokens=3
    )
    assert completion.choices[0].message.content == "Simulated answer to:"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 3


def test_stop_truncates_before_the_sequence(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "alpha beta gamma"}], stop=["beta"]
    )
    assert completion.choices[0].message.content == "Simulated answer to: alpha"
    assert completion.choices[0].finish_reason == "stop"


def test_tool_call_then_tool_result_answered_with_text(sdk: openai.OpenAI) -> None:
    question: ChatCompletionMessageParam = {"role": "user", "content": "use the tool please"}
    first = sdk.chat.completions.create(model="m", messages=[question], tools=TOOLS)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert call.id == "call_p1_1"
    assert call.function.name == "lookup"
    assert orjson.loads(call.function.arguments) == {"query": "use the tool please"}

    history: list[ChatCompletionMessageParam] = [
        question,
        {"role": "assistant", "tool_calls": [call.model_dump()]},  # type: ignore[list-item]
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    second = sdk.chat.completions.create(model="m", messages=history, tools=TOOLS)
    assert second.choices[0].message.content == "Simulated answer to: sunny"
    assert second.choices[0].finish_reason == "stop"


def test_tool_choice_none_answers_with_text(sdk: openai.OpenAI) -> None:
    completion = sdk.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "a tool"}],
        tools=TOOLS,
        tool_choice="none",
    )
    assert completion.choices[0].message.tool_calls is None


def test_stream_sends_role_words_finish_usage_and_done(sdk: openai.OpenAI) -> None:
    chunks = list(
        sdk.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "hello there"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    words = [c.choices[0].delta.content for c in chunks[1:-2]]
    assert words == ["Simulated", " answer", " to:", " hello", " there"]
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 5
    assert {c.id for c in chunks} == {"chatcmpl-p1-1"}
    assert {c.model for c in chunks} == {"m-p1-2024-08-06"}


def test_stream_tool_call_deltas_reassemble(client: httpx.Client) -> None:
    body = chat_body("call a tool", tools=TOOLS, stream=True)
    response = client.post("/p1/v1/chat/completions", json=body, headers=OPENAI_AUTH)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert sse_data(response.text)[-1] == "[DONE]"
    chunks = sse_json(response.text)
    calls = [c["choices"][0]["delta"].get("tool_calls") for c in chunks]
    calls = [c[0] for c in calls if c]
    assert calls[0]["id"] == "call_p1_1"
    assert calls[0]["function"]["name"] == "lookup"
    arguments = "".join(c["function"]["arguments"] for c in calls)
    assert orjson.loads(arguments) == {"query": "call a tool"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert "usage" not in chunks[-1]


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, None, None),
        ({"model": "m"}, "messages", "missing_required_parameter"),
        ({"model": "m", "messages": []}, "messages", "empty_array"),
        ({"model": "m", "messages": [{"role": "wizard"}]}, "messages[0].role", "invalid_value"),
        (chat_body(max_tokens=0), "max_tokens", "integer_below_min_value"),
    ],
)
def test_invalid_requests_get_a_400_naming_the_provider(
    client: httpx.Client, body: dict[str, object], param: str | None, code: str | None
) -> None:
    response = client.post("/p1/v1/chat/completions", json=body, headers=OPENAI_AUTH)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert (error["param"], error["code"]) == (param, code)
    assert "on p1 (region sim-region-p1) at 127.0.0.1:" in error["message"]


def test_missing_bearer_key_is_a_401(client: httpx.Client) -> None:
    response = client.post("/p1/v1/chat/completions", json=chat_body())
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["error"]["message"]
    assert response.headers["x-simulator-provider"] == "p1"


def test_models_lists_provider_models(sdk: openai.OpenAI) -> None:
    models = sdk.models.list()
    assert [m.id for m in models.data] == ["p1-large", "p1-small"]
    assert {m.owned_by for m in models.data} == {"p1-org"}


def test_unknown_url_is_a_404_in_openai_format(client: httpx.Client) -> None:
    response = client.get("/p1/v1/engines", headers=OPENAI_AUTH)
    assert response.status_code == 404
    assert response.json()["error"]["message"].startswith("Invalid URL (GET /v1/engines) on p1")
