"""The skeleton both stream translators share: decode SSE, parse JSON, stop at the end.

A subclass only says what one upstream event means (`_on_event`). The skeleton
guarantees the `StreamTranslator` contract: bytes split anywhere give the same
frames, nothing is emitted after the end marker or an error, and a stream that
closes without its end marker is reported as truncated.
"""

from __future__ import annotations

from typing import Any

import orjson

from sekisho.adapters.base import ResponseContext, StreamError, StreamOutput, Usage
from sekisho.adapters.sse import DONE_FRAME, SSEDecoder, SSEEvent
from sekisho.adapters.upstream_errors import SERVER_ERROR, TRUNCATED

__all__ = ["SSEStreamTranslator"]


class SSEStreamTranslator:
    """Base class of the wire-specific translators; not used on its own."""

    def __init__(self, ctx: ResponseContext) -> None:
        self.usage = Usage()
        self._ctx = ctx
        self._decoder = SSEDecoder()
        self._closed = False  # end marker or error seen: later bytes mean nothing

    def feed(self, data: bytes) -> StreamOutput:
        """Consume raw upstream bytes (any split); return the client frames they complete."""
        out = StreamOutput()
        if not self._closed:
            self._handle(self._decoder.feed(data), out, at_eof=False)
        return out

    def finish(self) -> StreamOutput:
        """The upstream closed the stream; flush or report a truncated stream."""
        out = StreamOutput()
        if self._closed:
            return out
        self._handle(self._decoder.flush(), out, at_eof=True)
        if not out.done and out.error is None:
            out.error = StreamError(TRUNCATED, "upstream closed the stream before its end")
        self._closed = True
        return out

    def _handle(self, events: list[SSEEvent], out: StreamOutput, *, at_eof: bool) -> None:
        for event in events:
            data = event.data.strip()
            if not data:
                continue  # empty `data:` lines are keep-alives on some servers
            if data == "[DONE]":
                self._on_done(out)
            else:
                try:
                    payload = orjson.loads(data)
                except orjson.JSONDecodeError:
                    payload = None
                if isinstance(payload, dict):
                    self._on_event(event.event, payload, out)
                elif at_eof:
                    return  # JSON cut off by the close: finish() reports truncation
                else:
                    out.error = StreamError(SERVER_ERROR, f"malformed stream data: {data[:200]!r}")
            if out.done or out.error is not None:
                self._closed = True
                return

    def _on_done(self, out: StreamOutput) -> None:
        """The OpenAI end marker `data: [DONE]`."""
        out.done = True
        out.frames.append(DONE_FRAME)

    def _on_event(self, event: str, payload: dict[str, Any], out: StreamOutput) -> None:
        raise NotImplementedError
