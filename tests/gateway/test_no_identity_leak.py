"""Rule 1: no provider identity in any customer-visible byte, errors included."""

from __future__ import annotations

import re

import httpx
import pytest

from sekisho.simulator import SimulatorServer
from tests.gateway.conftest import Env

FAULTS: list[dict[str, object]] = [
    {},
    {"status": 500},
    {"status": 503},
    {"status": 429},
    {"status": 400},
    {"status": 401},
    {"reset": True},
    {"cut_after": 2},
    {"error_after": 2},
]


def _scan(env: Env, blob: bytes, where: str) -> None:
    text = blob.decode("utf-8", "replace").lower()
    for needle in [
        *env.identity_strings(),
        "simulator",
        "-sim",
        "fp_",
        "msg_",
        "toolu_",
        "-org",
        "sim-region",
    ]:
        assert needle.lower() not in text, f"{needle!r} leaked in {where}: {text[:400]}"


def _visible(resp: httpx.Response) -> bytes:
    head = "\n".join(f"{k}: {v}" for k, v in resp.headers.items())
    return head.encode() + b"\n\n" + resp.content


@pytest.mark.parametrize(
    "fault", FAULTS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "ok"
)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("alias", ["chat-large", "chat-fast", "chat-jp"])
def test_no_provider_identity_in_responses(
    env: Env, sim: SimulatorServer, fault: dict[str, object], stream: bool, alias: str
) -> None:
    for provider in ("atlas-useast", "meridian-eu", "kumo-tokyo", "hoshi-osaka"):
        if fault:
            sim.set_fault(provider, **fault)
    body = {
        "model": alias,
        "stream": stream,
        "messages": [{"role": "user", "content": "please use the tool now"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    with httpx.Client(timeout=20) as http:
        resp = http.post(
            env.url + "/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {env.keys['acme']}"},
        )
    _scan(env, _visible(resp), f"{alias} {fault} stream={stream}")
    assert re.fullmatch(r"req_[0-9a-f]{24}", resp.headers["x-request-id"])
    if stream and resp.status_code == 200:
        for event in resp.content.split(b"\n\n"):
            _scan(env, event, "sse event")


def test_models_and_errors_carry_no_identity(env: Env) -> None:
    with httpx.Client(timeout=10) as http:
        for resp in (
            http.get(
                env.url + "/v1/models", headers={"authorization": f"Bearer {env.keys['dragon']}"}
            ),
            http.post(
                env.url + "/v1/chat/completions",
                json={"model": "chat-cn", "messages": [{"role": "user", "content": "hi"}]},
                headers={"authorization": f"Bearer {env.keys['acme']}"},
            ),
        ):
            _scan(env, _visible(resp), resp.request.url.path)
