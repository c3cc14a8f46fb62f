"""Token counts when the upstream reports none: a simple, documented estimate.

OpenAI's `chat.completion` must carry `usage`; some upstreams omit it (or send
`null`). We then count ourselves, and the request-log row is marked
`usage_estimated`, so billing and quotas can tell a count from an estimate.

The estimator is deliberately plain (docs/request-log.md): one token per
4 characters of text (rounded up; the usual rule of thumb for English with
BPE tokenizers), plus 4 tokens per message for the role and framing, plus 3
for the reply's priming; tool-call names and arguments count as text. It is
close for English prose and low for CJK scripts, which is why the row says
it is an estimate.
"""

from __future__ import annotations

import math
from typing import Any

from sekisho.adapters.base import Usage

__all__ = ["CHARS_PER_TOKEN", "estimate_usage", "text_tokens"]

CHARS_PER_TOKEN = 4
PER_MESSAGE = 4
REPLY_PRIMING = 3


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: count the text ones
        return "".join(
            str(p.get("text") or "") for p in content if isinstance(p, dict) and "text" in p
        )
    return ""


def _message_tokens(message: Any) -> int:
    if not isinstance(message, dict):
        return 0
    tokens = PER_MESSAGE + text_tokens(_content_text(message.get("content")))
    for call in message.get("tool_calls") or ():
        if isinstance(call, dict):
            fn = call.get("function") or {}
            if isinstance(fn, dict):
                tokens += text_tokens(str(fn.get("name") or ""))
                tokens += text_tokens(str(fn.get("arguments") or ""))
    return tokens


def estimate_usage(request_body: dict[str, Any], response_body: dict[str, Any]) -> Usage:
    """Estimated prompt and completion tokens of one non-streamed chat completion."""
    messages = request_body.get("messages")
    prompt = REPLY_PRIMING + sum(
        _message_tokens(m) for m in (messages if isinstance(messages, list) else ())
    )
    completion = 0
    for choice in response_body.get("choices") or ():
        if isinstance(choice, dict):
            completion += _message_tokens(choice.get("message")) - PER_MESSAGE
    return Usage(prompt_tokens=prompt, completion_tokens=max(completion, 0))
