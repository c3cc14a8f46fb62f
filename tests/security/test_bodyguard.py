"""`BodyGuard` on its own: the body limits hold under any ASGI server, not only behind our edge.

Under `sekisho serve` the edge protocol answers first, so these drive the
layer directly with ASGI messages, as another server would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest

from sekisho.http.asgi import Message, Scope
from sekisho.http.bodyguard import BodyGuard, json_problem
from sekisho.http.limits import EdgeLimits

LIMITS = EdgeLimits(control_max_body_bytes=1024, max_body_bytes=4096, body_timeout_s=0.3)


class EchoApp:
    """Reads the whole body, answers 200 with its length; records what it saw."""

    def __init__(self) -> None:
        self.disconnected = False
        self.body = b""

    async def __call__(self, scope: Scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                break
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(len(self.body)).encode()})


def _scope(path: str, headers: list[tuple[bytes, bytes]], method: str = "POST") -> Scope:
    return {"type": "http", "method": method, "path": path, "headers": headers}


async def _drive(
    path: str, parts: AsyncIterator[bytes], headers: list[tuple[bytes, bytes]]
) -> tuple[list[Message], EchoApp]:
    app = EchoApp()
    sent: list[Message] = []

    async def receive() -> Message:
        try:
            chunk = await anext(parts)
        except StopAsyncIteration:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: Message) -> None:
        sent.append(message)

    await BodyGuard(app, LIMITS)(_scope(path, headers), receive, send)
    return sent, app


async def _parts(*chunks: bytes, pause_s: float = 0.0) -> AsyncIterator[bytes]:
    for c in chunks:
        if pause_s:
            await asyncio.sleep(pause_s)
        yield c


def _status_and_error(sent: list[Message]) -> tuple[int, dict[str, object] | None]:
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    doc = orjson.loads(body)
    return start["status"], doc.get("error") if isinstance(doc, dict) else None


def test_declared_length_over_the_limit_never_reaches_the_app() -> None:
    sent, app = asyncio.run(_drive("/admin/v1/x", _parts(b"x"), [(b"content-length", b"5000")]))
    status, err = _status_and_error(sent)
    assert status == 413 and err and err["code"] == "request_too_large"
    assert app.body == b""


def test_streamed_body_is_cut_when_it_passes_the_limit() -> None:
    sent, app = asyncio.run(_drive("/admin/v1/x", _parts(*[b"x" * 300] * 10), []))
    status, err = _status_and_error(sent)
    assert status == 413 and err and err["code"] == "request_too_large"
    assert app.disconnected and len(app.body) <= 1024
    assert (
        len([m for m in sent if m["type"] == "http.response.start"]) == 1
    )  # the app's answer dropped


def test_data_plane_paths_get_the_data_plane_limit() -> None:
    sent, _ = asyncio.run(_drive("/chat/send", _parts(*[b"x" * 300] * 10), []))
    assert _status_and_error_plain(sent) == 200


def _status_and_error_plain(sent: list[Message]) -> int:
    return int(next(m for m in sent if m["type"] == "http.response.start")["status"])


def test_slow_body_is_a_408() -> None:
    sent, app = asyncio.run(_drive("/admin/v1/x", _parts(b"a", b"b", b"c", pause_s=0.2), []))
    status, err = _status_and_error(sent)
    assert status == 408 and err and err["code"] == "request_timeout"
    assert app.disconnected


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 2000 + b"]" * 2000,
        b'{"a": "\\ud800"}',
        b'{"a": 1e999}',
        b'{"a": "x\\u0000"}',
        b'{"a": "\xff"}',
    ],
    ids=["deep", "lone-surrogate", "overflow", "nul", "invalid-utf8"],
)
def test_strict_json_check(body: bytes) -> None:
    assert json_problem(body) is not None
    headers = [(b"content-type", b"application/json")]
    sent, app = asyncio.run(_drive("/console/x", _parts(body[:900], body[900:]), headers))
    status, err = _status_and_error(sent)
    assert status in (400, 413) and err
    assert app.body == b""


def test_good_json_is_replayed_to_the_app_whole() -> None:
    body = orjson.dumps({"title": "fine", "list": list(range(50))})
    headers = [(b"content-type", b"application/json; charset=utf-8")]
    sent, app = asyncio.run(_drive("/admin/v1/x", _parts(body[:10], body[10:]), headers))
    assert _status_and_error_plain(sent) == 200
    assert app.body == body
    assert json_problem(b"") is None
