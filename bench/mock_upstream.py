"""A fast OpenAI-compatible mock upstream for the benchmark (bare asyncio + httptools).

One process, one event loop, no framework: the cost of an answer is a few tens
of microseconds, so the mock is never what a measurement sees. The scenario is
chosen by the first path segment, so every target (direct, Sekisho, LiteLLM)
reaches the same bytes through its own configuration:

    POST /small/v1/chat/completions   ~400 B chat.completion, answered at once
    POST /large/v1/chat/completions   ~30 KB chat.completion, answered at once
    POST /slow/v1/chat/completions    the small answer after 50 ms
    any of them with "stream": true   SSE: 64 content chunks 20 ms apart, a usage
                                      chunk, then `data: [DONE]`
    POST /long/v1/chat/completions    as small; streamed, 250 chunks 20 ms apart (5 s),
                                      for many streams open at once

Responses carry upstream identity (`id`, `system_fingerprint`, a provider header)
as a real provider's do, so a gateway's scrubbing has real work to do.

    python -m bench.mock_upstream --port 9700
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal

import httptools
import orjson

STREAM_CHUNKS = 64
LONG_STREAM_CHUNKS = 250
STREAM_GAP_S = 0.020
SLOW_DELAY_S = 0.050
LARGE_BYTES = 30_000
_STREAM_RE = re.compile(rb'"stream"\s*:\s*true')
_WORDS = ("sekisho", "checkpoint", "tokaido", "traveller", "papers", "gate", "road", "edo")


def _completion(content: str) -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-mockupstream0000000000000000",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "mock-model-2025-01-01",
            "system_fingerprint": "fp_mockupstream",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": 12,
                "completion_tokens": max(1, len(content) // 4),
                "total_tokens": 12 + max(1, len(content) // 4),
            },
        }
    )


def _large_text() -> str:
    words: list[str] = []
    size = 0
    i = 0
    while size < LARGE_BYTES - 300:
        word = _WORDS[i % len(_WORDS)]
        words.append(word)
        size += len(word) + 1
        i += 1
    return " ".join(words)


def _chunk(delta: dict[str, object], finish: str | None) -> bytes:
    return (
        b"data: "
        + orjson.dumps(
            {
                "id": "chatcmpl-mockupstream0000000000000000",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": "mock-model-2025-01-01",
                "system_fingerprint": "fp_mockupstream",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
        )
        + b"\n\n"
    )


def _stream_frames(chunks: int = STREAM_CHUNKS) -> list[bytes]:
    frames = [_chunk({"role": "assistant", "content": "tok0 "}, None)]
    frames += [_chunk({"content": f"tok{i} "}, None) for i in range(1, chunks - 1)]
    frames.append(_chunk({"content": f"tok{chunks - 1}"}, "stop"))
    # The usage chunk goes last, with no choices, as OpenAI sends it; always sent, so
    # every target gets the same bytes whether or not it asked for usage.
    frames[-1] += (
        b"data: "
        + orjson.dumps(
            {
                "id": "chatcmpl-mockupstream0000000000000000",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": "mock-model-2025-01-01",
                "choices": [],
                "usage": {
                    "prompt_tokens": 12,
                    "completion_tokens": chunks,
                    "total_tokens": 12 + chunks,
                },
            }
        )
        + b"\n\ndata: [DONE]\n\n"
    )
    return frames


def _response(body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        b"x-mock-provider: mock-upstream\r\nopenai-organization: mock-org\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


SMALL = _response(_completion("Hello from the mock upstream! How can I help you today?"))
LARGE = _response(_completion(_large_text()))
NOT_FOUND = (
    b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\n"
    b'content-length: 21\r\n\r\n{"error":"not found"}'
)
STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"x-mock-provider: mock-upstream\r\ntransfer-encoding: chunked\r\n\r\n"
)
FRAMES = [b"%x\r\n%s\r\n" % (len(f), f) for f in _stream_frames()]
LONG_FRAMES = [b"%x\r\n%s\r\n" % (len(f), f) for f in _stream_frames(LONG_STREAM_CHUNKS)]
LAST_CHUNK = b"0\r\n\r\n"


class MockProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._url = b""
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        transport = self._transport
        if transport is None:
            return
        scenario = self._url.split(b"/", 2)[1] if self._url.startswith(b"/") else b""
        if not self._url.endswith(b"/chat/completions") or scenario not in (
            b"small",
            b"large",
            b"slow",
            b"long",
        ):
            transport.write(NOT_FOUND)
            return
        body = b"".join(self._body)
        if _STREAM_RE.search(body):
            frames = LONG_FRAMES if scenario == b"long" else FRAMES
            transport.write(STREAM_HEAD + frames[0])
            loop = asyncio.get_running_loop()
            loop.call_later(STREAM_GAP_S, self._stream, transport, frames, 1)
        elif scenario in (b"small", b"long"):
            transport.write(SMALL)
        elif scenario == b"large":
            transport.write(LARGE)
        else:
            asyncio.get_running_loop().call_later(SLOW_DELAY_S, self._late, transport, SMALL)

    @staticmethod
    def _late(transport: asyncio.Transport, data: bytes) -> None:
        if not transport.is_closing():
            transport.write(data)

    def _stream(self, transport: asyncio.Transport, frames: list[bytes], i: int) -> None:
        if transport.is_closing():
            return
        if i < len(frames):
            transport.write(frames[i])
            asyncio.get_running_loop().call_later(
                STREAM_GAP_S, self._stream, transport, frames, i + 1
            )
        else:
            transport.write(LAST_CHUNK)


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(MockProtocol, host, port, backlog=4096, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"mock upstream listening on http://{host}:{port}", flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9700)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.host, args.port))
    else:
        uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
