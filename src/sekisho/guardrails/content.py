"""Where the text is in a chat request and a chat completion, and how to put masked text back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sekisho.guardrails.pipeline import Path, Segment

_TRUSTED_ROLES = ("system", "developer")


def _tool_call_segments(calls: Any, base: Path, untrusted: bool) -> list[Segment]:
    out = []
    if isinstance(calls, list):
        for j, call in enumerate(calls):
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("arguments"), str) and fn["arguments"]:
                out.append(
                    Segment(
                        (*base, "tool_calls", j, "function", "arguments"),
                        fn["arguments"],
                        untrusted,
                    )
                )
    return out


def request_segments(body: Mapping[str, Any]) -> list[Segment]:
    """Every text of a (validated) chat request's messages."""
    out: list[Segment] = []
    messages = body.get("messages")
    if not isinstance(messages, list):
        return out
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            continue
        untrusted = msg.get("role") not in _TRUSTED_ROLES
        content = msg.get("content")
        if isinstance(content, str):
            if content:
                out.append(Segment(("messages", i, "content"), content, untrusted))
        elif isinstance(content, list):
            for j, part in enumerate(content):
                if isinstance(part, dict) and isinstance(part.get("text"), str) and part["text"]:
                    out.append(
                        Segment(("messages", i, "content", j, "text"), part["text"], untrusted)
                    )
        out.extend(_tool_call_segments(msg.get("tool_calls"), ("messages", i), untrusted))
    return out


def embedding_segments(value: Any) -> list[Segment]:
    """Every text of an embeddings request's `input` (token arrays carry no text)."""
    if isinstance(value, str):
        return [Segment(("input",), value, True)] if value else []
    if isinstance(value, list):
        return [
            Segment(("input", i), item, True)
            for i, item in enumerate(value)
            if isinstance(item, str) and item
        ]
    return []


def response_segments(body: Mapping[str, Any]) -> list[Segment]:
    """Every text of a chat completion's choices."""
    out: list[Segment] = []
    choices = body.get("choices")
    if not isinstance(choices, list):
        return out
    for i, choice in enumerate(choices):
        msg = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(msg, dict):
            continue
        if isinstance(msg.get("content"), str) and msg["content"]:
            out.append(Segment(("choices", i, "message", "content"), msg["content"]))
        out.extend(_tool_call_segments(msg.get("tool_calls"), ("choices", i, "message"), True))
    return out


def _replace(node: Any, path: Path, text: str) -> Any:
    if not path:
        return text
    head, rest = path[0], path[1:]
    if isinstance(node, list) and isinstance(head, int):
        copy = list(node)
        copy[head] = _replace(node[head], rest, text)
        return copy
    if isinstance(node, dict):
        return {**node, head: _replace(node[head], rest, text)}
    return node


def with_texts(body: Mapping[str, Any], texts: Mapping[Path, str]) -> dict[str, Any]:
    """A copy of `body` with the given texts replaced; the original is not changed."""
    out: Any = dict(body)
    for path, text in texts.items():
        out = _replace(out, path, text)
    return dict(out)
