"""Request bodies and SSE parsing shared by the simulator tests."""

from __future__ import annotations

from typing import Any

import orjson

OPENAI_AUTH = {"authorization": "Bearer sk-test"}
ANTHROPIC_AUTH = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}


def chat_body(text: str = "hello there", **extra: object) -> dict[str, object]:
    return {"model": "sim-large", "messages": [{"role": "user", "content": text}], **extra}


def messages_body(text: str = "hello there", **extra: object) -> dict[str, object]:
    return {
        "model": "sim-large",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def sse_data(text: str) -> list[str]:
    """The ``data:`` payloads of an SSE body, in order."""
    return [line[len("data: ") :] for line in text.split("\n") if line.startswith("data: ")]


def sse_events(text: str) -> list[str]:
    """The ``event:`` names of an SSE body, in order."""
    return [line[len("event: ") :] for line in text.split("\n") if line.startswith("event: ")]


def sse_json(text: str) -> list[Any]:
    """The JSON ``data:`` payloads of an SSE body (``[DONE]`` left out)."""
    return [orjson.loads(data) for data in sse_data(text) if data != "[DONE]"]
