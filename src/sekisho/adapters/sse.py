"""Server-sent events: an incremental decoder for upstream streams, and our frame encoder.

Upstream bytes arrive split anywhere (mid-line, mid-UTF-8 character, between a
`\\r` and its `\\n`), so the decoder buffers bytes and decodes only complete
lines. It follows the event-stream rules that matter here: lines end with
CRLF, LF or CR; a line starting with `:` is a comment; the `data` lines of one
event are joined with `\\n`; a blank line dispatches the event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["DONE_FRAME", "SSEDecoder", "SSEEvent", "data_frame"]

DONE_FRAME = b"data: [DONE]\n\n"

_LINE_END = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str  # the `event:` field; "" when the upstream named none
    data: str


def data_frame(payload: bytes) -> bytes:
    """One SSE frame carrying a JSON payload, as OpenAI streams it."""
    return b"data: " + payload + b"\n\n"


class SSEDecoder:
    """Turns raw upstream bytes, split anywhere, into complete events."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._scan = 0  # buffer offset up to which there is no line end (avoids rescans)
        self._event = ""
        self._data: list[str] = []

    def feed(self, data: bytes) -> list[SSEEvent]:
        """Consume bytes; return the events they complete."""
        self._buffer += data
        events: list[SSEEvent] = []
        buffer, start, scan = self._buffer, 0, self._scan
        while (match := _LINE_END.search(buffer, scan)) is not None:
            if match.end() == len(buffer) and buffer[match.start()] == 0x0D:
                scan = match.start()  # a lone trailing CR may be the first half of a CRLF
                break
            self._line(bytes(buffer[start : match.start()]), events)
            start = scan = match.end()
        else:
            scan = len(buffer)
        del buffer[:start]
        self._scan = scan - start
        return events

    def flush(self) -> list[SSEEvent]:
        """The stream ended: dispatch what is pending.

        Unlike a browser we also dispatch a last event that lacks its blank line
        (and a last line that lacks its line end): the bytes are all there, and a
        cut in the middle of JSON still fails to parse downstream.
        """
        events: list[SSEEvent] = []
        rest = bytes(self._buffer).rstrip(b"\r")
        self._buffer.clear()
        self._scan = 0
        if rest:
            self._line(rest, events)
        self._line(b"", events)
        return events

    def _line(self, line: bytes, events: list[SSEEvent]) -> None:
        if not line:
            if self._data:
                events.append(SSEEvent(self._event, "\n".join(self._data)))
            self._event, self._data = "", []
            return
        if line[0] == 0x3A:  # ":" comment, e.g. keep-alives
            return
        name, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value.decode("utf-8", "replace"))
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        # `id`, `retry` and unknown fields carry nothing we use
