"""Drive a stream translator the way the chat core does, and read back what it emitted."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from openai.types.chat import ChatCompletionChunk

from sekisho.adapters import Adapter, ResponseContext, StreamError, Usage


@dataclass
class StreamRun:
    frames: list[bytes]
    done: bool
    error: StreamError | None
    usage: Usage


def run_stream(adapter: Adapter, ctx: ResponseContext, pieces: Iterable[bytes]) -> StreamRun:
    translator = adapter.stream_translator(ctx)
    frames: list[bytes] = []
    done, error = False, None
    for out in [*(translator.feed(p) for p in pieces), translator.finish()]:
        frames += out.frames
        done = done or out.done
        error = error or out.error
    return StreamRun(frames, done, error, translator.usage)


def chunks_of(frames: list[bytes]) -> list[dict[str, Any]]:
    """Parse our frames; every one must be `data: <json>\\n\\n` and a valid OpenAI chunk."""
    chunks = []
    for frame in frames:
        assert frame.startswith(b"data: ") and frame.endswith(b"\n\n"), frame
        if frame == b"data: [DONE]\n\n":
            continue
        chunk = orjson.loads(frame[6:-2])
        ChatCompletionChunk.model_validate(chunk)  # what an OpenAI SDK client would accept
        chunks.append(chunk)
    return chunks


@dataclass
class Assembled:
    content: str = ""
    roles: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, str]] = field(default_factory=dict)
    finish_reasons: list[str] = field(default_factory=list)
    usage: list[dict[str, Any]] = field(default_factory=list)


def assemble(chunks: list[dict[str, Any]]) -> Assembled:
    """Fold chunks into a message the way OpenAI SDK stream helpers do."""
    result = Assembled()
    for chunk in chunks:
        if chunk.get("usage"):
            result.usage.append(chunk["usage"])
        for choice in chunk["choices"]:
            delta = choice["delta"]
            if "role" in delta:
                result.roles.append(delta["role"])
            result.content += delta.get("content") or ""
            for call in delta.get("tool_calls", []):
                slot = result.calls.setdefault(call["index"], {"id": "", "name": "", "args": ""})
                slot["id"] = call.get("id", slot["id"])
                fn = call.get("function", {})
                slot["name"] += fn.get("name", "")
                slot["args"] += fn.get("arguments", "")
            if choice["finish_reason"] is not None:
                result.finish_reasons.append(choice["finish_reason"])
    return result
