"""An OpenAI chat request, translated into an Anthropic Messages request. Pure.

The Messages API differs in ways that matter for correctness:
- system prompts are one top-level `system` field, not messages;
- roles must alternate user/assistant, so consecutive same-role turns are merged
  (tool results become `tool_result` blocks of a *user* turn);
- tool calls are `tool_use` blocks whose `input` is an object, not a JSON string;
- `max_tokens` is required and `temperature` stops at 1 (above it: refused);
- `reasoning_effort` becomes extended thinking with a fixed budget.

What happens to each parameter is declared in `params.PARAMETERS`; a request
this wire format cannot honour raises `InvalidRequest` in our words (it never
names the provider).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from sekisho.adapters.params import REASONING_BUDGETS, check_parameters
from sekisho.adapters.shape import as_dict, as_int, as_list, as_str
from sekisho.errors import InvalidRequest

__all__ = ["DEFAULT_MAX_TOKENS", "MIN_THINKING_BUDGET", "messages_request", "translate_messages"]

DEFAULT_MAX_TOKENS = 4096
MIN_THINKING_BUDGET = 1024  # the Messages API refuses a smaller budget_tokens
_DATA_URL = re.compile(r"data:(?P<media>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)", re.DOTALL)
_TOOL_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")  # Anthropic accepts only these in tool ids

Block = dict[str, Any]


def _unsupported(what: str, param: str = "messages") -> InvalidRequest:
    return InvalidRequest(f"{what} is not supported by this model.", param=param)


def _tool_id(value: Any) -> str:
    return _TOOL_ID_UNSAFE.sub("_", str(value or "")) or "call_"


def _text_of(content: Any) -> str:
    """Plain text of a string or a list of text parts (system prompts, tool results)."""
    if isinstance(content, str):
        return content
    parts = [as_str(as_dict(p).get("text")) for p in as_list(content)]
    return "\n".join(p for p in parts if p)


def _image_block(part: dict[str, Any]) -> Block:
    url = as_str(as_dict(part.get("image_url")).get("url")) or ""
    if match := _DATA_URL.fullmatch(url):
        source = {"type": "base64", "media_type": match["media"], "data": match["data"]}
        return {"type": "image", "source": source}
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise _unsupported("This image URL form")


def _content_blocks(content: Any) -> list[Block]:
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    blocks: list[Block] = []
    for raw in as_list(content):
        part = as_dict(raw)
        kind = part.get("type")
        if kind in ("text", "refusal"):
            text = as_str(part.get(kind)) or ""
            if text.strip():  # the Messages API refuses empty and whitespace-only text blocks
                blocks.append({"type": "text", "text": text})
        elif kind == "image_url":
            blocks.append(_image_block(part))
        else:
            raise _unsupported(f"Content part type {kind!r}")
    return blocks


def _tool_input(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    text = arguments if isinstance(arguments, str) else ""
    if not text.strip():
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise InvalidRequest("Tool call arguments must be a JSON object.", param="messages")
    return value


def _assistant_blocks(message: dict[str, Any]) -> list[Block]:
    blocks = _content_blocks(message.get("content"))
    if (refusal := as_str(message.get("refusal"))) and refusal.strip():
        blocks.append({"type": "text", "text": refusal})
    for call in as_list(message.get("tool_calls")):
        fn = as_dict(as_dict(call).get("function"))
        blocks.append(
            {
                "type": "tool_use",
                "id": _tool_id(as_dict(call).get("id")),
                "name": as_str(fn.get("name")) or "",
                "input": _tool_input(fn.get("arguments")),
            }
        )
    return blocks


def _tool_result(message: dict[str, Any]) -> Block:
    block: Block = {"type": "tool_result", "tool_use_id": _tool_id(message.get("tool_call_id"))}
    text = _text_of(message.get("content"))
    if text:
        block["content"] = text
    return block


def _strip_final_assistant(turns: list[dict[str, Any]]) -> None:
    # A final assistant turn is a prefill, and the Messages API refuses one that ends
    # in whitespace; the whitespace cannot change what the model continues with.
    if not turns or turns[-1]["role"] != "assistant":
        return
    blocks = turns[-1]["content"]
    if blocks[-1]["type"] == "text":
        blocks[-1]["text"] = blocks[-1]["text"].rstrip()
        if not blocks[-1]["text"]:
            blocks.pop()
    if not blocks:
        turns.pop()


def translate_messages(messages: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    """OpenAI `messages` -> (Anthropic `system`, alternating user/assistant turns)."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for raw in messages:
        message = as_dict(raw)
        role = message.get("role")
        if role in ("system", "developer"):
            # The Messages API has no mid-conversation system turn; all of them join `system`.
            if text := _text_of(message.get("content")):
                system.append(text)
            continue
        if role == "user":
            wire_role, blocks = "user", _content_blocks(message.get("content"))
        elif role == "assistant":
            wire_role, blocks = "assistant", _assistant_blocks(message)
        elif role == "tool":
            wire_role, blocks = "user", [_tool_result(message)]
        else:
            raise _unsupported(f"Message role {role!r}")
        if not blocks:
            continue
        if turns and turns[-1]["role"] == wire_role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": wire_role, "content": blocks})
    for turn in turns:
        # Tool results must open the user turn that answers the tool calls.
        turn["content"].sort(key=lambda block: block["type"] != "tool_result")
    _strip_final_assistant(turns)
    return "\n\n".join(system), turns


def _tools(body: dict[str, Any]) -> list[Block]:
    tools = []
    for raw in as_list(body.get("tools")):
        fn = as_dict(as_dict(raw).get("function"))
        tool: Block = {"name": as_str(fn.get("name")) or ""}
        if as_str(fn.get("description")):
            tool["description"] = fn["description"]
        schema = fn.get("parameters")
        tool["input_schema"] = (
            schema
            if isinstance(schema, dict)
            else {
                "type": "object",
                "properties": {},
            }
        )
        tools.append(tool)
    return tools


def _tool_choice(body: dict[str, Any]) -> Block | None:
    choice = body.get("tool_choice")
    serial = body.get("parallel_tool_calls") is False
    result: Block | None
    if choice is None:
        result = {"type": "auto"} if serial else None
    elif choice == "none":
        # Kept with the tools (not dropped): history with tool_use blocks needs them defined.
        return {"type": "none"}
    elif choice == "auto":
        result = {"type": "auto"}
    elif choice == "required":
        result = {"type": "any"}
    elif name := as_str(as_dict(as_dict(choice).get("function")).get("name")):
        result = {"type": "tool", "name": name}
    else:
        raise _unsupported("This tool_choice", "tool_choice")
    if result is not None and serial:
        result["disable_parallel_tool_use"] = True
    return result


def _thinking(body: dict[str, Any], max_tokens: int | None) -> tuple[Block | None, int]:
    """(the `thinking` block or None, the `max_tokens` to send); see params.REASONING_BUDGETS."""
    effort = body.get("reasoning_effort")
    budget = REASONING_BUDGETS.get(effort) if isinstance(effort, str) else None
    if budget is None:
        return None, max_tokens or DEFAULT_MAX_TOKENS
    if max_tokens is None:
        # No client limit: the thinking budget comes on top of the default answer length.
        return {"type": "enabled", "budget_tokens": budget}, DEFAULT_MAX_TOKENS + budget
    # A client limit covers thinking and answer together, as OpenAI's reasoning tokens do.
    budget = min(budget, max_tokens - 1)
    if budget < MIN_THINKING_BUDGET:
        raise InvalidRequest(
            f"'reasoning_effort' needs a token limit above {MIN_THINKING_BUDGET} on this model.",
            param="reasoning_effort",
        )
    return {"type": "enabled", "budget_tokens": budget}, max_tokens


def messages_request(body: dict[str, Any], *, upstream_model: str, stream: bool) -> dict[str, Any]:
    """The Anthropic Messages request body for a validated OpenAI chat request."""
    check_parameters(body, "anthropic")
    system, turns = translate_messages(as_list(body.get("messages")))
    limit = as_int(body.get("max_completion_tokens")) or as_int(body.get("max_tokens"))
    thinking, max_tokens = _thinking(body, limit)
    request: dict[str, Any] = {
        "model": upstream_model,
        "max_tokens": max_tokens,
        "messages": turns,
    }
    if system:
        request["system"] = system
    if thinking is not None:
        request["thinking"] = thinking
    temperature = body.get("temperature")
    if isinstance(temperature, int | float) and not isinstance(temperature, bool):
        request["temperature"] = temperature  # above 1 was refused by check_parameters
    top_p = body.get("top_p")
    if top_p is not None and not (top_p == 1 and temperature is not None):
        request["top_p"] = top_p
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else [s for s in as_list(stop) if isinstance(s, str)]
    if stops := [s for s in stops if s]:
        request["stop_sequences"] = stops
    if tools := _tools(body):
        request["tools"] = tools
        if (choice := _tool_choice(body)) is not None:
            request["tool_choice"] = choice
    if stream:
        request["stream"] = True
    # Everything else is `withheld` or a refused no-op value (params.PARAMETERS).
    return request
