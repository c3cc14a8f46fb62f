"""OpenAI chat request -> Anthropic Messages request."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sekisho.adapters import AnthropicAdapter
from sekisho.adapters.anthropic_request import messages_request, translate_messages
from sekisho.errors import InvalidRequest


def build(body: dict[str, Any], stream: bool = False) -> dict[str, Any]:
    req = AnthropicAdapter().build_request(
        body, upstream_model="claude-x", api_key="k", stream=stream
    )
    return dict(orjson.loads(req.body))


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def assert_valid_turns(turns: list[dict[str, Any]]) -> None:
    """The Messages API's structural rules for `messages`."""
    for i, turn in enumerate(turns):
        assert turn["role"] == ("user" if i % 2 == 0 else "assistant")
        assert turn["content"], turn
        types = [b["type"] for b in turn["content"]]
        assert all(b["text"].strip() for b in turn["content"] if b["type"] == "text")
        if "tool_result" in types:
            assert turn["role"] == "user"
            assert types == sorted(types, key=lambda t: t != "tool_result")
        if turn["role"] == "user":
            assert "tool_use" not in types


def test_headers_path_and_defaults() -> None:
    req = AnthropicAdapter().build_request(
        {"model": "chat-jp", "messages": [user("hi")]},
        upstream_model="claude-x",
        api_key="sk-ant",
        stream=True,
    )
    assert req.path == "/messages"
    assert req.headers == {
        "x-api-key": "sk-ant",
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
    }
    assert orjson.loads(req.body) == {
        "model": "claude-x",
        "max_tokens": 4096,
        "stream": True,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }


def test_sampling_parameters() -> None:
    sent = build(
        {
            "messages": [user("hi")],
            "max_tokens": 100,
            "max_completion_tokens": 50,
            "temperature": 0.7,
            "stop": "\n\nHuman:",
            "user": "u-42",
            "presence_penalty": 0,
        }
    )
    assert sent["max_tokens"] == 50  # the newer parameter wins
    assert sent["temperature"] == 0.7
    assert sent["stop_sequences"] == ["\n\nHuman:"]
    assert not {"user", "seed", "presence_penalty", "metadata", "stream"} & sent.keys()
    # refused rather than dropped or clamped: tests/adapters/test_params_table.py
    assert build({"messages": [user("hi")], "stop": ["a", "b"], "max_tokens": 9})[
        "stop_sequences"
    ] == ["a", "b"]


def test_system_and_developer_messages_become_system() -> None:
    sent = build(
        {
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "developer", "content": [{"type": "text", "text": "Answer in Japanese."}]},
                user("hi"),
                {"role": "system", "content": "Late rule."},
                user("again"),
            ]
        }
    )
    assert sent["system"] == "You are terse.\n\nAnswer in Japanese.\n\nLate rule."
    assert sent["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": "again"}],
        }
    ]


def test_content_parts_and_images() -> None:
    sent = build(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is in these?"},
                        {
                            "type": "image_url",
                            "image_url": {
                                "url": "data:image/png;base64,iVBORw0KGgo=",
                                "detail": "high",
                            },
                        },
                        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                        {"type": "text", "text": ""},
                        {"type": "text", "text": " \n"},
                    ],
                }
            ]
        }
    )
    assert sent["messages"][0]["content"] == [
        {"type": "text", "text": "What is in these?"},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}],
                }
            ]
        },
        {"messages": [user("hi")], "response_format": {"type": "json_object"}},
        {
            "messages": [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "[1]"},
                        }
                    ],
                }
            ]
        },
    ],
)
def test_untranslatable_requests_are_invalid_in_our_words(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest) as info:
        build(body)
    assert "anthropic" not in info.value.message.lower()
    assert "claude" not in info.value.message.lower()


def test_tools_and_tool_choice() -> None:
    tools: list[dict[str, Any]] = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather",
                "parameters": {
                    "type": "object",
                    "properties": {"location": {"type": "string"}},
                    "required": ["location"],
                },
                "strict": True,
            },
        },
        {"type": "function", "function": {"name": "now"}},
    ]
    base = {"messages": [user("hi")], "tools": tools}
    sent = build(base)
    assert sent["tools"] == [
        {
            "name": "get_weather",
            "description": "Current weather",
            "input_schema": tools[0]["function"]["parameters"],
        },
        {"name": "now", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in sent
    cases = [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        ({"type": "function", "function": {"name": "now"}}, {"type": "tool", "name": "now"}),
    ]
    for choice, expected in cases:
        assert build({**base, "tool_choice": choice})["tool_choice"] == expected
    serial = build({**base, "tool_choice": "required", "parallel_tool_calls": False})
    assert serial["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert build({**base, "parallel_tool_calls": False})["tool_choice"] == {
        "type": "auto",
        "disable_parallel_tool_use": True,
    }
    # tool_choice without tools means nothing to the Messages API
    assert "tool_choice" not in build({"messages": [user("hi")], "tool_choice": "auto"})


CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a weather bot."},
    {"role": "user", "content": "Weather in Tokyo and Osaka?"},
    {
        "role": "assistant",
        "content": "Let me check.",
        "tool_calls": [
            {
                "id": "call_abc123",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"location": "Tokyo"}'},
            },
            {
                "id": "call.def/456",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "call_abc123", "content": "18°C, clear"},
    {
        "role": "tool",
        "tool_call_id": "call.def/456",
        "content": [{"type": "text", "text": "21°C"}, {"type": "text", "text": "rain"}],
    },
    {"role": "user", "content": "And tomorrow?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_xyz",
                "type": "function",
                "function": {"name": "forecast", "arguments": '{"days": 1}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_xyz", "content": "sunny"},
    {"role": "assistant", "content": "Sunny tomorrow."},
    {"role": "user", "content": "Thanks"},
    {"role": "user", "content": [{"type": "text", "text": "Bye"}]},
    {"role": "assistant", "content": "Goodbye "},
]


def test_multi_turn_tool_conversation_round_trip() -> None:
    original = copy.deepcopy(CONVERSATION)
    system, turns = translate_messages(CONVERSATION)
    assert original == CONVERSATION
    assert system == "You are a weather bot."
    assert_valid_turns(turns)
    assert turns == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Tokyo and Osaka?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me check."},
                {
                    "type": "tool_use",
                    "id": "call_abc123",
                    "name": "get_weather",
                    "input": {"location": "Tokyo"},
                },
                {"type": "tool_use", "id": "call_def_456", "name": "get_weather", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_abc123", "content": "18°C, clear"},
                {"type": "tool_result", "tool_use_id": "call_def_456", "content": "21°C\nrain"},
                {"type": "text", "text": "And tomorrow?"},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "call_xyz", "name": "forecast", "input": {"days": 1}}
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "call_xyz", "content": "sunny"}],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "Sunny tomorrow."}]},
        {
            "role": "user",
            "content": [{"type": "text", "text": "Thanks"}, {"type": "text", "text": "Bye"}],
        },
        # a final assistant turn is a prefill: trailing whitespace is refused upstream
        {"role": "assistant", "content": [{"type": "text", "text": "Goodbye"}]},
    ]
    # every tool_use is answered by a tool_result in the very next turn
    for asked, answered in itertools.pairwise(turns):
        uses = {b["id"] for b in asked["content"] if b["type"] == "tool_use"}
        results = {b["tool_use_id"] for b in answered["content"] if b["type"] == "tool_result"}
        assert uses <= results


def test_tool_result_is_moved_before_text_in_a_merged_user_turn() -> None:
    _, turns = translate_messages(
        [
            user("q"),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            user("(also this)"),
            {"role": "tool", "tool_call_id": "c1", "content": "done"},
        ]
    )
    assert [b["type"] for b in turns[2]["content"]] == ["tool_result", "text"]


_MESSAGE = st.one_of(
    st.builds(lambda t: {"role": "system", "content": t}, st.text(max_size=5)),
    st.builds(lambda t: {"role": "user", "content": t}, st.text(min_size=1, max_size=5)),
    st.builds(
        lambda t: {"role": "user", "content": [{"type": "text", "text": t}]}, st.text(max_size=5)
    ),
    st.builds(lambda t: {"role": "assistant", "content": t}, st.text(min_size=1, max_size=5)),
    st.builds(
        lambda i: {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": f"c{i}", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        st.integers(0, 3),
    ),
    st.builds(
        lambda i: {"role": "tool", "tool_call_id": f"c{i}", "content": "r"}, st.integers(0, 3)
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_MESSAGE, max_size=12))
def test_any_conversation_gives_alternating_non_empty_turns(messages: list[Any]) -> None:
    _, turns = translate_messages(messages)
    if turns and turns[0]["role"] == "assistant":
        turns = turns[1:]  # a conversation the caller opened with the assistant stays so
    assert_valid_turns(turns)


def test_messages_request_is_usable_without_the_adapter() -> None:
    sent = messages_request({"messages": [user("hi")]}, upstream_model="m", stream=False)
    assert sent["max_tokens"] == 4096 and "stream" not in sent
