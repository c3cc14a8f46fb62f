"""What both wire formats share: the parsed request, wire errors, the Wire protocol."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import orjson

from sekisho.simulator.generate import Completion, Prompt
from sekisho.simulator.identity import ProviderIdentity


class WireError(Exception):
    """A request the provider refuses; each wire renders it in its own error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        kind: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.kind = kind  # OpenAI's error "type" where it does not follow from the status


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A validated chat request in either wire format."""

    model: str
    prompt: Prompt
    stream: bool
    include_usage: bool = False
    logprobs: int | None = None  # OpenAI `logprobs: true`: alternatives per token


def tool_schemas(raw: object, key: str) -> tuple[str, ...]:
    """Each tool's schema (`parameters` or `input_schema`) as JSON text, in tool order."""
    if not isinstance(raw, list):
        return ()
    found = []
    for tool in raw:
        spec = tool.get("function", tool) if isinstance(tool, Mapping) else {}
        schema = spec.get(key) if isinstance(spec, Mapping) else None
        found.append(orjson.dumps(schema if isinstance(schema, Mapping) else {}).decode())
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Reply:
    """Everything a wire needs to render one answer."""

    identity: ProviderIdentity
    seq: int
    model: str  # as requested; the wire stamps the provider onto it
    completion: Completion
    created: int
    logprobs: int | None = None


class Wire(Protocol):
    """One provider API dialect (OpenAI chat completions, Anthropic messages)."""

    name: str

    def headers(self, identity: ProviderIdentity, seq: int) -> dict[str, str]: ...

    def check_auth(self, headers: Mapping[str, str]) -> WireError | None: ...

    def parse(self, body: object) -> ChatRequest: ...

    def fault_error(self, status: int, model: str) -> WireError: ...

    def error_body(
        self, error: WireError, identity: ProviderIdentity, seq: int, host: str
    ) -> bytes: ...

    def response_body(self, reply: Reply) -> bytes: ...

    def stream_events(self, reply: Reply, include_usage: bool) -> list[bytes]: ...

    def stream_error_event(self, identity: ProviderIdentity, seq: int, host: str) -> bytes: ...

    def models_body(self, identity: ProviderIdentity, created: int) -> bytes: ...


def text_of(content: object) -> str:
    """The text in a message content: a string, or a list of blocks/parts with text."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts: list[str] = []
    for part in content:
        if not isinstance(part, Mapping):
            continue
        text = part.get("text")
        if isinstance(text, str):
            texts.append(text)
        elif part.get("type") == "tool_result":
            texts.append(text_of(part.get("content")))
        elif part.get("type") == "tool_use":
            texts.append(orjson.dumps(part.get("input")).decode())
    return " ".join(texts)


def sse(data: object, event: str | None = None) -> bytes:
    """One server-sent event; ``data`` is JSON-encoded unless already bytes."""
    payload = data if isinstance(data, bytes) else orjson.dumps(data)
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + payload + b"\n\n"


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
