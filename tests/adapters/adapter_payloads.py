"""Realistic upstream payloads, each carrying the identity our output must never show."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

import orjson

from sekisho.adapters import ResponseContext

CTX = ResponseContext(
    completion_id="chatcmpl-ours0000000000000000000", alias="chat-jp", created=1_700_000_000
)
CTX_USAGE = ResponseContext(
    completion_id=CTX.completion_id, alias=CTX.alias, created=CTX.created, include_usage=True
)

OUR_CALL_ID = re.compile(r"call_[0-9a-f]{24}")  # the shape of a tool-call id we mint

# Every string here identifies an upstream; none may appear in any byte we emit.
IDENTITY = (
    "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
    "chatcmpl-AzureUpstream77",
    "cmpl-vllm-3f2a9c",
    "fp_fc9f1d7035",
    "fp_b705f0c291",
    "gpt-4o",
    "2024-08-06",
    "llama-3.1-70b",
    "call_DdmO9pD3xa9XTPNJ32zg2hcA",
    "call_Yk3mq8sWn1hH0qD6zgR2cUo5",
    "call_9pZ0Jr1vLw",
    "msg_01XFDUDYJgAACzvnptvVoYEL",
    "msg_014p7gG3wDgGV9EUtLvnow3U",
    "msg_01Err0r",
    "toolu_01A09q90qw90lq917835lq9",
    "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
    "claude",
    "sonnet",
    "openai",
    "anthropic",
    "azure",
    "vllm",
    "system_fingerprint",
    "service_tier",
    "prompt_filter_results",
    "content_filter_results",
    "annotations",
    "cache_creation",
    "thinking",
    "signature",
    "ErUBCkYIBRgCIkB",
)


def counter_ids() -> Callable[[], str]:
    """A deterministic tool-call id factory, so repeated runs give equal bytes."""
    counter = itertools.count()
    return lambda: f"call_{next(counter):024x}"


def our_text_completion(content: str, prompt: int, completion: int) -> dict[str, Any]:
    """The exact `chat.completion` a text answer must become: our identity, allow-listed keys."""
    message = {"role": "assistant", "content": content, "refusal": None}
    return {
        "id": CTX.completion_id,
        "object": "chat.completion",
        "created": CTX.created,
        "model": CTX.alias,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def openai_sse(*payloads: dict[str, Any] | str) -> bytes:
    return b"".join(
        b"data: " + (p.encode() if isinstance(p, str) else orjson.dumps(p)) + b"\n\n"
        for p in payloads
    )


def anthropic_sse(*payloads: dict[str, Any]) -> bytes:
    return b"".join(
        b"event: " + str(p["type"]).encode() + b"\ndata: " + orjson.dumps(p) + b"\n\n"
        for p in payloads
    )


# --- OpenAI (and OpenAI-compatible) --------------------------------------------------------

OPENAI_TEXT_RESPONSE = orjson.dumps(
    {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": 1741570283,
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "東京は日本の首都です。",
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 1117,
            "completion_tokens": 46,
            "total_tokens": 1163,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_fc9f1d7035",
    }
)

OPENAI_TOOL_RESPONSE = orjson.dumps(
    {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": 1741570283,
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "refusal": None,
                    "annotations": [],
                    "tool_calls": [
                        {
                            "id": "call_DdmO9pD3xa9XTPNJ32zg2hcA",
                            "type": "function",
                            "function": {
                                "name": "get_weather",
                                "arguments": '{"location": "Tokyo"}',
                            },
                        },
                        {
                            "id": "call_Yk3mq8sWn1hH0qD6zgR2cUo5",
                            "type": "function",
                            "function": {
                                "name": "get_weather",
                                "arguments": '{"location": "Osaka"}',
                            },
                        },
                    ],
                },
                "logprobs": {
                    "content": [
                        {
                            "token": "Hi",
                            "logprob": -0.01,
                            "bytes": [72, 105],
                            "top_logprobs": [{"token": "Hi", "logprob": -0.01, "bytes": [72, 105]}],
                        }
                    ],
                    "refusal": None,
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 82, "completion_tokens": 51, "total_tokens": 133},
        "system_fingerprint": "fp_b705f0c291",
    }
)


def _oai_chunk(choices: list[dict[str, Any]], usage: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion.chunk",
        "created": 1741570283,
        "model": "gpt-4o-2024-08-06",
        "service_tier": "default",
        "system_fingerprint": "fp_fc9f1d7035",
        "choices": choices,
        "usage": usage,
        **extra,
    }


def _oai_delta(delta: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
    return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]


OPENAI_USAGE = {
    "prompt_tokens": 19,
    "completion_tokens": 10,
    "total_tokens": 29,
    "prompt_tokens_details": {"cached_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0},
}

OPENAI_TEXT_STREAM = openai_sse(
    _oai_chunk(_oai_delta({"role": "assistant", "content": "", "refusal": None})),
    _oai_chunk(_oai_delta({"content": "東京は"})),
    _oai_chunk(_oai_delta({"content": "日本の首都です。"})),
    _oai_chunk(_oai_delta({}, "stop")),
    _oai_chunk([], OPENAI_USAGE),
    "[DONE]",
)
OPENAI_TEXT_STREAM_CONTENT = "東京は日本の首都です。"

OPENAI_TOOL_STREAM = openai_sse(
    _oai_chunk(
        _oai_delta(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_DdmO9pD3xa9XTPNJ32zg2hcA",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ],
                "refusal": None,
            }
        )
    ),
    _oai_chunk(_oai_delta({"tool_calls": [{"index": 0, "function": {"arguments": '{"lo'}}]})),
    _oai_chunk(
        _oai_delta({"tool_calls": [{"index": 0, "function": {"arguments": 'cation": "Tokyo"}'}}]})
    ),
    _oai_chunk(
        _oai_delta(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "call_Yk3mq8sWn1hH0qD6zgR2cUo5",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        )
    ),
    _oai_chunk(
        _oai_delta(
            {"tool_calls": [{"index": 1, "function": {"arguments": '{"location": "Osaka"}'}}]}
        )
    ),
    _oai_chunk(_oai_delta({}, "tool_calls")),
    _oai_chunk([], {"prompt_tokens": 82, "completion_tokens": 51, "total_tokens": 133}),
    "[DONE]",
)
OPENAI_TOOL_STREAM_CALLS = [
    ("get_weather", '{"location": "Tokyo"}'),
    ("get_weather", '{"location": "Osaka"}'),
]

# Azure-style: a prompt-filter chunk with empty ids first, content-filter annotations on every
# choice, keep-alive comments and CRLF line ends.
_AZURE_FILTER = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
}
OPENAI_AZURE_STREAM = b": keep-alive azure\r\n\r\n" + openai_sse(
    {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": _AZURE_FILTER}],
    },
    {
        "id": "chatcmpl-AzureUpstream77",
        "object": "chat.completion.chunk",
        "created": 1741570283,
        "model": "gpt-4o-2024-08-06",
        "system_fingerprint": "fp_b705f0c291",
        "choices": [
            {
                "index": 0,
                "delta": {"role": "assistant", "content": "Hello"},
                "content_filter_results": _AZURE_FILTER,
                "finish_reason": None,
            }
        ],
    },
    {
        "id": "chatcmpl-AzureUpstream77",
        "object": "chat.completion.chunk",
        "created": 1741570283,
        "model": "gpt-4o-2024-08-06",
        "system_fingerprint": "fp_b705f0c291",
        "choices": [
            {
                "index": 0,
                "delta": {},
                "content_filter_results": _AZURE_FILTER,
                "finish_reason": "stop",
            }
        ],
    },
    {
        "id": "chatcmpl-AzureUpstream77",
        "object": "chat.completion.chunk",
        "created": 1741570283,
        "model": "gpt-4o-2024-08-06",
        "choices": [],
        "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
    },
    "[DONE]",
).replace(b"\n", b"\r\n")

# vLLM: no role chunk of its own model name echoes, then an in-stream error object.
OPENAI_VLLM_ERROR_STREAM = openai_sse(
    {
        "id": "cmpl-vllm-3f2a9c",
        "object": "chat.completion.chunk",
        "created": 1741570283,
        "model": "llama-3.1-70b",
        "choices": [
            {"index": 0, "delta": {"content": "Par"}, "logprobs": None, "finish_reason": None}
        ],
    },
    {
        "error": {
            "object": "error",
            "message": "vllm engine died (llama-3.1-70b)",
            "type": "InternalServerError",
            "param": None,
            "code": 500,
        }
    },
    {
        "id": "cmpl-vllm-3f2a9c",
        "object": "chat.completion.chunk",
        "created": 1741570283,
        "model": "llama-3.1-70b",
        "choices": [
            {"index": 0, "delta": {"content": "tial"}, "logprobs": None, "finish_reason": None}
        ],
    },
)

# --- Anthropic Messages ---------------------------------------------------------------------

ANTHROPIC_TEXT_RESPONSE = orjson.dumps(
    {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-20250514",
        "content": [
            {
                "type": "thinking",
                "thinking": "The user wants the capital.",
                "signature": "ErUBCkYIBRgCIkB",
            },
            {"type": "text", "text": "東京は"},
            {"type": "text", "text": "日本の首都です。"},
        ],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 2095,
            "output_tokens": 503,
            "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 5,
            "service_tier": "standard",
        },
    }
)

ANTHROPIC_TOOL_RESPONSE = orjson.dumps(
    {
        "id": "msg_014p7gG3wDgGV9EUtLvnow3U",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-5-sonnet-20241022",
        "content": [
            {"type": "text", "text": "I'll check the weather in both cities."},
            {
                "type": "tool_use",
                "id": "toolu_01A09q90qw90lq917835lq9",
                "name": "get_weather",
                "input": {"location": "Tokyo", "unit": "celsius"},
            },
            {
                "type": "tool_use",
                "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
                "name": "get_weather",
                "input": {"location": "Osaka"},
            },
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 472, "output_tokens": 89},
    }
)

_MSG_START: dict[str, Any] = {
    "type": "message_start",
    "message": {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude-3-5-sonnet-20241022",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 25,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 1,
            "service_tier": "standard",
        },
    },
}

ANTHROPIC_TEXT_STREAM = anthropic_sse(
    _MSG_START,
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "東京は"}},
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": "日本の首都です。"},
    },
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 15},
    },
    {"type": "message_stop"},
)
ANTHROPIC_TEXT_STREAM_CONTENT = "東京は日本の首都です。"

ANTHROPIC_TOOL_STREAM = anthropic_sse(
    _MSG_START,
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "thinking_delta", "thinking": "I need the weather tool."},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "signature_delta", "signature": "ErUBCkYIBRgCIkB"},
    },
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "text_delta", "text": "Checking both."},
    },
    {"type": "content_block_stop", "index": 1},
    {
        "type": "content_block_start",
        "index": 2,
        "content_block": {
            "type": "tool_use",
            "id": "toolu_01A09q90qw90lq917835lq9",
            "name": "get_weather",
            "input": {},
        },
    },
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": ""},
    },
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": '{"location": "To'},
    },
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": 'kyo"}'},
    },
    {"type": "content_block_stop", "index": 2},
    {
        "type": "content_block_start",
        "index": 3,
        "content_block": {
            "type": "tool_use",
            "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
            "name": "get_time",
            "input": {},
        },
    },
    {
        "type": "content_block_delta",
        "index": 3,
        "delta": {"type": "input_json_delta", "partial_json": '{"tz": "Asia/Tokyo"}'},
    },
    {"type": "content_block_stop", "index": 3},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"input_tokens": 25, "cache_read_input_tokens": 10, "output_tokens": 89},
    },
    {"type": "message_stop"},
)
ANTHROPIC_TOOL_STREAM_CALLS = [
    ("get_weather", '{"location": "Tokyo"}'),
    ("get_time", '{"tz": "Asia/Tokyo"}'),
]

ANTHROPIC_OVERLOADED_STREAM = anthropic_sse(
    {**_MSG_START, "message": {**_MSG_START["message"], "id": "msg_01Err0r"}},
    {"type": "ping"},
    {
        "type": "error",
        "error": {
            "type": "overloaded_error",
            "message": "Overloaded (anthropic, claude-3-5-sonnet)",
        },
    },
)

OPENAI_STREAMS = {
    "text": OPENAI_TEXT_STREAM,
    "tools": OPENAI_TOOL_STREAM,
    "azure": OPENAI_AZURE_STREAM,
    "vllm_error": OPENAI_VLLM_ERROR_STREAM,
}
ANTHROPIC_STREAMS = {
    "text": ANTHROPIC_TEXT_STREAM,
    "tools": ANTHROPIC_TOOL_STREAM,
    "overloaded": ANTHROPIC_OVERLOADED_STREAM,
}
