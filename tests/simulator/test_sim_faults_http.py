"""Each fault kind as a client sees it over a real socket, and the counters behind it."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest

from sekisho.simulator import SimulatorServer

from .sim_helpers import ANTHROPIC_AUTH, OPENAI_AUTH, chat_body, messages_body, sse_data, sse_json

OPENAI_PATH = "/f1/v1/chat/completions"
ANTHROPIC_PATH = "/f1/v1/messages"


def chat(client: httpx.Client, **extra: object) -> httpx.Response:
    return client.post(OPENAI_PATH, json={**chat_body(), **extra}, headers=OPENAI_AUTH)


def messages(client: httpx.Client, **extra: object) -> httpx.Response:
    return client.post(ANTHROPIC_PATH, json={**messages_body(), **extra}, headers=ANTHROPIC_AUTH)


@pytest.mark.parametrize(
    ("status", "kind", "code"),
    [
        (401, "invalid_request_error", "invalid_api_key"),
        (404, "invalid_request_error", "model_not_found"),
        (429, "requests", "rate_limit_exceeded"),
        (500, "server_error", None),
        (503, "server_error", None),
    ],
)
def test_status_fault_in_openai_format(
    sim: SimulatorServer, client: httpx.Client, status: int, kind: str, code: str | None
) -> None:
    sim.set_fault("f1", status=status)
    response = chat(client)
    assert response.status_code == status
    error = response.json()["error"]
    assert (error["type"], error["code"]) == (kind, code)
    assert " on f1 (region sim-region-f1) at 127.0.0.1:" in error["message"]
    assert response.headers["openai-organization"] == "f1-org"
    assert ("retry-after" in response.headers) is (status == 429)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (403, "permission_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (529, "overloaded_error"),
    ],
)
def test_status_fault_in_anthropic_format(
    sim: SimulatorServer, client: httpx.Client, status: int, kind: str
) -> None:
    sim.set_fault("f1", status=status, retry_after=7)
    response = messages(client)
    assert response.status_code == status
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == kind
    assert body["request_id"] == "f1-req-1"
    assert "on f1 (region sim-region-f1)" in body["error"]["message"]
    assert response.headers["retry-after"] == "7"


def test_count_expires_and_every_request_is_counted(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.set_fault("f1", status=503, count=2)
    assert [chat(client).status_code for _ in range(3)] == [503, 503, 200]
    stats = sim.stats("f1")
    assert stats["requests"] == 3
    assert stats["faulted"] == 2
    assert stats["by_status"] == {"503": 2, "200": 1}
    assert stats["faults"] == []


def test_latency_delays_the_response(sim: SimulatorServer, client: httpx.Client) -> None:
    sim.set_fault("f1", latency_ms=150, count=1)
    started = time.perf_counter()
    assert chat(client).status_code == 200
    assert time.perf_counter() - started >= 0.15


def test_timeout_hangs_until_the_client_gives_up(sim: SimulatorServer) -> None:
    sim.set_fault("f1", timeout=True)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(sim.url + OPENAI_PATH, json=chat_body(), headers=OPENAI_AUTH, timeout=0.2)
    assert sim.stats("f1")["by_status"] == {"timeout": 1}


def test_reset_aborts_the_connection(sim: SimulatorServer) -> None:
    sim.set_fault("f1", reset=True, count=1)
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        httpx.post(sim.url + OPENAI_PATH, json=chat_body(), headers=OPENAI_AUTH)
    assert (
        httpx.post(sim.url + OPENAI_PATH, json=chat_body(), headers=OPENAI_AUTH).status_code == 200
    )
    assert sim.stats("f1")["by_status"] == {"reset": 1, "200": 1}


def test_cut_after_ends_the_stream_without_done(sim: SimulatorServer, client: httpx.Client) -> None:
    sim.set_fault("f1", cut_after=3)
    received: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream(
            "POST", OPENAI_PATH, json=chat_body(stream=True), headers=OPENAI_AUTH
        ) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: "):
                received.append(line)
    assert len(received) == 3
    assert "data: [DONE]" not in received


def test_cut_after_on_a_non_stream_response_truncates_the_body(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.set_fault("f1", cut_after=10)
    with pytest.raises(httpx.RemoteProtocolError):
        chat(client)


def test_error_after_sends_an_openai_error_event_then_ends(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.set_fault("f1", error_after=2)
    response = chat(client, stream=True)
    data = sse_data(response.text)
    assert len(data) == 3
    assert "[DONE]" not in data
    error = sse_json(response.text)[-1]["error"]
    assert error["type"] == "server_error"
    assert "on f1 (region sim-region-f1)" in error["message"]


def test_error_after_sends_an_anthropic_error_event(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.set_fault("f1", error_after=1)
    text = messages(client, stream=True).text
    assert "event: message_start" in text
    assert "event: message_stop" not in text
    assert text.endswith(
        'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
        f'"message":"Overloaded on f1 (region sim-region-f1) at {sim.url[7:]}."}}}}\n\n'
    )


def test_slow_stream_spaces_its_chunks(sim: SimulatorServer, client: httpx.Client) -> None:
    sim.set_fault("f1", first_byte_delay_ms=50, chunk_delay_ms=20)
    started = time.perf_counter()
    response = chat(client, stream=True)
    elapsed = time.perf_counter() - started
    assert sse_data(response.text)[-1] == "[DONE]"
    chunks = len(sse_data(response.text))  # role + 5 words + finish + [DONE]
    assert elapsed >= 0.05 + 0.02 * (chunks - 1)
    assert sim.stats("f1")["streams"] == 1


def test_first_byte_delay_on_a_non_stream_response(
    sim: SimulatorServer, client: httpx.Client
) -> None:
    sim.set_fault("f1", first_byte_delay_ms=200, count=1)
    started = time.perf_counter()
    with client.stream("POST", OPENAI_PATH, json=chat_body(), headers=OPENAI_AUTH) as response:
        headers_at = time.perf_counter() - started
        body = response.read()
    assert headers_at < 0.15
    assert time.perf_counter() - started >= 0.2
    assert orjson.loads(body)["id"] == "chatcmpl-f1-1"


def test_faults_are_per_provider(sim: SimulatorServer, client: httpx.Client) -> None:
    sim.set_fault("f1", status=500)
    ok = client.post("/f2/v1/chat/completions", json=chat_body(), headers=OPENAI_AUTH)
    assert ok.status_code == 200
    assert chat(client).status_code == 500
    sim.clear_faults("f1")
    assert chat(client).status_code == 200
