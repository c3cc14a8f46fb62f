"""The simulator answers like a provider where clients depend on it: JSON modes, tool
arguments from the tool's schema, logprobs, Anthropic thinking blocks."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import openai
import pytest

from sekisho.simulator import SimulatorServer
from sekisho.simulator.schema_fill import fill

from .sim_helpers import ANTHROPIC_AUTH, messages_body, sse_json

WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 2, "maxLength": 10},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7},
        "when": {"type": "string", "format": "date"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "place": {"$ref": "#/$defs/place"},
        "note": {"anyOf": [{"type": "null"}, {"type": "number", "exclusiveMinimum": 3}]},
        "ok": {"type": "boolean"},
    },
    "required": ["city", "unit", "days", "when", "tags", "place", "note", "ok"],
    "additionalProperties": False,
    "$defs": {
        "place": {
            "type": "object",
            "properties": {"lat": {"type": "number"}, "name": {"const": "here"}},
            "required": ["lat", "name"],
        }
    },
}


@pytest.mark.parametrize(
    "schema",
    [
        WEATHER,
        {"type": "array", "items": {"type": "integer", "maximum": 0}},
        {"type": ["string", "null"], "minLength": 30},
        {
            "allOf": [
                {"properties": {"a": {"type": "string"}}},
                {"properties": {"b": {"type": "integer"}}},
            ]
        },
        {},
    ],
)
def test_fill_satisfies_the_schema(schema: dict[str, Any]) -> None:
    jsonschema.validate(fill(schema, "some prompt text"), schema)


def oa(sim: SimulatorServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.base_url("p1"), api_key="sk", max_retries=0)


def test_json_object_and_json_schema_answers(sim: SimulatorServer) -> None:
    c = oa(sim)
    plain = c.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "hi"}],
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(plain.choices[0].message.content or ""), dict)
    shaped = c.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "weather in Tokyo"}],
        response_format={"type": "json_schema", "json_schema": {"name": "w", "schema": WEATHER}},
    )
    jsonschema.validate(json.loads(shaped.choices[0].message.content or ""), WEATHER)
    stream = c.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "weather"}],
        response_format={"type": "json_schema", "json_schema": {"name": "w", "schema": WEATHER}},
        stream=True,
    )
    text = "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
    jsonschema.validate(json.loads(text), WEATHER)


def test_tool_arguments_follow_the_tools_schema(sim: SimulatorServer, client: httpx.Client) -> None:
    tools = [{"type": "function", "function": {"name": "weather", "parameters": WEATHER}}]
    resp = oa(sim).chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "use the tool"}],
        tools=tools,  # type: ignore[arg-type]
    )
    call = (resp.choices[0].message.tool_calls or [])[0]
    jsonschema.validate(json.loads(call.function.arguments), WEATHER)  # type: ignore[union-attr]
    anthropic_tools = [{"name": "weather", "input_schema": WEATHER}]
    body = messages_body("use the tool", tools=anthropic_tools)
    message = client.post("/p1/v1/messages", json=body, headers=ANTHROPIC_AUTH).json()
    jsonschema.validate(message["content"][0]["input"], WEATHER)


def test_logprobs_when_asked(sim: SimulatorServer) -> None:
    c = oa(sim)
    resp = c.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "hello"}],
        logprobs=True,
        top_logprobs=2,
    )
    logprobs = resp.choices[0].logprobs
    assert logprobs is not None and logprobs.content
    assert "".join(t.token for t in logprobs.content) == resp.choices[0].message.content
    assert all(len(t.top_logprobs) == 2 and t.logprob < 0 for t in logprobs.content)
    assert (
        c.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
        .choices[0]
        .logprobs
        is None
    )
    stream = c.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hello"}], logprobs=True, stream=True
    )
    tokens = [
        t.token
        for ch in stream
        if ch.choices and ch.choices[0].logprobs
        for t in ch.choices[0].logprobs.content or []
    ]
    assert "".join(tokens).startswith("Simulated answer to: hello")


def test_anthropic_thinking_blocks(client: httpx.Client, sim: SimulatorServer) -> None:
    body = messages_body(
        "ponder", max_tokens=2000, thinking={"type": "enabled", "budget_tokens": 1024}
    )
    message = client.post("/p1/v1/messages", json=body, headers=ANTHROPIC_AUTH).json()
    assert [b["type"] for b in message["content"]] == ["thinking", "text"]
    assert message["content"][0]["thinking"] == "Simulated thinking about: ponder"
    events = sse_json(
        client.post("/p1/v1/messages", json={**body, "stream": True}, headers=ANTHROPIC_AUTH).text
    )
    deltas = [e["delta"]["type"] for e in events if e["type"] == "content_block_delta"]
    assert (
        deltas[0] == "thinking_delta" and "signature_delta" in deltas and deltas[-1] == "text_delta"
    )
    bad = client.post("/p1/v1/messages", json={**body, "max_tokens": 1000}, headers=ANTHROPIC_AUTH)
    assert bad.status_code == 400 and "budget_tokens" in bad.json()["error"]["message"]
