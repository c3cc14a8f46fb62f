"""Adapters between our OpenAI-compatible shape and each provider wire format.

adapter_for(kind) -> Adapter         kind is the matrix's provider `kind`
OpenAIAdapter, AnthropicAdapter      the two wire formats
UpstreamFormatError                  a 2xx body that is not what the format promised
"""

from __future__ import annotations

from sekisho.adapters.anthropic import AnthropicAdapter
from sekisho.adapters.base import (
    Adapter,
    ResponseContext,
    StreamError,
    StreamOutput,
    StreamTranslator,
    UpstreamRequest,
    Usage,
)
from sekisho.adapters.openai import OpenAIAdapter
from sekisho.adapters.upstream_errors import UpstreamFormatError

__all__ = [
    "Adapter",
    "AnthropicAdapter",
    "OpenAIAdapter",
    "ResponseContext",
    "StreamError",
    "StreamOutput",
    "StreamTranslator",
    "UpstreamFormatError",
    "UpstreamRequest",
    "Usage",
    "adapter_for",
]


def adapter_for(kind: str) -> Adapter:
    """The adapter for a provider's wire format (`kind` in the provider matrix)."""
    if kind == "openai":
        return OpenAIAdapter()
    if kind == "anthropic":
        return AnthropicAdapter()
    raise ValueError(f"unknown provider kind: {kind!r}")
