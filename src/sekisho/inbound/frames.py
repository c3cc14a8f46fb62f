"""The chat core's SSE output, read back as values by the inbound translators. Pure."""

from __future__ import annotations

from typing import Any, Literal

import orjson

from sekisho.adapters.shape import as_dict
from sekisho.adapters.sse import SSEDecoder

__all__ = ["CoreFrames"]

FrameKind = Literal["chunk", "error", "done"]


class CoreFrames:
    """`chat.completion.chunk`s, the in-stream error (`{"error": {...}}`) and `[DONE]`."""

    def __init__(self) -> None:
        self._decoder = SSEDecoder()

    def feed(self, data: bytes) -> list[tuple[FrameKind, dict[str, Any]]]:
        found: list[tuple[FrameKind, dict[str, Any]]] = []
        for event in self._decoder.feed(data):
            text = event.data.strip()
            if not text:
                continue
            if text == "[DONE]":
                found.append(("done", {}))
                continue
            payload = as_dict(orjson.loads(text))
            if isinstance(payload.get("error"), dict):
                found.append(("error", payload["error"]))
            else:
                found.append(("chunk", payload))
        return found
