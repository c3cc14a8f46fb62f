"""The output guard around the OpenAI stream translator: bytes, hold-back, finish, block."""

from __future__ import annotations

import orjson

from sekisho.adapters import adapter_for
from sekisho.adapters.base import ResponseContext
from sekisho.guardrails.sse import GuardedTranslator
from sekisho.guardrails.stream import StreamDetection, StreamMasker
from tests.guardrails.helpers import check

CTX = ResponseContext(completion_id="chatcmpl-ours", alias="chat-large", created=1)


def upstream(content: str | None, finish: str | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    chunk = {
        "id": "up",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "up-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def guarded(action: str = "mask") -> tuple[GuardedTranslator, list[StreamDetection], list[str]]:
    found: list[StreamDetection] = []
    blocked: list[str] = []
    checks = [check("payment_card", action), check("secrets", "block")]
    tr = GuardedTranslator(
        adapter_for("openai").stream_translator(CTX),
        lambda: StreamMasker(checks),
        lambda i, d: found.append(d),
        lambda c: blocked.append(c.name),
    )
    return tr, found, blocked


def contents(frames: list[bytes]) -> tuple[str, list[str | None]]:
    text, finishes = "", []
    for frame in frames:
        if frame.startswith(b"data: {"):
            doc = orjson.loads(frame[6:])
            for choice in doc.get("choices", []):
                text += choice["delta"].get("content") or ""
                finishes.append(choice.get("finish_reason"))
    return text, finishes


def test_unchanged_frames_are_forwarded_as_the_same_bytes() -> None:
    plain = adapter_for("openai").stream_translator(CTX)
    tr, _, _ = guarded()
    data = upstream("Hello there. ")
    assert tr.feed(data).frames == plain.feed(data).frames


def test_a_card_split_over_chunks_is_masked_and_released_before_finish() -> None:
    tr, found, _ = guarded()
    frames: list[bytes] = []
    for piece in ("Card 4111 11", "11 1111 ", "1111", None):
        out = tr.feed(upstream(piece, "stop" if piece is None else None))
        frames += out.frames
    frames += tr.feed(b"data: [DONE]\n\n").frames
    text, finishes = contents(frames)
    assert text == "Card [REDACTED:payment_card]"
    assert finishes[-1] == "stop" and frames[-1] == b"data: [DONE]\n\n"
    assert [d.finding.kind for d in found] == ["visa"]
    assert all(b"chat-large" in f for f in frames if f.startswith(b"data: {"))


def test_held_text_is_released_when_the_upstream_just_closes() -> None:
    tr, _, _ = guarded()
    frames = tr.feed(upstream("total 12")).frames
    assert contents(frames)[0] == "total "
    out = tr.finish()  # no [DONE]: truncated, and the relay will add its error event
    assert contents(out.frames)[0] == "12" and out.error is not None


def test_a_block_ends_with_content_filter_and_done() -> None:
    tr, _, blocked = guarded()
    out = tr.feed(upstream("the key is AKIAIOSF"))
    out2 = tr.feed(upstream("ODNN7EXAMPLE, keep it"))
    frames = out.frames + out2.frames
    text, finishes = contents(frames)
    assert "AKIA" not in text and finishes[-1] == "content_filter"
    assert frames[-1] == b"data: [DONE]\n\n" and out2.done
    assert blocked == ["secrets"]
    assert tr.feed(upstream("more")).frames == []


def tool_delta(args: str | None, finish: str | None = None, first: bool = False) -> bytes:
    call: dict[str, object] = {"index": 0, "function": {"arguments": args or ""}}
    if first:
        call.update({"id": "call_1", "type": "function"})
        call["function"] = {"name": "lookup", "arguments": args or ""}
    delta = {} if args is None else {"tool_calls": [call]}
    chunk = {
        "id": "up",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "up-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def test_tool_call_arguments_split_over_chunks_are_masked() -> None:
    tr, found, _ = guarded()
    frames: list[bytes] = []
    frames += tr.feed(tool_delta('{"card": "4111 11', first=True)).frames
    frames += tr.feed(tool_delta('11 1111 1111"}')).frames
    frames += tr.feed(tool_delta(None, "tool_calls")).frames
    frames += tr.feed(b"data: [DONE]\n\n").frames
    args = ""
    for frame in frames:
        if frame.startswith(b"data: {"):
            for choice in orjson.loads(frame[6:])["choices"]:
                for call in choice["delta"].get("tool_calls") or ():
                    args += call["function"].get("arguments") or ""
    assert args == '{"card": "[REDACTED:payment_card]"}'
    assert b"4111" not in b"".join(frames)
    assert [d.finding.kind for d in found] == ["visa"]
