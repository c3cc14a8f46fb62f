"""The Anthropic Messages wire over a real socket."""

from __future__ import annotations

import httpx
import orjson
import pytest

from sekisho.simulator import SimulatorServer

from .sim_helpers import ANTHROPIC_AUTH, messages_body, sse_events, sse_json

TOOLS = [{"name": "lookup", "input_schema": {"type": "object"}}]


def post(client: httpx.Client, body: dict[str, object], provider: str = "a1") -> httpx.Response:
    return client.post(f"/{provider}/v1/messages", json=body, headers=ANTHROPIC_AUTH)


def test_message_is_deterministic_and_stamped_with_the_provider(client: httpx.Client) -> None:
    body = messages_body("Where is Osaka?", system=[{"type": "text", "text": "be brief"}])
    response = post(client, body)
    assert response.status_code == 200
    message = response.json()
    assert message["id"] == "msg_a1_1"
    assert message["type"] == "message"
    assert message["model"] == "sim-large-a1-2024-08-06"
    assert message["content"] == [{"type": "text", "text": "Simulated answer to: Where is Osaka?"}]
    assert (message["stop_reason"], message["stop_sequence"]) == ("end_turn", None)
    assert message["usage"]["input_tokens"] == 5
    assert message["usage"]["output_tokens"] == 6
    headers = response.headers
    assert headers["anthropic-organization-id"] == "a1-org"
    assert headers["request-id"] == "a1-req-1"
    assert headers["server"] == "a1-sim/1.0"
    assert headers["x-simulator-provider"] == "a1"


def test_max_tokens_and_stop_sequences(client: httpx.Client) -> None:
    short = post(client, messages_body("one two", max_tokens=2)).json()
    assert short["content"][0]["text"] == "Simulated answer"
    assert short["stop_reason"] == "max_tokens"
    stopped = post(client, messages_body("one two", stop_sequences=["two", "zzz"])).json()
    assert stopped["content"][0]["text"] == "Simulated answer to: one"
    assert (stopped["stop_reason"], stopped["stop_sequence"]) == ("stop_sequence", "two")


def test_tool_use_then_tool_result_answered_with_text(client: httpx.Client) -> None:
    question = {"role": "user", "content": [{"type": "text", "text": "use a tool"}]}
    first = post(client, messages_body(tools=TOOLS, messages=[question])).json()
    assert first["stop_reason"] == "tool_use"
    block = first["content"][0]
    assert block == {
        "type": "tool_use",
        "id": "toolu_a1_1",
        "name": "lookup",
        "input": {"query": "use a tool"},
    }

    result = {"type": "tool_result", "tool_use_id": block["id"], "content": "rainy"}
    history = [
        question,
        {"role": "assistant", "content": [block]},
        {"role": "user", "content": [result]},
    ]
    second = post(client, messages_body(tools=TOOLS, messages=history)).json()
    assert second["stop_reason"] == "end_turn"
    assert second["content"][0]["text"] == "Simulated answer to: rainy"


def test_stream_event_sequence_and_text(client: httpx.Client) -> None:
    response = post(client, messages_body("hi you", stream=True))
    assert response.headers["content-type"].startswith("text/event-stream")
    assert sse_events(response.text) == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * 5,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    data = sse_json(response.text)
    assert data[0]["message"]["id"] == "msg_a1_1"
    text = "".join(d["delta"]["text"] for d in data if d["type"] == "content_block_delta")
    assert text == "Simulated answer to: hi you"
    assert data[-2]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert data[-2]["usage"] == {"output_tokens": 5}


def test_stream_tool_use_sends_input_json_deltas(client: httpx.Client) -> None:
    data = sse_json(post(client, messages_body("a tool", tools=TOOLS, stream=True)).text)
    assert data[1]["content_block"] == {
        "type": "tool_use",
        "id": "toolu_a1_1",
        "name": "lookup",
        "input": {},
    }
    deltas = [d["delta"] for d in data if d["type"] == "content_block_delta"]
    assert {d["type"] for d in deltas} == {"input_json_delta"}
    assert orjson.loads("".join(d["partial_json"] for d in deltas)) == {"query": "a tool"}
    assert data[-2]["delta"]["stop_reason"] == "tool_use"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (
            {"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
            "model: Field required",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}]},
            "max_tokens: Field required",
        ),
        ({"model": "m", "max_tokens": 5}, "messages: Field required"),
        ({"model": "m", "max_tokens": 5, "messages": []}, "at least one message"),
        (messages_body(messages=[{"role": "system", "content": "x"}]), 'Unexpected role "system"'),
    ],
)
def test_invalid_requests_get_a_400_naming_the_provider(
    client: httpx.Client, body: dict[str, object], says: str
) -> None:
    response = post(client, body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["type"] == "error"
    assert payload["error"]["type"] == "invalid_request_error"
    assert says in payload["error"]["message"]
    assert "on a1 (region sim-region-a1) at 127.0.0.1:" in payload["error"]["message"]


def test_missing_api_key_is_a_401_and_missing_version_a_400(client: httpx.Client) -> None:
    no_key = client.post(
        "/a1/v1/messages", json=messages_body(), headers={"anthropic-version": "2023-06-01"}
    )
    assert no_key.status_code == 401
    assert no_key.json()["error"]["type"] == "authentication_error"
    no_version = client.post("/a1/v1/messages", json=messages_body(), headers={"x-api-key": "k"})
    assert no_version.status_code == 400
    assert "anthropic-version" in no_version.json()["error"]["message"]


def test_models_in_anthropic_format(sim: SimulatorServer, client: httpx.Client) -> None:
    listing = client.get("/a1/v1/models", headers=ANTHROPIC_AUTH).json()
    assert [m["id"] for m in listing["data"]] == ["a1-large", "a1-small"]
    assert listing["has_more"] is False
