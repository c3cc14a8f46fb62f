"""Our OpenAI-compatible output, built from values only (the allow-list lives here).

Every body or chunk a customer receives is assembled by these functions from
fields we chose, stamped with our completion id, the alias and our `created`;
nothing is copied wholesale from an upstream payload, so identity an upstream
adds (ids, `system_fingerprint`, `service_tier`, new keys) cannot slip through.
Upstream JSON is untrusted, hence the defensive accessors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from sekisho.adapters.base import ResponseContext, Usage
from sekisho.adapters.sse import data_frame
from sekisho.ids import new_id

__all__ = [
    "FINISH_REASONS",
    "ToolCallIds",
    "as_dict",
    "as_int",
    "as_list",
    "as_str",
    "chunk_frame",
    "completion_body",
    "new_tool_call_id",
    "tool_arguments",
    "tool_call_body",
    "usage_body",
]

FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def new_tool_call_id() -> str:
    """A tool-call id of ours, shaped like OpenAI's (`call_` + 24 hex)."""
    return new_id("call")


class ToolCallIds:
    """Upstream tool-call id -> ours, stable within one response or stream.

    Upstream ids (`toolu_01...`, `call_...`) can identify the provider, so they are
    never shown; the same upstream id keeps the same new id so deltas still join up.
    """

    def __init__(self, new: Callable[[], str] = new_tool_call_id) -> None:
        self._new = new
        self._ours: dict[str, str] = {}

    def ours(self, upstream: Any) -> str:
        if not isinstance(upstream, str) or not upstream:
            return self._new()
        if upstream not in self._ours:
            self._ours[upstream] = self._new()
        return self._ours[upstream]


def tool_arguments(value: Any) -> str:
    """Tool arguments as the JSON string OpenAI clients expect."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value if value is not None else {}).decode()


def tool_call_body(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def usage_body(usage: Usage) -> dict[str, int] | None:
    """OpenAI `usage`, or None when the upstream reported nothing (never invented zeros)."""
    if usage.total_tokens is None:
        return None
    return {
        "prompt_tokens": usage.prompt_tokens or 0,
        "completion_tokens": usage.completion_tokens or 0,
        "total_tokens": usage.total_tokens,
    }


def completion_body(
    ctx: ResponseContext, choices: list[dict[str, Any]], usage: Usage
) -> dict[str, Any]:
    """A `chat.completion` with our identity."""
    return {
        "id": ctx.completion_id,
        "object": "chat.completion",
        "created": ctx.created,
        "model": ctx.alias,
        "choices": choices,
        "usage": usage_body(usage),
    }


def chunk_frame(
    ctx: ResponseContext, choices: list[dict[str, Any]], usage: Usage | None = None
) -> bytes:
    """One `chat.completion.chunk` SSE frame with our identity.

    Like OpenAI, chunks carry a `usage` key only when the client asked for usage:
    null on content chunks, filled on the usage chunk.
    """
    chunk: dict[str, Any] = {
        "id": ctx.completion_id,
        "object": "chat.completion.chunk",
        "created": ctx.created,
        "model": ctx.alias,
        "choices": choices,
    }
    if ctx.include_usage:
        chunk["usage"] = usage_body(usage) if usage is not None else None
    return data_frame(orjson.dumps(chunk))
