"""The Anthropic Messages API inbound, translated to and from our chat core's shape. Pure.

    Messages request  -> chat_request(body)        -> ChatRequest for ChatService.complete
    chat.completion   -> message_body(completion)  -> Anthropic `message`
    chat chunks (SSE) -> MessageStream.feed(bytes)  -> Anthropic events (message_start, ...)
    SekishoError      -> error_body(err)            -> {"type": "error", "error": {...}}

Every request field is carried or refused, naming it, like the chat path
(`REQUEST_FIELDS`). Thinking requested with a budget becomes the nearest
`reasoning_effort` not above it (adapters/params.py REASONING_BUDGETS); the
thinking blocks of earlier assistant turns are not replayed upstream.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from sekisho.adapters.params import REASONING_BUDGETS
from sekisho.adapters.shape import as_dict, as_int, as_list, as_str
from sekisho.chat.request import ChatRequest, validate_chat_request
from sekisho.errors import InvalidRequest, SekishoError
from sekisho.inbound.frames import CoreFrames

__all__ = [
    "REQUEST_FIELDS",
    "MessageStream",
    "chat_request",
    "error_body",
    "error_event",
    "estimate_input_tokens",
    "message_body",
]

REQUEST_FIELDS: dict[str, str] = {
    "model": "translated: the alias",
    "messages": "translated: user/assistant turns, tool_use and tool_result blocks, images",
    "max_tokens": "translated: max_tokens",
    "system": "translated: a system message (text blocks joined)",
    "stop_sequences": "translated: stop (at most 4)",
    "stream": "passed",
    "temperature": "passed (0 to 1)",
    "top_p": "passed",
    "top_k": "refused: no equivalent across routes",
    "tools": "translated: function tools (custom tools only)",
    "tool_choice": "translated: auto, any -> required, tool -> named function, none",
    "thinking": "translated: reasoning_effort (the largest budget not above budget_tokens)",
    "metadata": "translated: metadata.user_id -> user (withheld from providers)",
    "service_tier": "accepted: auto or standard_only (the operator decides the tier)",
}

_STOP_REASON = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
    "function_call": "tool_use",
}
# Our error code -> Anthropic error type (the HTTP status stays ours).
_ERROR_TYPE = {
    "invalid_request": "invalid_request_error",
    "context_length_exceeded": "invalid_request_error",
    "content_policy_violation": "invalid_request_error",
    "invalid_api_key": "authentication_error",
    "tenant_suspended": "permission_error",
    "permission_denied": "permission_error",
    "model_not_found": "not_found_error",
    "not_found": "not_found_error",
    "request_too_large": "request_too_large",
    "rate_limited": "rate_limit_error",
    "insufficient_quota": "rate_limit_error",
    "upstream_unavailable": "overloaded_error",
    "service_unavailable": "api_error",
    "internal_error": "api_error",
}


def _bad(message: str, param: str = "messages") -> InvalidRequest:
    return InvalidRequest(message, param=param)


def error_body(err: SekishoError) -> bytes:
    """Anthropic's error envelope for one of our errors (our words, our code's meaning)."""
    kind = _ERROR_TYPE.get(err.code, "api_error")
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": err.message}})


def error_event(err: SekishoError) -> bytes:
    return b"event: error\ndata: " + error_body(err) + b"\n\n"


# -- request


def _text(block: dict[str, Any], where: str) -> str:
    text = block.get("text")
    if not isinstance(text, str):
        raise _bad(f"{where}.text must be a string.")
    return text


def _image_part(block: dict[str, Any], where: str) -> dict[str, Any]:
    source = as_dict(block.get("source"))
    if source.get("type") == "base64":
        media, data = as_str(source.get("media_type")), as_str(source.get("data"))
        if not media or not data:
            raise _bad(f"{where}.source needs media_type and data.")
        return {"type": "image_url", "image_url": {"url": f"data:{media};base64,{data}"}}
    if source.get("type") == "url" and as_str(source.get("url")):
        return {"type": "image_url", "image_url": {"url": source["url"]}}
    raise _bad(f"{where}.source must be a base64 or url image source.")


def _tool_result_text(content: Any, where: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    texts = []
    for j, raw in enumerate(as_list(content)):
        block = as_dict(raw)
        if block.get("type") != "text":
            raise _bad(f"{where}.content[{j}]: only text tool results are supported.")
        texts.append(_text(block, f"{where}.content[{j}]"))
    return "\n".join(texts)


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise _bad(f"{where}.content must be a string or a list of content blocks.")
    blocks = []
    for j, raw in enumerate(content):
        if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
            raise _bad(f"{where}.content[{j}] must be an object with a 'type'.")
        blocks.append(raw)
    return blocks


def _user_turn(content: Any, where: str) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(_blocks(content, where)):
        at = f"{where}.content[{j}]"
        kind = block["type"]
        if kind == "text":
            parts.append({"type": "text", "text": _text(block, at)})
        elif kind == "image":
            parts.append(_image_part(block, at))
        elif kind == "tool_result":
            tool_id = as_str(block.get("tool_use_id"))
            if not tool_id:
                raise _bad(f"{at}.tool_use_id is required.")
            text = _tool_result_text(block.get("content"), at)
            if block.get("is_error") is True:
                text = f"Error: {text}" if text else "Error"
            results.append({"role": "tool", "tool_call_id": tool_id, "content": text or " "})
        else:
            raise _bad(f"{at}: content block type {kind!r} is not supported.")
    turn = list(results)
    if parts:
        turn.append({"role": "user", "content": parts})
    return turn


def _assistant_turn(content: Any, where: str) -> dict[str, Any] | None:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for j, block in enumerate(_blocks(content, where)):
        at = f"{where}.content[{j}]"
        kind = block["type"]
        if kind == "text":
            texts.append(_text(block, at))
        elif kind == "tool_use":
            tool_id, name = as_str(block.get("id")), as_str(block.get("name"))
            if not tool_id or not name:
                raise _bad(f"{at} needs an id and a name.")
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append(
                {
                    "id": tool_id,
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
            )
        elif kind in ("thinking", "redacted_thinking"):
            continue  # earlier reasoning is not replayed upstream (module docstring)
        else:
            raise _bad(f"{at}: content block type {kind!r} is not supported.")
    if not texts and not calls:
        return None
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    return message


def _system(raw: Any) -> str | None:
    if raw is None or isinstance(raw, str):
        return raw or None
    texts = []
    for j, block in enumerate(as_list(raw) if isinstance(raw, list) else [None]):
        block = as_dict(block)
        if block.get("type") != "text":
            raise _bad(f"system[{j}] must be a text block.", "system")
        texts.append(_text(block, f"system[{j}]"))
    return "\n\n".join(texts) or None


def _tools(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise _bad("'tools' must be a list.", "tools")
    tools = []
    for i, tool in enumerate(raw):
        tool = as_dict(tool)
        if tool.get("type") not in (None, "custom"):
            raise _bad(f"tools[{i}]: tool type {tool.get('type')!r} is not supported.", "tools")
        name = as_str(tool.get("name"))
        if not name:
            raise _bad(f"tools[{i}].name is required.", "tools")
        function: dict[str, Any] = {"name": name, "parameters": as_dict(tool.get("input_schema"))}
        if as_str(tool.get("description")):
            function["description"] = tool["description"]
        tools.append({"type": "function", "function": function})
    return tools


def _tool_choice(raw: Any, body: dict[str, Any]) -> None:
    choice = as_dict(raw)
    kind = choice.get("type")
    if kind == "auto":
        body["tool_choice"] = "auto"
    elif kind == "any":
        body["tool_choice"] = "required"
    elif kind == "none":
        body["tool_choice"] = "none"
    elif kind == "tool" and as_str(choice.get("name")):
        body["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        raise _bad(
            "'tool_choice' must have type auto, any, tool (with a name) or none.", "tool_choice"
        )
    if choice.get("disable_parallel_tool_use") is True and body.get("tools"):
        body["parallel_tool_calls"] = False


def _effort(raw: Any) -> str | None:
    thinking = as_dict(raw)
    if thinking.get("type") == "disabled":
        return None
    if thinking.get("type") == "adaptive":
        return "medium"
    budget = as_int(thinking.get("budget_tokens"))
    if thinking.get("type") != "enabled" or budget is None or budget < 1024:
        raise _bad(
            "'thinking' must be {'type': 'enabled', 'budget_tokens': >= 1024} or disabled.",
            "thinking",
        )
    fitting = [(b, e) for e, b in REASONING_BUDGETS.items() if b is not None and b <= budget]
    return max(fitting)[1]


def chat_request(body: Any) -> ChatRequest:
    """A Messages API request as the chat core's request; `InvalidRequest` names the field."""
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.", "body")
    unknown = sorted(set(body) - set(REQUEST_FIELDS))
    if unknown:
        raise _bad(f"Unrecognized request field: {unknown[0]}.", unknown[0])
    if body.get("top_k") is not None:
        raise _bad("'top_k' is not supported.", "top_k")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise _bad("'max_tokens' is required and must be a positive integer.", "max_tokens")
    messages: list[dict[str, Any]] = []
    if (system := _system(body.get("system"))) is not None:
        messages.append({"role": "system", "content": system})
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise _bad("'messages' must be a non-empty list.")
    for i, raw in enumerate(raw_messages):
        message = as_dict(raw)
        role = message.get("role")
        where = f"messages[{i}]"
        if role == "user":
            messages.extend(_user_turn(message.get("content"), where))
        elif role == "assistant":
            if (turn := _assistant_turn(message.get("content"), where)) is not None:
                messages.append(turn)
        else:
            raise _bad(f"{where}.role must be 'user' or 'assistant'.")
    chat: dict[str, Any] = {
        "model": body.get("model"),
        "messages": messages,
        "max_tokens": max_tokens,
    }
    stream = body.get("stream") is True
    if stream:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}  # message_delta reports usage
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            chat[key] = body[key]
    temperature = body.get("temperature")
    if isinstance(temperature, int | float) and temperature > 1:
        raise _bad("'temperature' must be between 0 and 1.", "temperature")
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
            raise _bad("'stop_sequences' must be a list of strings.", "stop_sequences")
        if len(stops) > 4:
            raise _bad("At most 4 'stop_sequences' are supported.", "stop_sequences")
        if stops:
            chat["stop"] = stops
    if body.get("tools") is not None and (tools := _tools(body["tools"])):
        chat["tools"] = tools
    if body.get("tool_choice") is not None:
        _tool_choice(body["tool_choice"], chat)
        if not chat.get("tools") and chat.get("tool_choice") not in ("auto", "none"):
            raise _bad("'tool_choice' needs 'tools' to choose from.", "tool_choice")
    if body.get("thinking") is not None and (effort := _effort(body["thinking"])) is not None:
        chat["reasoning_effort"] = effort
    user = as_dict(body.get("metadata")).get("user_id")
    if isinstance(user, str):
        chat["user"] = user
    if body.get("service_tier") not in (None, "auto", "standard_only"):
        raise _bad("'service_tier' must be 'auto' or 'standard_only'.", "service_tier")
    req = validate_chat_request(chat)
    return replace(req, include_usage=stream, reasoning=True)


def estimate_input_tokens(body: Any) -> int:
    """count_tokens: about four characters a token over the text, tools and system."""
    req = chat_request({**as_dict(body), "max_tokens": 1, "stream": False})
    size = len(orjson.dumps(req.body["messages"]))
    if req.body.get("tools"):
        size += len(orjson.dumps(req.body["tools"]))
    return max(1, size // 4)


# -- response


def _input(arguments: Any) -> dict[str, Any]:
    try:
        value = orjson.loads(arguments) if isinstance(arguments, str) and arguments else {}
    except orjson.JSONDecodeError:
        value = None
    return value if isinstance(value, dict) else {}


def message_id(completion_id: str) -> str:
    return "msg_" + completion_id.removeprefix("chatcmpl-")


def _usage(usage: Any) -> dict[str, int]:
    fields = as_dict(usage)
    return {
        "input_tokens": as_int(fields.get("prompt_tokens")) or 0,
        "output_tokens": as_int(fields.get("completion_tokens")) or 0,
    }


def message_body(completion: dict[str, Any]) -> dict[str, Any]:
    """Our `chat.completion` as an Anthropic `message`."""
    choice = as_dict(as_list(completion.get("choices"))[0] if completion.get("choices") else {})
    message = as_dict(choice.get("message"))
    content: list[dict[str, Any]] = []
    if reasoning := as_str(message.get("reasoning_content")):
        # The upstream's signature is its artifact (Rule 1), and earlier thinking is not
        # replayed, so the block carries none.
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    if text := as_str(message.get("content")):
        content.append({"type": "text", "text": text})
    for call in as_list(message.get("tool_calls")):
        fn = as_dict(as_dict(call).get("function"))
        content.append(
            {
                "type": "tool_use",
                "id": as_str(as_dict(call).get("id")) or "",
                "name": as_str(fn.get("name")) or "",
                "input": _input(fn.get("arguments")),
            }
        )
    return {
        "id": message_id(str(completion.get("id", ""))),
        "type": "message",
        "role": "assistant",
        "model": completion.get("model"),
        "content": content,
        "stop_reason": _STOP_REASON.get(str(choice.get("finish_reason")), "end_turn"),
        "stop_sequence": None,
        "usage": _usage(completion.get("usage")),
    }


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return (
        b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **payload}) + b"\n\n"
    )


class MessageStream:
    """Our chat chunks, as SSE bytes from the chat core, into the Messages event sequence.

    message_start, ping, then per content block content_block_start / _delta
    (text_delta, input_json_delta, thinking_delta) / _stop,
    then message_delta (stop_reason, usage) and message_stop; an in-stream
    error frame becomes an `error` event.
    """

    def __init__(self) -> None:
        self._frames = CoreFrames()
        self._started = False
        self._block: str | None = None  # "text" | "thinking" | "tool_use"
        self._index = -1
        self._tool_blocks: dict[int, int] = {}  # OpenAI tool_calls index -> block index
        self._stop_reason = "end_turn"
        self._usage = {"input_tokens": 0, "output_tokens": 0}
        self.finished = False

    def feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        for kind, payload in self._frames.feed(data):
            if self.finished:
                continue
            if kind == "done":
                self._finish(out)
            elif kind == "error":
                error = {
                    "type": _ERROR_TYPE.get(str(payload.get("code")), "api_error"),
                    "message": str(payload.get("message", "")),
                }
                out.append(_event("error", {"error": error}))
                self.finished = True
            else:
                self._chunk(payload, out)
        return b"".join(out)

    def _start(self, chunk: dict[str, Any], out: list[bytes]) -> None:
        message: dict[str, Any] = {
            "id": message_id(str(chunk.get("id", ""))),
            "type": "message",
            "role": "assistant",
            "model": chunk.get("model"),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        out.append(_event("message_start", {"message": message}))
        out.append(_event("ping", {}))
        self._started = True

    def _open(self, kind: str, block: dict[str, Any], out: list[bytes]) -> None:
        self._close(out)
        self._index += 1
        self._block = kind
        out.append(_event("content_block_start", {"index": self._index, "content_block": block}))

    def _close(self, out: list[bytes]) -> None:
        if self._block is not None:
            out.append(_event("content_block_stop", {"index": self._index}))
            self._block = None

    def _delta(self, index: int, delta: dict[str, Any], out: list[bytes]) -> None:
        out.append(_event("content_block_delta", {"index": index, "delta": delta}))

    def _chunk(self, chunk: dict[str, Any], out: list[bytes]) -> None:
        if not self._started:
            self._start(chunk, out)
        if isinstance(chunk.get("usage"), dict):
            self._usage = _usage(chunk["usage"])
        for choice in as_list(chunk.get("choices")):
            choice = as_dict(choice)
            delta = as_dict(choice.get("delta"))
            if thinking := as_str(delta.get("reasoning_content")):
                if self._block != "thinking":
                    self._open(
                        "thinking", {"type": "thinking", "thinking": "", "signature": ""}, out
                    )
                self._delta(self._index, {"type": "thinking_delta", "thinking": thinking}, out)
            if text := as_str(delta.get("content")):
                if self._block != "text":
                    self._open("text", {"type": "text", "text": ""}, out)
                self._delta(self._index, {"type": "text_delta", "text": text}, out)
            for call in as_list(delta.get("tool_calls")):
                self._tool_delta(as_dict(call), out)
            if (finish := as_str(choice.get("finish_reason"))) is not None:
                self._stop_reason = _STOP_REASON.get(finish, "end_turn")

    def _tool_delta(self, call: dict[str, Any], out: list[bytes]) -> None:
        position = as_int(call.get("index")) or 0
        fn = as_dict(call.get("function"))
        if position not in self._tool_blocks:
            block = {
                "type": "tool_use",
                "id": as_str(call.get("id")) or "",
                "name": as_str(fn.get("name")) or "",
                "input": {},
            }
            self._open("tool_use", block, out)
            self._tool_blocks[position] = self._index
        if arguments := as_str(fn.get("arguments")):
            index = self._tool_blocks[position]
            self._delta(index, {"type": "input_json_delta", "partial_json": arguments}, out)

    def _finish(self, out: list[bytes]) -> None:
        if not self._started:
            self._start({}, out)
        self._close(out)
        delta = {"stop_reason": self._stop_reason, "stop_sequence": None}
        out.append(_event("message_delta", {"delta": delta, "usage": self._usage}))
        out.append(_event("message_stop", {}))
        self.finished = True
