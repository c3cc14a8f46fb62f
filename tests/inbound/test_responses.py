"""POST /v1/responses (stateless) with the official `openai` SDK, over both upstream kinds."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from sekisho.simulator import SimulatorServer
from tests.gateway.conftest import Env
from tests.simulator.sim_helpers import sse_events, sse_json
from tests.support.requestlog import wait_for_row

ALIASES = ["chat-large", "chat-fast"]
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "lookup",
        "description": "Look something up",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
    }
]


def client(env: Env, tenant: str = "acme") -> openai.OpenAI:
    return openai.OpenAI(base_url=env.url + "/v1", api_key=env.keys[tenant], max_retries=0)


def raw(env: Env, body: dict[str, Any]) -> httpx.Response:
    with httpx.Client(timeout=10) as http:
        return http.post(
            env.url + "/v1/responses",
            json=body,
            headers={"authorization": f"Bearer {env.keys['acme']}"},
        )


@pytest.mark.parametrize("alias", ALIASES)
def test_create_with_text_input_and_instructions(
    env: Env, sim: SimulatorServer, alias: str
) -> None:
    response = client(env).responses.create(
        model=alias, input="Hello there", instructions="Be brief.", max_output_tokens=100
    )
    assert response.model == alias and response.object == "response"
    assert response.id.startswith("resp_") and response.status == "completed"
    assert response.output_text.startswith("Simulated answer to: Hello there")
    assert response.usage is not None and response.usage.output_tokens > 0
    assert response.instructions == "Be brief." and response.store is False
    provider = "atlas-useast" if alias == "chat-large" else "meridian-eu"
    sent = sim.stats(provider)["last_request"]["body"]
    if alias == "chat-fast":
        assert sent["system"] == "Be brief." and sent["max_tokens"] == 100
    else:
        assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
        assert sent["max_completion_tokens"] == 100


@pytest.mark.parametrize("alias", ALIASES)
def test_max_output_tokens_makes_an_incomplete_response(
    env: Env, sim: SimulatorServer, alias: str
) -> None:
    response = client(env).responses.create(
        model=alias, input="one two three four five", max_output_tokens=2
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


@pytest.mark.parametrize("alias", ALIASES)
def test_stream_event_sequence(env: Env, sim: SimulatorServer, alias: str) -> None:
    with client(env).responses.stream(model=alias, input="Stream me please") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert set(kinds[4:-4]) == {"response.output_text.delta"}
    assert final.output_text.startswith("Simulated answer to: Stream me please")
    assert final.usage is not None and final.usage.total_tokens > 0


def test_sequence_numbers_and_sse_names(env: Env, sim: SimulatorServer) -> None:
    resp = raw(env, {"model": "chat-large", "input": "hi", "stream": True})
    payloads = sse_json(resp.text)
    assert [p["sequence_number"] for p in payloads] == list(range(len(payloads)))
    assert [p["type"] for p in payloads] == sse_events(resp.text)


@pytest.mark.parametrize("alias", ALIASES)
def test_function_call_round_trip(env: Env, sim: SimulatorServer, alias: str) -> None:
    c = client(env)
    first = c.responses.create(model=alias, input="use the tool please", tools=TOOLS)  # type: ignore[arg-type]
    call = next(item for item in first.output if item.type == "function_call")
    assert call.name == "lookup" and json.loads(call.arguments) == {"query": "use the tool please"}
    second = c.responses.create(
        model=alias,
        tools=TOOLS,  # type: ignore[arg-type]
        input=[
            {"role": "user", "content": "use the tool please"},
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "42"},
        ],
    )
    assert "42" in second.output_text


@pytest.mark.parametrize("alias", ALIASES)
def test_streamed_function_call(env: Env, sim: SimulatorServer, alias: str) -> None:
    with client(env).responses.stream(
        model=alias,
        input="tool time",
        tools=TOOLS,  # type: ignore[arg-type]
        tool_choice={"type": "function", "name": "lookup"},
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert "response.function_call_arguments.delta" in kinds
    assert "response.function_call_arguments.done" in kinds
    call = final.output[-1]
    assert call.type == "function_call" and json.loads(call.arguments) == {"query": "tool time"}


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"store": True}, "store"),
        ({"previous_response_id": "resp_123"}, "previous_response_id"),
        ({"background": True}, "background"),
        ({"include": ["reasoning.encrypted_content"]}, "include"),
        ({"tools": [{"type": "web_search"}]}, "tools"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_stateful_and_unknown_fields_are_refused(
    env: Env, sim: SimulatorServer, extra: dict[str, Any], param: str
) -> None:
    resp = raw(env, {"model": "chat-large", "input": "hi", **extra})
    assert resp.status_code == 400
    assert (
        resp.json()["error"]["param"] == param and resp.json()["error"]["code"] == "invalid_request"
    )
    assert sim.stats("atlas-useast")["requests"] == 0


def test_sdk_sees_a_clear_error(env: Env, sim: SimulatorServer) -> None:
    with pytest.raises(openai.BadRequestError, match="conversation"):
        client(env).responses.create(model="chat-large", input="hi", previous_response_id="r1")
    with pytest.raises(openai.NotFoundError):
        client(env).responses.create(model="nope", input="hi")


def test_failover_and_request_log(env: Env, sim: SimulatorServer) -> None:
    sim.set_fault("atlas-useast", status=503)
    resp = raw(env, {"model": "chat-large", "input": "x"})
    assert resp.status_code == 200
    row = wait_for_row(env.db, resp.headers["x-request-id"])
    assert [a["outcome"] for a in row.attempts] == ["server_error", "ok"]
    leaked = [s for s in env.identity_strings() if s.lower() in resp.text.lower()]
    assert leaked == []


def test_json_schema_format_is_passed_as_response_format(env: Env, sim: SimulatorServer) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    client(env).responses.create(
        model="chat-large",
        input="where",
        text={"format": {"type": "json_schema", "name": "place", "schema": schema}},
    )
    sent = sim.stats("atlas-useast")["last_request"]["body"]
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "place", "schema": schema},
    }


def test_failure_after_the_first_byte_is_an_error_event(env: Env, sim: SimulatorServer) -> None:
    sim.set_fault("atlas-useast", error_after=3)
    resp = raw(env, {"model": "chat-large", "input": "one two three four five six", "stream": True})
    events = sse_json(resp.text)
    assert events[0]["type"] == "response.created" and events[-1]["type"] == "error"
    assert events[-1]["code"] == "upstream_unavailable"
    assert "response.completed" not in [e["type"] for e in events]
