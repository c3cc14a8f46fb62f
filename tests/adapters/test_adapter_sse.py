"""The SSE decoder: line ends, comments, multi-line data, splits, end of stream."""

from __future__ import annotations

import pytest

from sekisho.adapters.sse import SSEDecoder, SSEEvent, data_frame


def decode(*pieces: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = [e for p in pieces for e in decoder.feed(p)]
    return events + decoder.flush()


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_every_line_end_style(eol: bytes) -> None:
    raw = eol.join([b"event: ping", b"data: {}", b"", b"data: x", b"", b""])
    assert decode(raw) == [SSEEvent("ping", "{}"), SSEEvent("", "x")]


def test_crlf_split_between_cr_and_lf_is_one_line_end() -> None:
    assert decode(b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n") == [
        SSEEvent("", "a"),
        SSEEvent("", "b"),
    ]


def test_comments_multiline_data_and_unknown_fields() -> None:
    raw = b": keep-alive\n\nid: 7\nretry: 10\ndata: one\ndata:two\nfoo: bar\n\n"
    assert decode(raw) == [SSEEvent("", "one\ntwo")]


def test_event_name_resets_after_dispatch_and_blank_events_are_dropped() -> None:
    assert decode(b"event: x\n\ndata: y\n\n") == [SSEEvent("", "y")]


def test_utf8_split_inside_a_character() -> None:
    raw = "data: 東京\n\n".encode()
    assert decode(raw[:8], raw[8:]) == [SSEEvent("", "東京")]


def test_long_line_in_many_pieces() -> None:
    line = b"data: " + b"x" * 200_000 + b"\r"
    pieces = [line[i : i + 1000] for i in range(0, len(line), 1000)]
    assert decode(*pieces, b"\n\r\n") == [SSEEvent("", "x" * 200_000)]


def test_flush_dispatches_an_unterminated_last_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: [DONE]") == []
    assert decoder.flush() == [SSEEvent("", "[DONE]")]
    assert decoder.flush() == []


def test_data_frame() -> None:
    assert data_frame(b'{"a":1}') == b'data: {"a":1}\n\n'
