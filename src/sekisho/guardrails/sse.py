"""Output guardrails on an OpenAI-shaped SSE stream, as a wrapper of the stream translator.

The chat core relays what its `StreamTranslator` returns; wrapping the
translator puts the output check inside that relay without touching it:
frames whose text passes unchanged are forwarded as the same bytes (no
re-encoding); a frame whose text is held back or masked is re-encoded; held
text is released in a chunk of its own before the choice's finish. A block
ends the stream with `finish_reason: "content_filter"` and `[DONE]` — a
normal end, so the relay closes the upstream and logs a 200.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from sekisho.adapters.base import StreamOutput, StreamTranslator, Usage
from sekisho.guardrails.policy import Check
from sekisho.guardrails.stream import StreamDetection, StreamMasker

DONE = b"data: [DONE]\n\n"
OnDetect = Callable[[str, StreamDetection], None]  # where (e.g. "choices[0].delta.content")
Key = tuple[int, int]  # (choice index, tool-call index or -1 for the content)
OnBlock = Callable[[Check], None]


def _frame(doc: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(doc) + b"\n\n"


class GuardedTranslator:
    """A `StreamTranslator` that masks (or blocks) the text its inner translator produces."""

    def __init__(
        self,
        inner: StreamTranslator,
        make_masker: Callable[[], StreamMasker],
        on_detect: OnDetect,
        on_block: OnBlock,
    ) -> None:
        self._inner = inner
        self._make = make_masker
        self._on_detect = on_detect
        self._on_block = on_block
        self._maskers: dict[Key, StreamMasker] = {}
        self._reported: dict[Key, int] = {}
        self._template: dict[str, Any] = {}
        self._ended = False

    @property
    def usage(self) -> Usage:
        return self._inner.usage

    @usage.setter
    def usage(self, value: Usage) -> None:
        self._inner.usage = value

    def feed(self, data: bytes) -> StreamOutput:
        if self._ended:
            return StreamOutput(done=True)
        return self._filter(self._inner.feed(data), final=False)

    def finish(self) -> StreamOutput:
        if self._ended:
            return StreamOutput(done=True)
        return self._filter(self._inner.finish(), final=True)

    def _masker(self, key: Key) -> StreamMasker:
        masker = self._maskers.get(key)
        if masker is None:
            masker = self._maskers[key] = self._make()
        return masker

    def _report(self, key: Key, masker: StreamMasker) -> None:
        seen = self._reported.get(key, 0)
        choice, tool = key
        where = (
            f"choices[{choice}].delta.content"
            if tool < 0
            else f"choices[{choice}].delta.tool_calls[{tool}].function.arguments"
        )
        for detection in masker.detected[seen:]:
            self._on_detect(where, detection)
        self._reported[key] = len(masker.detected)

    def _chunk(self, index: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        doc = {
            **self._template,
            "choices": [
                {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            ],
        }
        return _frame(doc)

    @staticmethod
    def _delta(tool: int, text: str) -> dict[str, Any]:
        if tool < 0:
            return {"content": text}
        return {"tool_calls": [{"index": tool, "function": {"arguments": text}}]}

    def _release(self, index: int) -> list[bytes]:
        """Release what every masker of choice `index` holds (its finish is next)."""
        frames: list[bytes] = []
        for key in sorted(k for k in self._maskers if k[0] == index):
            masker = self._maskers[key]
            rest = masker.finish()
            self._report(key, masker)
            if masker.blocked is not None:
                return [*frames, *self._block(masker.blocked, index, key[1], rest)]
            if rest:
                frames.append(self._chunk(index, self._delta(key[1], rest)))
        return frames

    def _choices_held(self) -> list[int]:
        return sorted({k[0] for k in self._maskers})

    def _block(self, check: Check, index: int, tool: int, before: str) -> list[bytes]:
        self._ended = True
        self._on_block(check)
        frames = [self._chunk(index, self._delta(tool, before))] if before else []
        return [*frames, self._chunk(index, {}, "content_filter"), DONE]

    def _filter(self, out: StreamOutput, *, final: bool) -> StreamOutput:
        frames: list[bytes] = []
        for frame in out.frames:
            if frame.startswith(DONE[:12]):
                for index in self._choices_held():
                    frames += self._release(index)
                    if self._ended:
                        return StreamOutput(frames, done=True)
                frames.append(frame)
                continue
            if not frame.startswith(b"data: {"):
                frames.append(frame)
                continue
            doc = orjson.loads(frame[6:])
            if "error" in doc:
                for index in self._choices_held():
                    frames += self._release(index)
                    if self._ended:
                        return StreamOutput(frames, done=True)
                frames.append(frame)
                continue
            replaced = self._choices(doc, frames)
            if self._ended:
                return StreamOutput(frames, done=True)
            if replaced is None:
                frames.append(frame)
            elif replaced:
                frames.append(_frame(doc))
        if final:
            for index in self._choices_held():
                held = self._release(index)
                if self._ended:
                    return StreamOutput([*frames, *held], done=True)
                # A truncated stream: release the held text before the error event.
                frames = [*held, *frames] if out.error is not None else [*frames, *held]
        return StreamOutput(frames, done=out.done, error=out.error)

    def _guard_text(self, key: Key, text: str, frames: list[bytes]) -> tuple[str, bool]:
        """(text to send, blocked) for one piece of a choice's content or tool arguments."""
        masker = self._masker(key)
        emitted = masker.feed(text)
        self._report(key, masker)
        if masker.blocked is not None:
            frames += self._block(masker.blocked, key[0], key[1], emitted)
            return "", True
        return emitted, False

    def _choices(self, doc: dict[str, Any], frames: list[bytes]) -> bool | None:
        """Guard each choice's text in place. None: unchanged; False: drop; True: re-encode."""
        self._template = {k: doc[k] for k in ("id", "object", "created", "model") if k in doc}
        changed = False
        keep = bool(doc.get("usage")) or not doc.get("choices")
        for choice in doc.get("choices") or ():
            index = int(choice.get("index", 0))
            delta = choice.get("delta") or {}
            content = delta.get("content")
            if isinstance(content, str) and content:
                emitted, blocked = self._guard_text((index, -1), content, frames)
                if blocked:
                    return False
                if emitted != content:
                    changed = True
                    if emitted:
                        delta["content"] = emitted
                    else:
                        del delta["content"]
            for call in delta.get("tool_calls") or ():
                fn = call.get("function") if isinstance(call, dict) else None
                args = fn.get("arguments") if isinstance(fn, dict) else None
                if isinstance(args, str) and args:
                    key = (index, int(call.get("index", 0)))
                    emitted, blocked = self._guard_text(key, args, frames)
                    if blocked:
                        return False
                    if emitted != args:
                        changed = True
                        fn["arguments"] = emitted  # type: ignore[index]
            if choice.get("finish_reason") is not None:
                frames += self._release(index)
                if self._ended:
                    return False
            if delta or choice.get("finish_reason") is not None:
                keep = True
        if not changed:
            return None
        return keep
