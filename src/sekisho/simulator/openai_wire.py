"""The OpenAI chat-completions wire format: parsing, bodies, stream chunks, errors."""

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

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_FINISH = {
    Finish.END: "stop",
    Finish.STOP_SEQUENCE: "stop",
    Finish.LENGTH: "length",
    Finish.TOOL_CALL: "tool_calls",
}
_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)"
)
_FAULTS: dict[int, tuple[str, str, str | None]] = {
    400: ("The request was rejected by a simulated fault", "invalid_request_error", None),
    401: ("Incorrect API key provided: sk-****", "invalid_request_error", "invalid_api_key"),
    403: (
        "Country, region, or territory not supported",
        "request_forbidden",
        "unsupported_country_region_territory",
    ),
    404: (
        "The model `{model}` does not exist or you do not have access to it",
        "invalid_request_error",
        "model_not_found",
    ),
    429: (
        f"Rate limit reached for requests per min (RPM): Limit {RATE_LIMIT_REQUESTS}, Used {RATE_LIMIT_REQUESTS}, Requested 1. Please try again in 1s",
        "requests",
        "rate_limit_exceeded",
    ),
    500: (
        "The server had an error while processing your request. Sorry about that",
        "server_error",
        None,
    ),
    502: ("Bad gateway", "server_error", None),
    503: ("The engine is currently overloaded, please try again later", "server_error", None),
    529: ("The server is overloaded", "server_error", "overloaded"),
}


class OpenAIWire:
    """``POST /v1/chat/completions`` as OpenAI speaks it."""

    name = "openai"

    def headers(self, identity: ProviderIdentity, seq: int) -> dict[str, str]:
        return {
            **identity.common_headers(),
            "openai-organization": identity.organization,
            "openai-version": "2020-10-01",
            "openai-processing-ms": "1",
            "x-request-id": identity.request_id(seq),
            "x-ratelimit-limit-requests": str(RATE_LIMIT_REQUESTS),
            "x-ratelimit-remaining-requests": str(RATE_LIMIT_REQUESTS - seq % RATE_LIMIT_REQUESTS),
            "x-ratelimit-limit-tokens": str(RATE_LIMIT_TOKENS),
            "x-ratelimit-remaining-tokens": str(RATE_LIMIT_TOKENS - 1000),
            "x-ratelimit-reset-requests": "6ms",
            "x-ratelimit-reset-tokens": "0s",
        }

    def check_auth(self, headers: Mapping[str, str]) -> WireError | None:
        scheme, _, key = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return WireError(401, _NO_KEY)
        return None

    def parse(self, body: object) -> ChatRequest:
        if not isinstance(body, dict):
            raise WireError(
                400,
                "We could not parse the JSON body of your request. The API expects a JSON object",
            )
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise WireError(400, "you must provide a model parameter")
        messages = _messages(body.get("messages"))
        tools = _tools(body.get("tools"))
        choice, forced = _tool_choice(body.get("tool_choice"))
        last_text, last_is_tool_result = "", False
        for message in messages:
            if message["role"] in ("user", "tool", "function"):
                last_text = text_of(message.get("content"))
                last_is_tool_result = message["role"] != "user"
        prompt = Prompt(
            last_text=last_text,
            prompt_tokens=sum(count_words(_message_text(m)) for m in messages),
            last_is_tool_result=last_is_tool_result,
            tools=tools,
            tool_choice=choice,
            forced_tool=forced,
            max_tokens=_max_tokens(body),
            stop=_stop(body.get("stop")),
            tool_schemas=tool_schemas(body.get("tools"), "parameters"),
            json_schema=_response_format(body.get("response_format")),
        )
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        logprobs = _logprobs_request(body)
        return ChatRequest(model, prompt, body.get("stream") is True, include_usage, logprobs)

    def fault_error(self, status: int, model: str) -> WireError:
        kind = "server_error" if status >= 500 else "invalid_request_error"
        message, kind, code = _FAULTS.get(status, (f"Simulated error {status}", kind, None))
        return WireError(status, message.format(model=model), code=code, kind=kind)

    def error_body(
        self, error: WireError, identity: ProviderIdentity, seq: int, host: str
    ) -> bytes:
        return orjson.dumps({"error": _error_object(error, identity, host)})

    def response_body(self, reply: Reply) -> bytes:
        completion = reply.completion
        message: dict[str, object] = {"role": "assistant", "content": None, "refusal": None}
        if completion.tool_call is not None:
            message["tool_calls"] = [
                {
                    "id": reply.identity.openai_tool_call_id(reply.seq),
                    "type": "function",
                    "function": {
                        "name": completion.tool_call.name,
                        "arguments": completion.tool_call.arguments,
                    },
                }
            ]
        else:
            message["content"] = completion.text
        return orjson.dumps(
            {
                **_envelope(reply, "chat.completion"),
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": _logprobs(completion.pieces, reply.logprobs)
                        if completion.tool_call is None
                        else None,
                        "finish_reason": _FINISH[completion.finish],
                    }
                ],
                "usage": _usage(reply),
                "service_tier": "default",
            }
        )

    def stream_events(self, reply: Reply, include_usage: bool) -> list[bytes]:
        completion = reply.completion
        base = _envelope(reply, "chat.completion.chunk")
        if include_usage:
            base["usage"] = None

        def chunk(
            delta: dict[str, object], finish: str | None = None, logprobs: object = None
        ) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
            return sse({**base, "choices": [choice]})

        call = completion.tool_call
        events = [chunk({"role": "assistant", "content": None if call else "", "refusal": None})]
        if call is not None:
            head = {
                "index": 0,
                "id": reply.identity.openai_tool_call_id(reply.seq),
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            events.append(chunk({"tool_calls": [head]}))
            events.extend(
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
                for piece in completion.pieces
            )
        else:
            events.extend(
                chunk({"content": piece}, logprobs=_logprobs((piece,), reply.logprobs))
                for piece in completion.pieces
            )
        events.append(chunk({}, _FINISH[completion.finish]))
        if include_usage:
            events.append(sse({**base, "choices": [], "usage": _usage(reply)}))
        events.append(b"data: [DONE]\n\n")
        return events

    def stream_error_event(self, identity: ProviderIdentity, seq: int, host: str) -> bytes:
        error = WireError(
            500, "The server had an error while processing your request", kind="server_error"
        )
        return sse({"error": _error_object(error, identity, host)})

    def models_body(self, identity: ProviderIdentity, created: int) -> bytes:
        models = [
            {"id": model, "object": "model", "created": created, "owned_by": identity.organization}
            for model in identity.listed_models()
        ]
        return orjson.dumps({"object": "list", "data": models})


def _error_object(error: WireError, identity: ProviderIdentity, host: str) -> dict[str, object]:
    kind = error.kind or ("server_error" if error.status >= 500 else "invalid_request_error")
    return {
        "message": identity.error_text(error.message, host),
        "type": kind,
        "param": error.param,
        "code": error.code,
    }


def _envelope(reply: Reply, obj: str) -> dict[str, object]:
    return {
        "id": reply.identity.completion_id(reply.seq),
        "object": obj,
        "created": reply.created,
        "model": reply.identity.model(reply.model),
        "system_fingerprint": reply.identity.fingerprint,
    }


def _usage(reply: Reply) -> dict[str, object]:
    prompt, completion = reply.completion.prompt_tokens, reply.completion.completion_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def _messages(raw: object) -> list[dict[str, object]]:
    if raw is None:
        raise WireError(
            400,
            "Missing required parameter: 'messages'",
            param="messages",
            code="missing_required_parameter",
        )
    if not isinstance(raw, list):
        raise WireError(
            400,
            f"Invalid type for 'messages': expected an array, but got {type(raw).__name__} instead",
            param="messages",
            code="invalid_type",
        )
    if not raw:
        raise WireError(
            400,
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead",
            param="messages",
            code="empty_array",
        )
    for i, message in enumerate(raw):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in _ROLES:
            raise WireError(
                400,
                f"Invalid value: {role!r}. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'",
                param=f"messages[{i}].role",
                code="invalid_value",
            )
    return raw


def _message_text(message: Mapping[str, object]) -> str:
    text = text_of(message.get("content"))
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        args = (c.get("function", {}).get("arguments", "") for c in calls if isinstance(c, dict))
        text = " ".join([text, *(a for a in args if isinstance(a, str))])
    return text


def _max_tokens(body: Mapping[str, object]) -> int | None:
    for param in ("max_completion_tokens", "max_tokens"):
        value = body.get(param)
        if value is None:
            continue
        if not is_int(value):
            raise WireError(
                400,
                f"Invalid type for '{param}': expected an integer, but got {type(value).__name__} instead",
                param=param,
                code="invalid_type",
            )
        assert isinstance(value, int)
        if value < 1:
            raise WireError(
                400,
                f"Invalid '{param}': integer below minimum value. Expected a value >= 1, but got {value} instead",
                param=param,
                code="integer_below_min_value",
            )
        return value
    return None


def _stop(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list) and len(raw) <= 4 and all(isinstance(s, str) for s in raw):
        return tuple(raw)
    raise WireError(
        400,
        "Invalid 'stop': expected a string or an array of at most 4 strings",
        param="stop",
        code="invalid_value",
    )


def _tools(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    names = []
    for i, tool in enumerate(raw if isinstance(raw, list) else [None]):
        function = tool.get("function") if isinstance(tool, dict) else None
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str) or not name:
            raise WireError(
                400,
                f"Missing required parameter: 'tools[{i}].function.name'",
                param=f"tools[{i}].function.name",
                code="missing_required_parameter",
            )
        names.append(name)
    return tuple(names)


def _response_format(raw: object) -> str | None:
    """The schema a JSON answer must follow: "{}" for json_object; None for text."""
    if raw is None:
        return None
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return "{}"
    spec = raw.get("json_schema") if isinstance(raw, dict) else None
    if kind == "json_schema" and isinstance(spec, dict) and isinstance(spec.get("name"), str):
        schema = spec.get("schema")
        return orjson.dumps(schema if isinstance(schema, dict) else {}).decode()
    raise WireError(
        400,
        "Invalid 'response_format': expected type text, json_object or json_schema with a name",
        param="response_format",
        code="invalid_value",
    )


def _logprobs_request(body: Mapping[str, object]) -> int | None:
    """None without `logprobs: true`; else how many alternatives each token lists."""
    if body.get("logprobs") is not True:
        if body.get("top_logprobs") is not None:
            raise WireError(
                400,
                "Invalid value for 'top_logprobs': 'logprobs' must be true when 'top_logprobs' is set",
                param="top_logprobs",
                code="invalid_value",
            )
        return None
    top = body.get("top_logprobs", 0)
    if not isinstance(top, int) or isinstance(top, bool) or not 0 <= top <= 20:
        raise WireError(
            400, "Invalid 'top_logprobs': expected an integer from 0 to 20", param="top_logprobs"
        )
    return top


def _token(piece: str, rank: int) -> dict[str, object]:
    token = piece if rank == 0 else f"{piece.strip() or piece}~{rank}"
    return {"token": token, "logprob": -0.01 - 0.5 * rank, "bytes": list(token.encode())}


def _logprobs(pieces: tuple[str, ...], top: int | None) -> dict[str, object] | None:
    """Deterministic logprobs for the answer's tokens (one per piece), when asked for."""
    if top is None:
        return None
    content = [
        {**_token(piece, 0), "top_logprobs": [_token(piece, r) for r in range(top)]}
        for piece in pieces
    ]
    return {"content": content, "refusal": None}


def _tool_choice(raw: object) -> tuple[ToolChoice, str | None]:
    if raw is None or raw == "auto":
        return ToolChoice.AUTO, None
    if raw == "none":
        return ToolChoice.NONE, None
    if raw == "required":
        return ToolChoice.REQUIRED, None
    function = raw.get("function") if isinstance(raw, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if isinstance(name, str):
        return ToolChoice.REQUIRED, name
    raise WireError(
        400,
        "Invalid 'tool_choice': expected 'none', 'auto', 'required' or a named function",
        param="tool_choice",
        code="invalid_value",
    )


OPENAI = OpenAIWire()
