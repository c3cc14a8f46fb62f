"""The OpenAI Responses API (stateless), translated to and from our chat core's shape. Pure.

    CreateResponse     -> chat_request(body)            -> ChatRequest for ChatService.complete
    chat.completion    -> response_object(body, req)    -> a `response`
    chat chunks (SSE)  -> ResponseEvents.feed(bytes)    -> response.created, ..., response.completed

Sekisho keeps no conversation state: `store: true`, `previous_response_id`,
`conversation`, `background` and the like are refused with a 400 naming the
field (`REQUEST_FIELDS` says what happens to every field of the spec).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from sekisho.adapters.shape import as_dict, as_int, as_list, as_str
from sekisho.chat.request import ChatRequest, validate_chat_request
from sekisho.errors import InvalidRequest
from sekisho.inbound.frames import CoreFrames

__all__ = [
    "REQUEST_FIELDS",
    "ResponseEvents",
    "ResponsesRequest",
    "chat_request",
    "response_object",
]

_STATELESS = "Sekisho keeps no conversation state; send the whole conversation in 'input'."
REQUEST_FIELDS: dict[str, str] = {
    "model": "translated: the alias",
    "input": "translated: messages (text, images), function calls and their outputs",
    "instructions": "translated: a system message first",
    "max_output_tokens": "translated: max_completion_tokens",
    "temperature": "passed",
    "top_p": "passed",
    "tools": "translated: function tools (other tool types refused)",
    "tool_choice": "translated: auto, none, required, a named function",
    "parallel_tool_calls": "passed",
    "text": "translated: text.format -> response_format (text, json_object, json_schema)",
    "reasoning": "translated: reasoning.effort -> reasoning_effort; a summary is refused",
    "stream": "passed",
    "stream_options": "accepted (include_obfuscation has no effect: events are ours)",
    "metadata": "withheld: echoed in the response, never sent to a provider",
    "user": "withheld: the tenant's end-user identifier",
    "safety_identifier": "withheld: the tenant's end-user identifier",
    "prompt_cache_key": "passed (as on chat completions)",
    "prompt_cache_retention": "passed (as on chat completions)",
    "prompt_cache_options": "passed (as on chat completions)",
    "service_tier": "as on chat completions: auto/default accepted, others refused",
    "store": "false accepted (Sekisho never stores); true refused",
    "previous_response_id": "refused: " + _STATELESS,
    "conversation": "refused: " + _STATELESS,
    "background": "false accepted; true refused",
    "include": "an empty list accepted; anything to include refused",
    "truncation": "'disabled' accepted; 'auto' refused",
    "max_tool_calls": "accepted: applies to built-in tools only, of which there are none",
    "top_logprobs": "0 accepted; more refused",
    "prompt": "refused: stored prompts are not supported",
    "context_management": "refused",
    "moderation": "refused: guardrails are the gateway's own policy",
}


def _bad(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param)


@dataclass(frozen=True, slots=True)
class ResponsesRequest:
    chat: ChatRequest
    echo: dict[str, Any]  # request fields the response object repeats


def _refuse_stateful(body: dict[str, Any]) -> None:
    if body.get("store") is True:
        raise _bad("'store': true is not supported. " + _STATELESS, "store")
    for key in ("previous_response_id", "conversation", "prompt", "context_management"):
        if body.get(key) is not None:
            raise _bad(f"'{key}' is not supported. " + _STATELESS, key)
    if body.get("moderation") is not None:
        raise _bad(
            "'moderation' is not supported: guardrails are the gateway's policy.", "moderation"
        )
    if body.get("background") is True:
        raise _bad("'background': true is not supported.", "background")
    if body.get("include"):
        raise _bad("'include' is not supported (nothing extra can be included).", "include")
    if body.get("truncation") not in (None, "disabled"):
        raise _bad("Only 'truncation': 'disabled' is supported.", "truncation")
    if body.get("top_logprobs") not in (None, 0):
        raise _bad("'top_logprobs' is not supported.", "top_logprobs")


def _content(content: Any, where: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list) or not content:
        raise _bad(f"{where}.content must be a string or a list of content parts.", "input")
    parts: list[dict[str, Any]] = []
    for j, raw in enumerate(content):
        part = as_dict(raw)
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text") and isinstance(part.get("text"), str):
            parts.append({"type": "text", "text": part["text"]})
        elif kind == "input_image" and as_str(part.get("image_url")):
            image: dict[str, Any] = {"url": part["image_url"]}
            if part.get("detail") in ("low", "high", "auto"):
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
        elif kind == "refusal" and isinstance(part.get("refusal"), str):
            parts.append({"type": "text", "text": part["refusal"]})
        else:
            raise _bad(f"{where}.content[{j}]: part type {kind!r} is not supported.", "input")
    return parts


def _messages(raw_input: Any) -> list[dict[str, Any]]:
    if isinstance(raw_input, str):
        return [{"role": "user", "content": raw_input}]
    if not isinstance(raw_input, list) or not raw_input:
        raise _bad("'input' must be a string or a non-empty list of items.", "input")
    messages: list[dict[str, Any]] = []
    for i, raw in enumerate(raw_input):
        item = as_dict(raw)
        where = f"input[{i}]"
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise _bad(f"{where}.role must be user, assistant, system or developer.", "input")
            content = _content(item.get("content"), where)
            if role == "assistant" and isinstance(content, list):
                content = "".join(p.get("text", "") for p in content)
            messages.append({"role": role, "content": content})
        elif kind == "function_call":
            call_id, name = as_str(item.get("call_id")), as_str(item.get("name"))
            arguments = item.get("arguments", "")
            if not call_id or not name or not isinstance(arguments, str):
                raise _bad(f"{where} needs call_id, name and string arguments.", "input")
            call = {
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            call_id = as_str(item.get("call_id"))
            output = item.get("output")
            if isinstance(output, list):
                output = "".join(as_str(as_dict(p).get("text")) or "" for p in output)
            if not call_id or not isinstance(output, str):
                raise _bad(f"{where} needs call_id and a string output.", "input")
            messages.append({"role": "tool", "tool_call_id": call_id, "content": output or " "})
        elif kind == "reasoning":
            continue  # a model's earlier reasoning is not replayed (as on /v1/messages)
        else:
            raise _bad(f"{where}: item type {kind!r} is not supported.", "input")
    return messages


def _tools(raw: Any) -> list[dict[str, Any]]:
    tools = []
    for i, tool in enumerate(as_list(raw) if isinstance(raw, list) else [None]):
        tool = as_dict(tool)
        if tool.get("type") != "function" or not as_str(tool.get("name")):
            raise _bad(f"tools[{i}]: only function tools with a name are supported.", "tools")
        function: dict[str, Any] = {
            "name": tool["name"],
            "parameters": as_dict(tool.get("parameters")),
        }
        if as_str(tool.get("description")):
            function["description"] = tool["description"]
        if isinstance(tool.get("strict"), bool):
            function["strict"] = tool["strict"]
        tools.append({"type": "function", "function": function})
    return tools


def _tool_choice(raw: Any) -> Any:
    if raw in ("auto", "none", "required"):
        return raw
    choice = as_dict(raw)
    if choice.get("type") == "function" and as_str(choice.get("name")):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise _bad(
        "'tool_choice' must be auto, none, required or {type: function, name}.", "tool_choice"
    )


def _response_format(text: Any) -> dict[str, Any] | None:
    fmt = as_dict(as_dict(text).get("format"))
    kind = fmt.get("type")
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema" and as_str(fmt.get("name")) and isinstance(fmt.get("schema"), dict):
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"type": "json_schema", "json_schema": schema}
    raise _bad(
        "'text.format' must be text, json_object or json_schema (with name and schema).", "text"
    )


def chat_request(body: Any) -> ResponsesRequest:
    """A stateless CreateResponse request as the chat core's request."""
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.", "body")
    unknown = sorted(set(body) - set(REQUEST_FIELDS))
    if unknown:
        raise _bad(f"Unrecognized request argument: {unknown[0]}.", unknown[0])
    _refuse_stateful(body)
    if "input" not in body:
        raise _bad("'input' is required.", "input")
    messages = _messages(body["input"])
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise _bad("'instructions' must be a string.", "instructions")
        messages.insert(0, {"role": "system", "content": instructions})
    chat: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    stream = body.get("stream") is True
    if stream:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}  # response.completed carries usage
    if body.get("max_output_tokens") is not None:
        chat["max_completion_tokens"] = body["max_output_tokens"]
    passed = ("temperature", "top_p", "parallel_tool_calls", "service_tier", "user")
    for key in (*passed, "safety_identifier", "prompt_cache_key", "prompt_cache_retention"):
        if body.get(key) is not None:
            chat[key] = body[key]
    if body.get("prompt_cache_options") is not None:
        chat["prompt_cache_options"] = body["prompt_cache_options"]
    if body.get("tools"):
        chat["tools"] = _tools(body["tools"])
    if body.get("tool_choice") is not None:
        chat["tool_choice"] = _tool_choice(body["tool_choice"])
    if (fmt := _response_format(body.get("text"))) is not None:
        chat["response_format"] = fmt
    reasoning = as_dict(body.get("reasoning"))
    if reasoning.get("summary") is not None or reasoning.get("generate_summary") is not None:
        raise _bad("Reasoning summaries are not supported.", "reasoning")
    if reasoning.get("effort") is not None:
        chat["reasoning_effort"] = reasoning["effort"]
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise _bad("'metadata' must be an object.", "metadata")
    req = validate_chat_request(chat)
    echo = {
        "instructions": instructions,
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": metadata or {},
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "temperature": body.get("temperature", 1.0),
        "top_p": body.get("top_p", 1.0),
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": [
            {
                "type": "function",
                "name": t["function"]["name"],
                "description": t["function"].get("description"),
                "parameters": t["function"]["parameters"],
                "strict": t["function"].get("strict", False),
            }
            for t in chat.get("tools", [])
        ],
        "text": {"format": as_dict(body.get("text")).get("format") or {"type": "text"}},
        "reasoning": {"effort": reasoning.get("effort"), "summary": None},
        "user": body.get("user"),
    }
    return ResponsesRequest(replace(req, include_usage=stream), echo)


# -- output


def response_id(completion_id: str) -> str:
    return "resp_" + completion_id.removeprefix("chatcmpl-")


def _usage(raw: Any) -> dict[str, Any] | None:
    fields = as_dict(raw)
    if not fields:
        return None
    prompt = as_int(fields.get("prompt_tokens")) or 0
    completion = as_int(fields.get("completion_tokens")) or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


def _status(finish: str | None) -> tuple[str, dict[str, Any] | None]:
    if finish == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def _envelope(rid: str, alias: str, created: int, echo: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": "in_progress",
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "model": alias,
        "output": [],
        "previous_response_id": None,
        "store": False,
        "truncation": "disabled",
        **{k: v for k, v in echo.items() if k != "user" or v is not None},
    }


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "status": status,
        "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}],
    }


def call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def response_object(completion: dict[str, Any], req: ResponsesRequest) -> dict[str, Any]:
    """Our `chat.completion` as a completed (or incomplete) `response`."""
    cid = str(completion.get("id", ""))
    suffix = cid.removeprefix("chatcmpl-")
    choice = as_dict(as_list(completion.get("choices"))[0] if completion.get("choices") else {})
    message = as_dict(choice.get("message"))
    output: list[dict[str, Any]] = []
    if text := as_str(message.get("content")):
        output.append(message_item(f"msg_{suffix}", text))
    for n, raw in enumerate(as_list(message.get("tool_calls"))):
        call = as_dict(raw)
        fn = as_dict(call.get("function"))
        output.append(
            call_item(
                f"fc_{suffix}_{n}",
                as_str(call.get("id")) or "",
                as_str(fn.get("name")) or "",
                as_str(fn.get("arguments")) or "",
                "completed",
            )
        )
    created = as_int(completion.get("created")) or int(time.time())
    body = _envelope(response_id(cid), str(completion.get("model")), created, req.echo)
    status, incomplete = _status(as_str(choice.get("finish_reason")))
    body.update(
        status=status,
        incomplete_details=incomplete,
        completed_at=created if status == "completed" else None,
        output=output,
    )
    if (usage := _usage(completion.get("usage"))) is not None:
        body["usage"] = usage  # the schema has no null usage: absent until known
    return body


@dataclass(slots=True)
class _Call:
    item_id: str
    call_id: str
    name: str
    output_index: int
    arguments: list[str] = field(default_factory=list)


class ResponseEvents:
    """Our chat chunks (SSE bytes from the chat core) as the Responses streaming events."""

    def __init__(self, req: ResponsesRequest) -> None:
        self._req = req
        self._frames = CoreFrames()
        self._seq = 0
        self._response: dict[str, Any] | None = None
        self._suffix = ""
        self._text: list[str] | None = None  # the open message item's text
        self._text_index = -1
        self._calls: dict[int, _Call] = {}
        self._output: list[dict[str, Any] | None] = []
        self._finish: str | None = None
        self._usage: dict[str, Any] | None = None
        self.finished = False

    def _event(self, kind: str, payload: dict[str, Any]) -> bytes:
        data = orjson.dumps({"type": kind, "sequence_number": self._seq, **payload})
        self._seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + data + b"\n\n"

    def feed(self, data: bytes) -> bytes:
        out: list[bytes] = []
        for kind, payload in self._frames.feed(data):
            if self.finished:
                continue
            if kind == "done":
                self._complete(out)
            elif kind == "error":
                message = str(payload.get("message", ""))
                error = {"code": payload.get("code"), "message": message, "param": None}
                out.append(self._event("error", error))
                self.finished = True
            else:
                self._chunk(payload, out)
        return b"".join(out)

    def _start(self, chunk: dict[str, Any], out: list[bytes]) -> None:
        cid = str(chunk.get("id", ""))
        self._suffix = cid.removeprefix("chatcmpl-")
        created = as_int(chunk.get("created")) or int(time.time())
        self._response = _envelope(
            response_id(cid), str(chunk.get("model")), created, self._req.echo
        )
        out.append(self._event("response.created", {"response": self._response}))
        out.append(self._event("response.in_progress", {"response": self._response}))

    def _chunk(self, chunk: dict[str, Any], out: list[bytes]) -> None:
        if self._response is None:
            self._start(chunk, out)
        if isinstance(chunk.get("usage"), dict):
            self._usage = _usage(chunk["usage"])
        for raw in as_list(chunk.get("choices")):
            choice = as_dict(raw)
            delta = as_dict(choice.get("delta"))
            if text := as_str(delta.get("content")):
                self._text_delta(text, out)
            for call in as_list(delta.get("tool_calls")):
                self._call_delta(as_dict(call), out)
            if (finish := as_str(choice.get("finish_reason"))) is not None:
                self._finish = finish

    def _text_delta(self, text: str, out: list[bytes]) -> None:
        item_id = f"msg_{self._suffix}"
        if self._text is None:
            self._text = []
            self._text_index = len(self._output)
            self._output.append(None)
            out.append(
                self._event(
                    "response.output_item.added",
                    {
                        "output_index": self._text_index,
                        "item": {**message_item(item_id, "", "in_progress"), "content": []},
                    },
                )
            )
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            out.append(
                self._event(
                    "response.content_part.added",
                    {
                        "item_id": item_id,
                        "output_index": self._text_index,
                        "content_index": 0,
                        "part": part,
                    },
                )
            )
        self._text.append(text)
        out.append(
            self._event(
                "response.output_text.delta",
                {
                    "item_id": item_id,
                    "output_index": self._text_index,
                    "content_index": 0,
                    "delta": text,
                    "logprobs": [],
                },
            )
        )

    def _call_delta(self, raw: dict[str, Any], out: list[bytes]) -> None:
        position = as_int(raw.get("index")) or 0
        fn = as_dict(raw.get("function"))
        call = self._calls.get(position)
        if call is None:
            call = _Call(
                item_id=f"fc_{self._suffix}_{position}",
                call_id=as_str(raw.get("id")) or "",
                name=as_str(fn.get("name")) or "",
                output_index=len(self._output),
            )
            self._calls[position] = call
            self._output.append(None)
            item = call_item(call.item_id, call.call_id, call.name, "", "in_progress")
            out.append(
                self._event(
                    "response.output_item.added", {"output_index": call.output_index, "item": item}
                )
            )
        if arguments := as_str(fn.get("arguments")):
            call.arguments.append(arguments)
            out.append(
                self._event(
                    "response.function_call_arguments.delta",
                    {
                        "item_id": call.item_id,
                        "output_index": call.output_index,
                        "delta": arguments,
                    },
                )
            )

    def _complete(self, out: list[bytes]) -> None:
        if self._response is None:
            self._start({}, out)
        status, incomplete = _status(self._finish)
        if self._text is not None:
            item_id = f"msg_{self._suffix}"
            text = "".join(self._text)
            index = self._text_index
            item = message_item(item_id, text, status)
            part = item["content"][0]
            common = {"item_id": item_id, "output_index": index, "content_index": 0}
            out.append(
                self._event("response.output_text.done", {**common, "text": text, "logprobs": []})
            )
            out.append(self._event("response.content_part.done", {**common, "part": part}))
            out.append(
                self._event("response.output_item.done", {"output_index": index, "item": item})
            )
            self._output[index] = item
        for call in self._calls.values():
            arguments = "".join(call.arguments)
            item = call_item(call.item_id, call.call_id, call.name, arguments, "completed")
            out.append(
                self._event(
                    "response.function_call_arguments.done",
                    {
                        "item_id": call.item_id,
                        "output_index": call.output_index,
                        "name": call.name,
                        "arguments": arguments,
                    },
                )
            )
            out.append(
                self._event(
                    "response.output_item.done", {"output_index": call.output_index, "item": item}
                )
            )
            self._output[call.output_index] = item
        response = self._response or {}
        response.update(
            status=status,
            incomplete_details=incomplete,
            completed_at=response.get("created_at") if status == "completed" else None,
            output=[item for item in self._output if item is not None],
        )
        if self._usage is not None:
            response["usage"] = self._usage
        kind = "response.completed" if status == "completed" else "response.incomplete"
        out.append(self._event(kind, {"response": response}))
        self.finished = True
