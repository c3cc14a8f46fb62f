"""The adapter for OpenAI-compatible upstreams (OpenAI, vLLM, Azure-style, sovereign clouds).

The wire format is already ours, so the request is forwarded nearly as is; the
response is still rebuilt field by field (see `shape.py`), because an
OpenAI-compatible upstream stamps its own identity on everything it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from sekisho.adapters.base import (
    ResponseContext,
    StreamOutput,
    StreamTranslator,
    UpstreamRequest,
    Usage,
)
from sekisho.adapters.params import check_parameters, forwarded_parameters
from sekisho.adapters.shape import (
    FINISH_REASONS,
    ToolCallIds,
    as_dict,
    as_int,
    as_list,
    as_str,
    chunk_frame,
    completion_body,
    new_tool_call_id,
    tool_arguments,
    tool_call_body,
)
from sekisho.adapters.stream import SSEStreamTranslator
from sekisho.adapters.upstream_errors import (
    decode_body,
    error_detail,
    stream_error,
)

__all__ = ["OpenAIAdapter"]

# What is forwarded is declared in `params.PARAMETERS` (the `passed` set); among the rest,
# `user`/`safety_identifier`/`metadata` are the tenant's data and withheld, and
# `stream_options` is ours: we always ask for usage when streaming (to log tokens) and
# decide from the client's own option whether to show it.
_FORWARDED = forwarded_parameters("openai")


def _finish_reason(value: Any) -> str | None:
    if value is None:
        return None
    # Non-standard reasons (vLLM's "abort", ...) are not part of the OpenAI contract.
    return value if value in FINISH_REASONS else "stop"


def _number(value: Any) -> float | int | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _token_logprob(raw: dict[str, Any], *, with_top: bool) -> dict[str, Any]:
    raw_bytes = raw.get("bytes")
    item: dict[str, Any] = {
        "token": as_str(raw.get("token")) or "",
        "logprob": _number(raw.get("logprob")),
        "bytes": [b for b in raw_bytes if as_int(b) is not None]
        if isinstance(raw_bytes, list)
        else None,
    }
    if with_top:
        item["top_logprobs"] = [
            _token_logprob(t, with_top=False)
            for t in as_list(raw.get("top_logprobs"))
            if isinstance(t, dict)
        ]
    return item


def _logprobs(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    result: dict[str, Any] = {}
    for key in ("content", "refusal"):
        items = raw.get(key)
        result[key] = (
            [_token_logprob(t, with_top=True) for t in items if isinstance(t, dict)]
            if isinstance(items, list)
            else None
        )
    return result


def _usage(raw: Any) -> Usage:
    fields = as_dict(raw)
    return Usage(as_int(fields.get("prompt_tokens")), as_int(fields.get("completion_tokens")))


def _message(raw: dict[str, Any], ids: ToolCallIds) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": as_str(raw.get("content")),
        "refusal": as_str(raw.get("refusal")),
    }
    calls = []
    for call in as_list(raw.get("tool_calls")):
        if isinstance(call, dict):
            fn = as_dict(call.get("function"))
            calls.append(
                tool_call_body(
                    ids.ours(call.get("id")),
                    as_str(fn.get("name")) or "",
                    tool_arguments(fn.get("arguments")),
                )
            )
    if calls:
        message["tool_calls"] = calls
    return message


def _tool_call_delta(raw: dict[str, Any], position: int, ids: ToolCallIds) -> dict[str, Any]:
    index = as_int(raw.get("index"))
    delta: dict[str, Any] = {"index": index if index is not None else position}
    if as_str(raw.get("id")):
        delta["id"] = ids.ours(raw["id"])
    if raw.get("type") is not None:
        delta["type"] = "function"
    fn = as_dict(raw.get("function"))
    function: dict[str, Any] = {}
    if as_str(fn.get("name")) is not None:
        function["name"] = fn["name"]
    if fn.get("arguments") is not None:
        function["arguments"] = tool_arguments(fn["arguments"])
    if function:
        delta["function"] = function
    return delta


def _delta(raw: dict[str, Any], ids: ToolCallIds) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if raw.get("role") is not None:
        delta["role"] = "assistant"
    for key in ("content", "refusal"):
        if as_str(raw.get(key)) is not None:
            delta[key] = raw[key]
    calls = [
        _tool_call_delta(call, position, ids)
        for position, call in enumerate(as_list(raw.get("tool_calls")))
        if isinstance(call, dict)
    ]
    if calls:
        delta["tool_calls"] = calls
    return delta


class _OpenAIStream(SSEStreamTranslator):
    def __init__(self, ctx: ResponseContext, new_id: Callable[[], str]) -> None:
        super().__init__(ctx)
        self._ids = ToolCallIds(new_id)
        self._role_sent: set[int] = set()

    def _on_event(self, event: str, payload: dict[str, Any], out: StreamOutput) -> None:
        if event == "error" or payload.get("error") is not None or payload.get("object") == "error":
            out.error = stream_error(payload)
            return
        has_usage = isinstance(payload.get("usage"), dict)
        if has_usage:
            self.usage = _usage(payload["usage"])
        choices = [c for c in map(self._choice, as_list(payload.get("choices"))) if c is not None]
        if choices:
            out.frames.append(chunk_frame(self._ctx, choices, self.usage if has_usage else None))
        elif has_usage and self._ctx.include_usage:
            out.frames.append(chunk_frame(self._ctx, [], self.usage))

    def _choice(self, raw: Any) -> dict[str, Any] | None:
        if not isinstance(raw, dict):
            return None
        index = as_int(raw.get("index")) or 0
        delta = _delta(as_dict(raw.get("delta")), self._ids)
        finish = _finish_reason(raw.get("finish_reason"))
        logprobs = _logprobs(raw.get("logprobs"))
        if not delta and finish is None and logprobs is None:
            return None  # e.g. Azure's content-filter annotations: nothing for the client
        if index not in self._role_sent:
            # OpenAI's first chunk names the role; keep that even if the upstream did not.
            delta = {"role": "assistant", **delta}
            self._role_sent.add(index)
        return {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}


class OpenAIAdapter:
    """OpenAI Chat Completions wire format (kind "openai")."""

    kind = "openai"

    def __init__(self, new_tool_call_id: Callable[[], str] = new_tool_call_id) -> None:
        self._new_id = new_tool_call_id  # injectable so tests get deterministic ids

    def build_request(
        self, body: dict[str, Any], *, upstream_model: str, api_key: str, stream: bool
    ) -> UpstreamRequest:
        """Forward the validated body with the upstream model and our streaming options."""
        check_parameters(body, "openai")
        upstream = {k: v for k, v in body.items() if k in _FORWARDED}
        if not body.get("tools"):
            # Without tools these are no-ops (params.py), and OpenAI refuses them alone.
            upstream.pop("tool_choice", None)
            upstream.pop("parallel_tool_calls", None)
        upstream["model"] = upstream_model
        upstream["stream"] = stream
        if stream:
            upstream["stream_options"] = {"include_usage": True}
        return UpstreamRequest(
            path="/chat/completions",
            headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
            body=orjson.dumps(upstream),
        )

    def parse_response(self, data: bytes, ctx: ResponseContext) -> tuple[dict[str, Any], Usage]:
        """Rebuild the upstream `chat.completion` from the allow-list with our identity."""
        payload = decode_body(data, "choices", "a chat completion")
        ids = ToolCallIds(self._new_id)
        choices = []
        for position, raw in enumerate(payload["choices"]):
            choice = as_dict(raw)
            index = as_int(choice.get("index"))
            choices.append(
                {
                    "index": index if index is not None else position,
                    "message": _message(as_dict(choice.get("message")), ids),
                    "logprobs": _logprobs(choice.get("logprobs")),
                    "finish_reason": _finish_reason(choice.get("finish_reason")) or "stop",
                }
            )
        usage = _usage(payload.get("usage"))
        return completion_body(ctx, choices, usage), usage

    def stream_translator(self, ctx: ResponseContext) -> StreamTranslator:
        """A fresh translator for one streamed response."""
        return _OpenAIStream(ctx, self._new_id)

    def error_detail(self, status: int, data: bytes) -> str:
        """The upstream's own error message, for the internal request log only."""
        return error_detail(status, data)
