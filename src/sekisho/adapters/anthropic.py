"""The adapter for the Anthropic Messages API (kind "anthropic").

Requests are translated in `anthropic_request.py`; this module turns a
`message` response, or its event stream, into our OpenAI chat completion.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from sekisho.adapters.anthropic_request import messages_request
from sekisho.adapters.base import (
    ResponseContext,
    StreamOutput,
    StreamTranslator,
    UpstreamRequest,
    Usage,
)
from sekisho.adapters.shape import (
    ToolCallIds,
    as_dict,
    as_int,
    as_str,
    chunk_frame,
    completion_body,
    new_tool_call_id,
    tool_arguments,
    tool_call_body,
)
from sekisho.adapters.sse import DONE_FRAME
from sekisho.adapters.stream import SSEStreamTranslator
from sekisho.adapters.upstream_errors import (
    decode_body,
    error_detail,
    stream_error,
)

__all__ = ["ANTHROPIC_VERSION", "AnthropicAdapter"]

ANTHROPIC_VERSION = "2023-06-01"

_FINISH_REASON = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def _finish_reason(stop_reason: Any) -> str:
    return _FINISH_REASON.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"


def _record_usage(usage: Usage, raw: Any) -> None:
    """Fold an Anthropic usage object into ours (message_start, then message_delta)."""
    fields = as_dict(raw)
    if (output := as_int(fields.get("output_tokens"))) is not None:
        usage.completion_tokens = output  # cumulative, so the last report wins
    counts = [
        as_int(fields.get(key))
        for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    ]
    if counts[0] is not None:
        # Cached prompt tokens are reported apart from input_tokens; OpenAI's
        # prompt_tokens includes them, and so must our logs.
        usage.prompt_tokens = sum(c or 0 for c in counts)


class _AnthropicStream(SSEStreamTranslator):
    def __init__(self, ctx: ResponseContext, new_id: Callable[[], str]) -> None:
        super().__init__(ctx)
        self._ids = ToolCallIds(new_id)
        self._tool_index: dict[int, int] = {}  # content block index -> OpenAI tool_calls index
        self._role_sent = False
        self._finish = "stop"

    def _on_event(self, event: str, payload: dict[str, Any], out: StreamOutput) -> None:
        kind = as_str(payload.get("type")) or event
        if kind == "message_start":
            _record_usage(self.usage, as_dict(payload.get("message")).get("usage"))
        elif kind == "content_block_start":
            self._block_start(payload, out)
        elif kind == "content_block_delta":
            self._block_delta(payload, out)
        elif kind == "message_delta":
            if (reason := as_dict(payload.get("delta")).get("stop_reason")) is not None:
                self._finish = _finish_reason(reason)
            _record_usage(self.usage, payload.get("usage"))
        elif kind == "message_stop":
            self._end(out)
        elif kind == "error":
            out.error = stream_error(payload)
        # ping, content_block_stop, thinking and future event types: nothing to send

    def _on_done(self, out: StreamOutput) -> None:
        self._end(out)  # not part of this wire format, but unambiguous if a proxy adds it

    def _emit(self, out: StreamOutput, delta: dict[str, Any], finish: str | None = None) -> None:
        if not self._role_sent:
            # The role rides on the first real chunk rather than on message_start, so an
            # error event right after message_start still finds nothing sent (failover).
            delta = {"role": "assistant", **delta}
            self._role_sent = True
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        out.frames.append(chunk_frame(self._ctx, [choice]))

    def _block_start(self, payload: dict[str, Any], out: StreamOutput) -> None:
        block = as_dict(payload.get("content_block"))
        if block.get("type") == "text" and (text := as_str(block.get("text"))):
            self._emit(out, {"content": text})
        elif block.get("type") == "tool_use":
            index = len(self._tool_index)
            self._tool_index[as_int(payload.get("index")) or 0] = index
            call = tool_call_body(
                self._ids.ours(block.get("id")), as_str(block.get("name")) or "", ""
            )
            self._emit(out, {"tool_calls": [{"index": index, **call}]})

    def _block_delta(self, payload: dict[str, Any], out: StreamOutput) -> None:
        delta = as_dict(payload.get("delta"))
        if delta.get("type") == "text_delta" and (text := as_str(delta.get("text"))):
            self._emit(out, {"content": text})
        elif self._ctx.reasoning and delta.get("type") == "thinking_delta":
            if thinking := as_str(delta.get("thinking")):
                self._emit(out, {"reasoning_content": thinking})
        elif delta.get("type") == "input_json_delta" and (
            part := as_str(delta.get("partial_json"))
        ):
            index = self._tool_index.get(as_int(payload.get("index")) or 0)
            if index is not None:
                call = {"index": index, "function": {"arguments": part}}
                self._emit(out, {"tool_calls": [call]})
        # signature_delta: an upstream artifact (Rule 1), useless to a client since earlier
        # thinking is not replayed; citations_delta (and thinking without ctx.reasoning):
        # no place in the OpenAI shape

    def _end(self, out: StreamOutput) -> None:
        self._emit(out, {}, self._finish)
        if self._ctx.include_usage:
            out.frames.append(chunk_frame(self._ctx, [], self.usage))
        out.frames.append(DONE_FRAME)
        out.done = True


class AnthropicAdapter:
    """Anthropic Messages wire format (kind "anthropic")."""

    kind = "anthropic"

    def __init__(self, new_tool_call_id: Callable[[], str] = new_tool_call_id) -> None:
        self._new_id = new_tool_call_id  # injectable so tests get deterministic ids

    def build_request(
        self, body: dict[str, Any], *, upstream_model: str, api_key: str, stream: bool
    ) -> UpstreamRequest:
        """Translate a validated OpenAI chat request into a Messages request."""
        request = messages_request(body, upstream_model=upstream_model, stream=stream)
        return UpstreamRequest(
            path="/messages",
            headers={
                "x-api-key": api_key,
                "anthropic-version": ANTHROPIC_VERSION,
                "content-type": "application/json",
            },
            body=orjson.dumps(request),
        )

    def parse_response(self, data: bytes, ctx: ResponseContext) -> tuple[dict[str, Any], Usage]:
        """Turn a `message` into our `chat.completion`."""
        payload = decode_body(data, "content", "a message")
        ids = ToolCallIds(self._new_id)
        texts: list[str] = []
        thinking: list[str] = []
        calls: list[dict[str, Any]] = []
        for raw in payload["content"]:
            block = as_dict(raw)
            if block.get("type") == "text":
                texts.append(as_str(block.get("text")) or "")
            elif block.get("type") == "tool_use":
                calls.append(
                    tool_call_body(
                        ids.ours(block.get("id")),
                        as_str(block.get("name")) or "",
                        tool_arguments(block.get("input")),
                    )
                )
            elif block.get("type") == "thinking" and ctx.reasoning:
                thinking.append(as_str(block.get("thinking")) or "")  # not its signature
            # redacted_thinking / server-tool blocks (and thinking without ctx.reasoning)
            # are not part of our shape
        message: dict[str, Any] = {
            "role": "assistant",
            # OpenAI sends null content on a pure tool-call turn
            "content": "".join(texts) if texts or not calls else None,
            "refusal": None,
        }
        if calls:
            message["tool_calls"] = calls
        if thinking:
            message["reasoning_content"] = "".join(thinking)
        usage = Usage()
        _record_usage(usage, payload.get("usage"))
        choice = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": _finish_reason(payload.get("stop_reason")),
        }
        return completion_body(ctx, [choice], usage), usage

    def stream_translator(self, ctx: ResponseContext) -> StreamTranslator:
        """A fresh translator for one streamed response."""
        return _AnthropicStream(ctx, self._new_id)

    def error_detail(self, status: int, data: bytes) -> str:
        """The upstream's own error message, for the internal request log only."""
        return error_detail(status, data)
