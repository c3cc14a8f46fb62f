"""The Anthropic Messages wire format: parsing, bodies, stream events, errors."""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from sekisho.simulator.generate import Finish, Prompt, ToolChoice, count_words
from sekisho.simulator.identity import RATE_LIMIT_REQUESTS, RATE_LIMIT_TOKENS, ProviderIdentity
from sekisho.simulator.wire import (
    ChatRequest,
    Reply,
    WireError,
    is_int,
    sse,
    text_of,
    tool_schemas,
)

_STOP_REASON = {
    Finish.END: "end_turn",
    Finish.STOP_SEQUENCE: "stop_sequence",
    Finish.LENGTH: "max_tokens",
    Finish.TOOL_CALL: "tool_use",
}
_ERROR_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_FAULTS = {
    400: "The request was rejected by a simulated fault",
    401: "invalid x-api-key",
    403: "Your API key does not have permission to use the specified resource",
    404: "model: {model}",
    413: "Request exceeds the maximum allowed number of bytes",
    429: "Number of request tokens has exceeded your per-minute rate limit",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    529: "Overloaded",
}


class AnthropicWire:
    """``POST /v1/messages`` as Anthropic speaks it."""

    name = "anthropic"

    def headers(self, identity: ProviderIdentity, seq: int) -> dict[str, str]:
        return {
            **identity.common_headers(),
            "anthropic-organization-id": identity.organization,
            "request-id": identity.request_id(seq),
            "x-request-id": identity.request_id(seq),
            "anthropic-ratelimit-requests-limit": str(RATE_LIMIT_REQUESTS),
            "anthropic-ratelimit-requests-remaining": str(
                RATE_LIMIT_REQUESTS - seq % RATE_LIMIT_REQUESTS
            ),
            "anthropic-ratelimit-tokens-limit": str(RATE_LIMIT_TOKENS),
            "anthropic-ratelimit-tokens-remaining": str(RATE_LIMIT_TOKENS - 1000),
            "x-ratelimit-limit-requests": str(RATE_LIMIT_REQUESTS),
        }

    def check_auth(self, headers: Mapping[str, str]) -> WireError | None:
        if not headers.get("x-api-key", "").strip():
            return WireError(401, "x-api-key header is required")
        if not headers.get("anthropic-version", "").strip():
            return WireError(400, "anthropic-version: header is required")
        return None

    def parse(self, body: object) -> ChatRequest:
        if not isinstance(body, dict):
            raise WireError(
                400, "There was an error parsing the body of your request: expected a JSON object"
            )
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise WireError(400, "model: Field required")
        max_tokens = body.get("max_tokens")
        if max_tokens is None:
            raise WireError(400, "max_tokens: Field required")
        if not is_int(max_tokens):
            raise WireError(400, "max_tokens: Input should be a valid integer")
        assert isinstance(max_tokens, int)
        if max_tokens < 1:
            raise WireError(400, "max_tokens: Input should be greater than or equal to 1")
        messages = _messages(body.get("messages"))
        tools = _tools(body.get("tools"))
        choice, forced = _tool_choice(body.get("tool_choice"))
        last_text, last_is_tool_result = "", False
        for message in messages:
            if message["role"] == "user":
                last_text = text_of(message.get("content"))
                last_is_tool_result = _has_tool_result(message.get("content"))
        system = text_of(body.get("system"))
        prompt = Prompt(
            last_text=last_text,
            prompt_tokens=count_words(system)
            + sum(count_words(text_of(m.get("content"))) for m in messages),
            last_is_tool_result=last_is_tool_result,
            tools=tools,
            tool_choice=choice,
            forced_tool=forced,
            max_tokens=max_tokens,
            stop=_stop_sequences(body.get("stop_sequences")),
            thinking=_thinking(body.get("thinking"), max_tokens),
            tool_schemas=tool_schemas(body.get("tools"), "input_schema"),
        )
        return ChatRequest(model, prompt, body.get("stream") is True)

    def fault_error(self, status: int, model: str) -> WireError:
        message = _FAULTS.get(status, f"Simulated error {status}")
        return WireError(status, message.format(model=model))

    def error_body(
        self, error: WireError, identity: ProviderIdentity, seq: int, host: str
    ) -> bytes:
        return orjson.dumps(
            {**_error_object(error, identity, host), "request_id": identity.request_id(seq)}
        )

    def response_body(self, reply: Reply) -> bytes:
        return orjson.dumps(
            {
                **_message(reply),
                "content": [*_thinking_blocks(reply), _content_block(reply, full=True)],
                "stop_reason": _STOP_REASON[reply.completion.finish],
                "stop_sequence": reply.completion.stop_sequence,
                "usage": _usage(reply.completion.prompt_tokens, reply.completion.completion_tokens),
            }
        )

    def stream_events(self, reply: Reply, include_usage: bool) -> list[bytes]:
        completion = reply.completion
        start = {
            **_message(reply),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": _usage(completion.prompt_tokens, 1),
        }
        delta_type, field = (
            ("input_json_delta", "partial_json") if completion.tool_call else ("text_delta", "text")
        )
        events = [sse({"type": "message_start", "message": start}, "message_start")]
        index = 0
        if completion.thinking is not None:
            events += _thinking_events(reply)
            index = 1
        events += [
            sse(
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": _content_block(reply, full=False),
                },
                "content_block_start",
            ),
            sse({"type": "ping"}, "ping"),
        ]
        events.extend(
            sse(
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": delta_type, field: piece},
                },
                "content_block_delta",
            )
            for piece in completion.pieces
        )
        stop = {
            "stop_reason": _STOP_REASON[completion.finish],
            "stop_sequence": completion.stop_sequence,
        }
        events += [
            sse({"type": "content_block_stop", "index": index}, "content_block_stop"),
            sse(
                {
                    "type": "message_delta",
                    "delta": stop,
                    "usage": {"output_tokens": completion.completion_tokens},
                },
                "message_delta",
            ),
            sse({"type": "message_stop"}, "message_stop"),
        ]
        return events

    def stream_error_event(self, identity: ProviderIdentity, seq: int, host: str) -> bytes:
        return sse(_error_object(WireError(529, "Overloaded"), identity, host), "error")

    def models_body(self, identity: ProviderIdentity, created: int) -> bytes:
        models = [
            {
                "type": "model",
                "id": model,
                "display_name": model,
                "created_at": "2024-08-06T00:00:00Z",
            }
            for model in identity.listed_models()
        ]
        return orjson.dumps(
            {
                "data": models,
                "has_more": False,
                "first_id": models[0]["id"],
                "last_id": models[-1]["id"],
            }
        )


def _error_object(error: WireError, identity: ProviderIdentity, host: str) -> dict[str, object]:
    kind = _ERROR_TYPE.get(
        error.status, "api_error" if error.status >= 500 else "invalid_request_error"
    )
    return {
        "type": "error",
        "error": {"type": kind, "message": identity.error_text(error.message, host)},
    }


def _message(reply: Reply) -> dict[str, object]:
    return {
        "id": reply.identity.message_id(reply.seq),
        "type": "message",
        "role": "assistant",
        "model": reply.identity.model(reply.model),
    }


def _content_block(reply: Reply, *, full: bool) -> dict[str, object]:
    call = reply.completion.tool_call
    if call is None:
        return {"type": "text", "text": reply.completion.text if full else ""}
    tool_id = reply.identity.anthropic_tool_use_id(reply.seq)
    return {
        "type": "tool_use",
        "id": tool_id,
        "name": call.name,
        "input": call.input if full else {},
    }


def _thinking(raw: object, max_tokens: int) -> bool:
    if raw is None:
        return False
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind == "disabled":
        return False
    budget = raw.get("budget_tokens") if isinstance(raw, dict) else None
    if kind != "enabled" or not is_int(budget):
        raise WireError(
            400, "thinking: Input should be an object with type 'enabled' or 'disabled'"
        )
    assert isinstance(budget, int)
    if budget < 1024:
        raise WireError(
            400, "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
        )
    if budget >= max_tokens:
        raise WireError(400, "`max_tokens` must be greater than `thinking.budget_tokens`")
    return True


def _signature(reply: Reply) -> str:
    # Real signatures are opaque; this one names the provider so tests can see it never leaks.
    return f"sig_{reply.identity.name}_{reply.seq}"


def _thinking_blocks(reply: Reply) -> list[dict[str, object]]:
    thinking = reply.completion.thinking
    if thinking is None:
        return []
    return [{"type": "thinking", "thinking": thinking, "signature": _signature(reply)}]


def _thinking_events(reply: Reply) -> list[bytes]:
    thinking = reply.completion.thinking or ""
    block = {"type": "thinking", "thinking": "", "signature": ""}
    words = thinking.split(" ")
    pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
    events = [
        sse(
            {"type": "content_block_start", "index": 0, "content_block": block},
            "content_block_start",
        )
    ]
    events += [
        sse(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": piece},
            },
            "content_block_delta",
        )
        for piece in pieces
    ]
    events += [
        sse(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "signature_delta", "signature": _signature(reply)},
            },
            "content_block_delta",
        ),
        sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
    ]
    return events


def _usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def _messages(raw: object) -> list[dict[str, object]]:
    if raw is None:
        raise WireError(400, "messages: Field required")
    if not isinstance(raw, list):
        raise WireError(400, "messages: Input should be a valid list")
    if not raw:
        raise WireError(400, "messages: at least one message is required")
    for i, message in enumerate(raw):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "system":
            raise WireError(
                400,
                'messages: Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" as an input message role',
            )
        if role not in ("user", "assistant"):
            raise WireError(400, f"messages.{i}.role: Input should be 'user' or 'assistant'")
    return raw


def _has_tool_result(content: object) -> bool:
    return isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" for block in content
    )


def _stop_sequences(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, list) and all(isinstance(s, str) for s in raw):
        return tuple(raw)
    raise WireError(400, "stop_sequences: Input should be a valid list of strings")


def _tools(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    names = []
    for i, tool in enumerate(raw if isinstance(raw, list) else [None]):
        name = tool.get("name") if isinstance(tool, dict) else None
        if not isinstance(name, str) or not name:
            raise WireError(400, f"tools.{i}.name: Field required")
        names.append(name)
    return tuple(names)


def _tool_choice(raw: object) -> tuple[ToolChoice, str | None]:
    kind = raw.get("type") if isinstance(raw, dict) else raw
    if raw is None or kind == "auto":
        return ToolChoice.AUTO, None
    if kind == "none":
        return ToolChoice.NONE, None
    if kind == "any":
        return ToolChoice.REQUIRED, None
    name = raw.get("name") if isinstance(raw, dict) else None
    if kind == "tool" and isinstance(name, str):
        return ToolChoice.REQUIRED, name
    raise WireError(
        400, "tool_choice: Input should be an object with type 'auto', 'any', 'tool' or 'none'"
    )


ANTHROPIC = AnthropicWire()
