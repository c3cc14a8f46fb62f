"""What of a conversation is sent to the model: the newest turns that fit the alias's budget. Pure.

The rule (docs/chat.md): the turns are sent oldest first, user and assistant
alternating as stored; an answer that failed without any text is left out; a
stopped answer goes in with the text that arrived. While the whole exceeds
the budget, the oldest turn is dropped, and then any assistant turn left at
the front (a model sees a conversation that starts with the member). The
newest user turn is never dropped: if it alone exceeds the budget the
request is refused with `context_length_exceeded`, and nothing is sent.

The budget is counted in characters (a safe stand-in for tokens without a
tokenizer per provider): the alias's context window when the matrix states
one (times `CHARS_PER_TOKEN`), else `DEFAULT_BUDGET_CHARS`, and never more
than half the request body limit (JSON escaping can double the size).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from sekisho.chatapp.store import Turn
from sekisho.errors import SekishoError

DEFAULT_BUDGET_CHARS = 48_000
CHARS_PER_TOKEN = 3  # conservative for mixed Latin / Japanese text
MAX_MESSAGE_CHARS = 32_000  # one message typed into the composer


class ContextLengthExceeded(SekishoError):
    code: ClassVar[str] = "context_length_exceeded"
    status: ClassVar[int] = 400
    type: ClassVar[str] = "invalid_request_error"


@dataclass(frozen=True, slots=True)
class History:
    messages: list[dict[str, str]]
    dropped: int  # how many older turns did not fit


def budget_chars(context_window_tokens: int | None, max_body_bytes: int) -> int:
    window = (
        context_window_tokens * CHARS_PER_TOKEN if context_window_tokens else DEFAULT_BUDGET_CHARS
    )
    return max(1, min(window, max_body_bytes // 2))


def history_for(turns: Sequence[Turn], budget: int, alias: str) -> History:
    """The messages to send for a conversation whose last turn is the member's."""
    sendable = [t for t in turns if t.role == "user" or t.content]
    if not sendable or sendable[-1].role != "user":
        raise ValueError("a conversation is answered only after a user turn")
    if len(sendable[-1].content) > budget:
        raise ContextLengthExceeded(
            f"This message is too long for '{alias}' ({len(sendable[-1].content)} characters; "
            f"at most {budget}). Shorten it or split it up."
        )
    total = sum(len(t.content) for t in sendable)
    start = 0
    while total > budget:
        total -= len(sendable[start].content)
        start += 1
    while sendable[start].role != "user":
        start += 1
    kept = sendable[start:]
    return History([{"role": t.role, "content": t.content} for t in kept], len(turns) - len(kept))
