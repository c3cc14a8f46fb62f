"""Parse and validate an OpenAI Chat Completions request. Pure.

Anything wrong raises `InvalidRequest` naming the parameter, before any
upstream is called (Rule 12).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from sekisho.adapters.params import MESSAGE_FIELDS, PARAMETERS, REASONING_BUDGETS
from sekisho.errors import InvalidRequest

ROLES = ("system", "developer", "user", "assistant", "tool")
# Every parameter of the spec, with what each adapter does with it: adapters/params.py.
KNOWN_FIELDS = frozenset(PARAMETERS)
_ENUMS: dict[str, tuple[str, ...]] = {
    "reasoning_effort": tuple(REASONING_BUDGETS),
    "verbosity": ("low", "medium", "high"),
}


@dataclass(frozen=True, slots=True)
class ChatRequest:
    alias: str
    body: dict[str, Any]
    stream: bool
    include_usage: bool
    reasoning: bool = False  # see adapters.base.ResponseContext.reasoning


def _bad(message: str, param: str | None = None) -> InvalidRequest:
    return InvalidRequest(message, param=param)


def _number(body: dict[str, Any], key: str, lo: float, hi: float) -> None:
    value = body.get(key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise _bad(f"'{key}' must be a number between {lo:g} and {hi:g}.", key)


def _positive_int(body: dict[str, Any], key: str) -> None:
    value = body.get(key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _bad(f"'{key}' must be a positive integer.", key)


def _check_content(content: Any, where: str, *, optional: bool) -> None:
    if content is None and optional:
        return
    if isinstance(content, str):
        return
    if isinstance(content, list) and content:
        for j, part in enumerate(content):
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise _bad(f"{where}.content[{j}] must be an object with a 'type'.", "messages")
        return
    raise _bad(
        f"{where}.content must be a string or a non-empty list of content parts.", "messages"
    )


def _check_tool_calls(calls: Any, where: str) -> None:
    if not isinstance(calls, list):
        raise _bad(f"{where}.tool_calls must be a list.", "messages")
    for j, call in enumerate(calls):
        fn = call.get("function") if isinstance(call, dict) else None
        if (
            not isinstance(call, dict)
            or not isinstance(call.get("id"), str)
            or not isinstance(fn, dict)
            or not isinstance(fn.get("name"), str)
            or not isinstance(fn.get("arguments", ""), str)
        ):
            raise _bad(
                f"{where}.tool_calls[{j}] must have an id and a function with a name "
                "and string arguments.",
                "messages",
            )


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list) or not messages:
        raise _bad("'messages' must be a non-empty list.", "messages")
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise _bad(f"{where} must be an object.", "messages")
        unknown = sorted(set(msg) - set(MESSAGE_FIELDS))
        if unknown:
            raise _bad(f"Unrecognized message field: {where}.{unknown[0]}.", "messages")
        if msg.get("name") is not None and not isinstance(msg["name"], str):
            raise _bad(f"{where}.name must be a string.", "messages")
        role = msg.get("role")
        if role not in ROLES:
            raise _bad(f"{where}.role must be one of {', '.join(ROLES)}.", "messages")
        if role == "assistant":
            has_calls = msg.get("tool_calls") is not None
            if has_calls:
                _check_tool_calls(msg["tool_calls"], where)
            _check_content(msg.get("content"), where, optional=has_calls)
        else:
            _check_content(msg.get("content"), where, optional=False)
        if role == "tool" and not isinstance(msg.get("tool_call_id"), str):
            raise _bad(f"{where}.tool_call_id is required for a tool message.", "messages")


def _check_tools(body: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise _bad("'tools' must be a list.", "tools")
        for i, tool in enumerate(tools):
            fn = tool.get("function") if isinstance(tool, dict) else None
            if (
                not isinstance(tool, dict)
                or tool.get("type") != "function"
                or not isinstance(fn, dict)
                or not isinstance(fn.get("name"), str)
                or not isinstance(fn.get("parameters", {}), dict)
            ):
                raise _bad(
                    f"tools[{i}] must be {{'type': 'function', 'function': {{'name': ..., "
                    "'parameters': {...}}}}.",
                    "tools",
                )
    choice = body.get("tool_choice")
    if choice is None or choice in ("none", "auto", "required"):
        return
    fn = choice.get("function") if isinstance(choice, dict) else None
    if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
        raise _bad(
            "'tool_choice' must be 'none', 'auto', 'required' or a named function.", "tool_choice"
        )


def _check_scalars(body: dict[str, Any]) -> None:
    for key, allowed in _ENUMS.items():
        value = body.get(key)
        if value is not None and value not in allowed:
            raise _bad(f"'{key}' must be one of {', '.join(allowed)}.", key)
    for key in ("logprobs", "parallel_tool_calls", "store"):
        value = body.get(key)
        if value is not None and not isinstance(value, bool):
            raise _bad(f"'{key}' must be a boolean.", key)
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise _bad("'seed' must be an integer.", "seed")
    top = body.get("top_logprobs")
    if top is not None and (
        isinstance(top, bool) or not isinstance(top, int) or not 0 <= top <= 20
    ):
        raise _bad("'top_logprobs' must be an integer between 0 and 20.", "top_logprobs")
    for key in ("user", "safety_identifier", "prompt_cache_key"):
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise _bad(f"'{key}' must be a string.", key)
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _bad("'metadata' must be an object.", "metadata")


def _check_stop(stop: Any) -> None:
    if stop is None or isinstance(stop, str):
        return
    if (
        not isinstance(stop, list)
        or len(stop) > 4
        or not all(isinstance(s, str) and s for s in stop)
    ):
        raise _bad("'stop' must be a string or a list of at most 4 strings.", "stop")


def validate_chat_request(body: Any) -> ChatRequest:
    """Check a decoded JSON body; return the request or raise `InvalidRequest`."""
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    unknown = sorted(set(body) - KNOWN_FIELDS)
    if unknown:
        raise _bad(f"Unrecognized request argument(s): {', '.join(unknown)}.", unknown[0])
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _bad("'model' is required and must be a model alias string.", "model")
    _check_messages(body.get("messages"))
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise _bad("'stream' must be a boolean.", "stream")
    options = body.get("stream_options")
    if options is not None and (
        not isinstance(options, dict) or not isinstance(options.get("include_usage", False), bool)
    ):
        raise _bad(
            "'stream_options' must be an object with a boolean 'include_usage'.", "stream_options"
        )
    _positive_int(body, "max_tokens")
    _positive_int(body, "max_completion_tokens")
    _number(body, "temperature", 0, 2)
    _number(body, "top_p", 0, 1)
    _number(body, "presence_penalty", -2, 2)
    _number(body, "frequency_penalty", -2, 2)
    n = body.get("n")
    if n is not None and n != 1:
        raise _bad("Only n=1 is supported.", "n")
    _check_scalars(body)
    _check_stop(body.get("stop"))
    _check_tools(body)
    include_usage = bool(options and options.get("include_usage"))
    return ChatRequest(alias=model, body=body, stream=stream, include_usage=include_usage)


def parse_chat_request(raw: bytes) -> ChatRequest:
    """Decode JSON bytes and validate them."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _bad(
            f"The request body is not valid JSON: {exc.args[0] if exc.args else exc}."
        ) from exc
    return validate_chat_request(body)
