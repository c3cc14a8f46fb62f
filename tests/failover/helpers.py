"""Small helpers for failover drills: one request, its visible bytes, the log row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from sekisho.store.models import RequestLog
from tests.failover.conftest import Drill
from tests.support.requestlog import wait_for_row

IDENTITY = (
    "jp-alpha",
    "jp-beta",
    "open-gamma",
    "cn-delta",
    "region-of",
    "127.0.0.1",
    "simulator",
    "fp_",
    "-org",
)


@dataclass
class Reply:
    status: int
    headers: httpx.Headers
    raw: bytes
    events: list[Any]  # decoded SSE data payloads (the string "[DONE]" kept as is)

    @property
    def json(self) -> Any:
        return orjson.loads(self.raw)

    @property
    def text(self) -> str:
        return "".join(
            (e["choices"][0]["delta"].get("content") or "")
            for e in self.events
            if isinstance(e, dict) and e.get("choices")
        )


def chat(
    drill: Drill, alias: str, *, tenant: str = "plain", stream: bool = False, content: str = "drill"
) -> Reply:
    body = {"model": alias, "stream": stream, "messages": [{"role": "user", "content": content}]}
    with httpx.Client(timeout=30) as http:
        resp = http.post(
            drill.url + "/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {drill.keys[tenant]}"},
        )
    events: list[Any] = []
    if resp.headers.get("content-type", "").startswith("text/event-stream"):
        for block in resp.content.split(b"\n\n"):
            if block.startswith(b"data: "):
                data = block[6:]
                events.append("[DONE]" if data == b"[DONE]" else orjson.loads(data))
    reply = Reply(resp.status_code, resp.headers, resp.content, events)
    assert_no_identity(reply)
    return reply


def assert_no_identity(reply: Reply) -> None:
    visible = (
        "\n".join(f"{k}: {v}" for k, v in reply.headers.items()).encode() + reply.raw
    ).lower()
    for needle in IDENTITY:
        assert needle.encode() not in visible, f"{needle!r} leaked: {visible[:300]!r}"


def log_row(drill: Drill, reply: Reply) -> RequestLog:
    return wait_for_row(drill.db, reply.headers["x-request-id"])


def requests_to(drill: Drill, provider: str) -> int:
    return int(drill.sim.stats(provider)["requests"])
