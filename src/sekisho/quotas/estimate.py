"""How many tokens a request reserves before its upstream call (pure).

The estimate is deliberately generous on the prompt side (about four characters a token,
which over-counts Japanese less than it over-counts English) and takes the caller's own
`max_tokens` for the completion, or `default_completion` when the caller sets none. The
reservation is reconciled with the upstream's real usage afterwards, so a generous estimate
costs headroom for a moment, never money.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

CHARS_PER_TOKEN = 4
PER_MESSAGE = 4  # role and framing tokens per message


def _text_of(content: Any) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        total = 0
        for part in content:
            if isinstance(part, Mapping):
                text = part.get("text")
                total += (
                    len(text) if isinstance(text, str) else 64
                )  # images and others: a flat cost
            elif isinstance(part, str):
                total += len(part)
        return total
    return len(str(content))


def prompt_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    chars = 0
    count = 0
    for message in messages:
        count += 1
        chars += _text_of(message.get("content"))
        for call in message.get("tool_calls") or ():
            if isinstance(call, Mapping):
                fn = call.get("function") or {}
                chars += len(str(fn.get("arguments", ""))) + len(str(fn.get("name", "")))
    return -(-chars // CHARS_PER_TOKEN) + PER_MESSAGE * count


def reserve_tokens(
    messages: Iterable[Mapping[str, Any]], max_tokens: int | None, default_completion: int
) -> int:
    """Prompt estimate plus the completion the caller allows (or the default)."""
    completion = max_tokens if max_tokens is not None and max_tokens > 0 else default_completion
    return prompt_tokens(messages) + completion
