"""The adapter interface: our OpenAI-compatible shape <-> a provider's wire format.

Adapters are pure: they build request bytes and translate response bytes; the
chat core owns all I/O. Everything an adapter returns to be sent to a customer
is built from an allow-list of fields with *our* ids and the alias as `model`,
so no upstream identity (ids, fingerprints, model names, headers) survives.

    ChatRequest (validated OpenAI body)
        -> Adapter.build_request(...)          -> UpstreamRequest (path, headers, body)
        <- Adapter.parse_response(bytes, ctx)  -> dict, an OpenAI `chat.completion`
        <- Adapter.stream_translator(ctx)      -> StreamTranslator: feed(bytes) -> SSE frames
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    path: str  # appended to the provider's base_url, e.g. "/chat/completions"
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class ResponseContext:
    """What our response is stamped with instead of the upstream's identity."""

    completion_id: str  # "chatcmpl-<ours>"
    alias: str
    created: int  # unix seconds
    include_usage: bool = False  # stream_options.include_usage from the client
    # Carry the model's reasoning (Anthropic thinking text) as `reasoning_content`: only
    # for inbound APIs that can show it (/v1/messages);
    # never set for /v1/chat/completions, whose shape has no place for it.
    reasoning: bool = False


@dataclass(slots=True)
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)


@dataclass(slots=True)
class StreamError:
    """An error the upstream reported inside a stream (after status 200)."""

    kind: str  # "overloaded", "rate_limited", "server_error", "invalid_request", ...
    detail: str  # internal only: may name the provider; never sent to a customer


@dataclass(slots=True)
class StreamOutput:
    frames: list[bytes] = field(default_factory=list)  # complete SSE frames for the client
    done: bool = False  # the upstream finished the stream normally
    error: StreamError | None = None


class StreamTranslator(Protocol):
    usage: Usage

    def feed(self, data: bytes) -> StreamOutput:
        """Consume raw upstream bytes (any split); return the client frames they complete."""
        ...

    def finish(self) -> StreamOutput:
        """The upstream closed the stream; flush or report a truncated stream."""
        ...


class Adapter(Protocol):
    kind: str

    def build_request(
        self, body: dict[str, Any], *, upstream_model: str, api_key: str, stream: bool
    ) -> UpstreamRequest:
        """Translate a validated OpenAI chat request body for this wire format."""
        ...

    def parse_response(self, data: bytes, ctx: ResponseContext) -> tuple[dict[str, Any], Usage]:
        """Translate a successful non-streaming upstream body into our chat.completion."""
        ...

    def stream_translator(self, ctx: ResponseContext) -> StreamTranslator:
        """A fresh translator for one streamed response."""
        ...

    def error_detail(self, status: int, data: bytes) -> str:
        """The upstream's own error message, for the internal request log only."""
        ...
