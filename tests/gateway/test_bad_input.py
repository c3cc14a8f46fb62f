"""DESIGN.md's bad-input table, case by case: exact status and code, upstream never called."""

from __future__ import annotations

import httpx
import pytest

from sekisho.simulator import SimulatorServer
from tests.gateway.conftest import Env

OK_MESSAGES = [{"role": "user", "content": "hi"}]
PROVIDERS = ("atlas-useast", "meridian-eu", "kumo-tokyo", "hoshi-osaka", "longmen-cn")

CASES: list[tuple[str, object, int, str]] = [
    ("malformed JSON", b'{"model": "chat-large", "messages": [', 400, "invalid_request"),
    ("not JSON at all", b"hello", 400, "invalid_request"),
    ("non-object body", b'["chat-large"]', 400, "invalid_request"),
    ("empty body", b"", 400, "invalid_request"),
    ("missing model", {"messages": OK_MESSAGES}, 400, "invalid_request"),
    ("model not a string", {"model": 7, "messages": OK_MESSAGES}, 400, "invalid_request"),
    ("missing messages", {"model": "chat-large"}, 400, "invalid_request"),
    ("messages not a list", {"model": "chat-large", "messages": "hi"}, 400, "invalid_request"),
    ("empty messages", {"model": "chat-large", "messages": []}, 400, "invalid_request"),
    (
        "unknown role",
        {"model": "chat-large", "messages": [{"role": "wizard", "content": "x"}]},
        400,
        "invalid_request",
    ),
    (
        "content wrong type",
        {"model": "chat-large", "messages": [{"role": "user", "content": 5}]},
        400,
        "invalid_request",
    ),
    (
        "stream not boolean",
        {"model": "chat-large", "messages": OK_MESSAGES, "stream": "yes"},
        400,
        "invalid_request",
    ),
    (
        "temperature out of range",
        {"model": "chat-large", "messages": OK_MESSAGES, "temperature": 9},
        400,
        "invalid_request",
    ),
    (
        "max_tokens not positive",
        {"model": "chat-large", "messages": OK_MESSAGES, "max_tokens": 0},
        400,
        "invalid_request",
    ),
    ("n > 1", {"model": "chat-large", "messages": OK_MESSAGES, "n": 2}, 400, "invalid_request"),
    (
        "unknown parameter",
        {"model": "chat-large", "messages": OK_MESSAGES, "bogus": 1},
        400,
        "invalid_request",
    ),
    (
        "tool message without id",
        {"model": "chat-large", "messages": [{"role": "tool", "content": "x"}]},
        400,
        "invalid_request",
    ),
    (
        "bad tools",
        {"model": "chat-large", "messages": OK_MESSAGES, "tools": [{"type": "x"}]},
        400,
        "invalid_request",
    ),
    ("unknown alias", {"model": "gpt-4o", "messages": OK_MESSAGES}, 404, "model_not_found"),
    (
        "alias not allowed (China-gated)",
        {"model": "chat-cn", "messages": OK_MESSAGES},
        403,
        "permission_denied",
    ),
]


def _post(env: Env, body: object, key: str | None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    content = body if isinstance(body, bytes) else httpx.Request("POST", "/", json=body).content
    with httpx.Client(timeout=10) as http:
        return http.post(env.url + "/v1/chat/completions", content=content, headers=headers)


def _assert_error(resp: httpx.Response, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == code
    assert set(err) == {"message", "type", "code", "param"}
    assert err["message"]
    assert resp.headers["x-request-id"].startswith("req_")


def _upstream_calls(sim: SimulatorServer) -> int:
    return sum(sim.stats(p)["requests"] for p in PROVIDERS)


@pytest.mark.parametrize(("case", "body", "status", "code"), CASES, ids=[c[0] for c in CASES])
def test_bad_request_is_refused_before_any_upstream_call(
    env: Env, sim: SimulatorServer, case: str, body: object, status: int, code: str
) -> None:
    _assert_error(_post(env, body, env.keys["acme"]), status, code)
    assert _upstream_calls(sim) == 0


@pytest.mark.parametrize(
    ("case", "key"),
    [
        ("missing key", None),
        ("unknown key", "sks_000000000000_" + "A" * 43),
        ("malformed key", "not-a-key"),
        ("right prefix, wrong secret", "tampered"),
    ],
)
def test_bad_key_is_401(env: Env, sim: SimulatorServer, case: str, key: str | None) -> None:
    if key == "tampered":
        real = env.keys["acme"]
        key = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    _assert_error(
        _post(env, {"model": "chat-large", "messages": OK_MESSAGES}, key), 401, "invalid_api_key"
    )
    assert _upstream_calls(sim) == 0


def test_oversized_body_is_413(env: Env, sim: SimulatorServer) -> None:
    limit = env.gw.gateway.settings.limits.max_body_bytes
    big = {"model": "chat-large", "messages": [{"role": "user", "content": "x" * (limit + 1)}]}
    _assert_error(_post(env, big, env.keys["acme"]), 413, "request_too_large")
    assert _upstream_calls(sim) == 0


def test_oversized_chunked_body_is_413(env: Env, sim: SimulatorServer) -> None:
    limit = env.gw.gateway.settings.limits.max_body_bytes

    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"model": "chat-large", "messages": [{"role": "user", "content": "'
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536
        yield b'"}]}'

    with httpx.Client(timeout=10) as http:
        resp = http.post(
            env.url + "/v1/chat/completions",
            content=chunks(),
            headers={"authorization": f"Bearer {env.keys['acme']}"},
        )
    _assert_error(resp, 413, "request_too_large")
    assert _upstream_calls(sim) == 0


def test_key_scope_and_tenant_alias_list(env: Env, sim: SimulatorServer) -> None:
    body = {"model": "chat-fast", "messages": OK_MESSAGES}
    _assert_error(_post(env, body, env.keys["scoped"]), 403, "permission_denied")
    _assert_error(
        _post(env, {"model": "chat-large", "messages": OK_MESSAGES}, env.keys["narrow"]),
        403,
        "permission_denied",
    )
    _assert_error(
        _post(env, {"model": "chat-large", "messages": OK_MESSAGES}, env.keys["sakura"]),
        403,
        "permission_denied",
    )
    assert _upstream_calls(sim) == 0


def test_wrong_method(env: Env) -> None:
    with httpx.Client(timeout=10) as http:
        resp = http.get(
            env.url + "/v1/chat/completions",
            headers={"authorization": f"Bearer {env.keys['acme']}"},
        )
    _assert_error(resp, 405, "method_not_allowed")
    assert resp.headers["allow"] == "POST"
