"""The parameter table: complete against the spec, obeyed by the adapters, true in the docs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from sekisho.adapters import AnthropicAdapter, OpenAIAdapter
from sekisho.adapters.params import (
    KINDS,
    MESSAGE_FIELDS,
    PARAMETERS,
    REASONING_BUDGETS,
    replace_section,
)
from sekisho.chat.request import validate_chat_request
from sekisho.errors import InvalidRequest

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = json.loads((ROOT / "tests/vectors/openai/schemas.json").read_text())["components"][
    "schemas"
]
MESSAGE_SCHEMAS = [
    "ChatCompletionRequestSystemMessage",
    "ChatCompletionRequestDeveloperMessage",
    "ChatCompletionRequestUserMessage",
    "ChatCompletionRequestAssistantMessage",
    "ChatCompletionRequestToolMessage",
    "ChatCompletionRequestFunctionMessage",
]


def spec_properties(name: str) -> set[str]:
    schema = SCHEMAS[name]
    found: set[str] = set()
    for part in schema.get("allOf", [schema]):
        if "$ref" in part:
            found |= spec_properties(part["$ref"].rsplit("/", 1)[1])
        else:
            found |= set(part.get("properties", {}))
    return found


def test_every_spec_parameter_has_a_disposition_per_adapter() -> None:
    spec = spec_properties("CreateChatCompletionRequest")
    assert spec - set(PARAMETERS) == set(), "spec parameters missing from params.PARAMETERS"
    assert set(PARAMETERS) - spec == set(), "the table names parameters the spec does not have"
    for name, rules in PARAMETERS.items():
        assert set(rules) == set(KINDS), name
        for rule in rules.values():
            assert rule.disposition in ("passed", "translated", "refused", "withheld"), name
            if rule.disposition in ("translated", "withheld"):
                assert rule.note, f"{name}: a translation or withholding must say what it does"


def test_every_message_field_has_a_disposition_per_adapter() -> None:
    fields = set().union(*(spec_properties(name) for name in MESSAGE_SCHEMAS))
    assert fields == set(MESSAGE_FIELDS)
    assert all(set(rules) == set(KINDS) for rules in MESSAGE_FIELDS.values())


def test_docs_show_the_generated_table() -> None:
    text = (ROOT / "docs/api.md").read_text()
    assert replace_section(text) == text, "run `python -m sekisho.adapters.params docs/api.md`"


# A legal, non-default value for each parameter (what a client would send to use it).
SAMPLES: dict[str, Any] = {
    "model": "chat-x",
    "messages": [{"role": "user", "content": "hi"}],
    "stream": False,
    "stream_options": {"include_usage": True},
    "max_tokens": 2000,
    "max_completion_tokens": 1800,
    "temperature": 0.4,
    "top_p": 0.5,
    "n": 1,
    "stop": ["END"],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
    "tool_choice": "required",
    "parallel_tool_calls": False,
    "presence_penalty": 0.5,
    "frequency_penalty": 0.5,
    "seed": 7,
    "logit_bias": {"50256": -100},
    "logprobs": True,
    "top_logprobs": 2,
    "response_format": {"type": "json_object"},
    "reasoning_effort": "low",
    "verbosity": "low",
    "prediction": {"type": "content", "content": "x"},
    "prompt_cache_key": "k",
    "prompt_cache_retention": "24h",
    "prompt_cache_options": {"mode": "auto"},
    "modalities": ["text", "audio"],
    "audio": {"voice": "alloy", "format": "mp3"},
    "web_search_options": {},
    "functions": [{"name": "f"}],
    "function_call": "auto",
    "moderation": {"mode": "enforce"},
    "store": True,
    "metadata": {"team": "a"},
    "service_tier": "flex",
    "user": "end-user-1",
    "safety_identifier": "end-user-1",
}


def test_samples_cover_the_table() -> None:
    assert set(SAMPLES) == set(PARAMETERS)


def build(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    adapter = OpenAIAdapter() if kind == "openai" else AnthropicAdapter()
    req = adapter.build_request(body, upstream_model="up", api_key="k", stream=False)
    return dict(orjson.loads(req.body))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", sorted(set(PARAMETERS) - {"model", "messages"}))
def test_adapter_does_what_the_table_says(kind: str, name: str) -> None:
    """passed: arrives unchanged; refused: 400 naming it; withheld: never reaches upstream."""
    base = {"model": "chat-x", "messages": [{"role": "user", "content": "hi"}]}
    if name in ("tool_choice", "parallel_tool_calls"):
        base["tools"] = SAMPLES["tools"]
    body = {**base, name: SAMPLES[name]}
    rule = PARAMETERS[name][kind]
    if rule.disposition == "refused" or (rule.check and rule.check(SAMPLES[name], body)):
        with pytest.raises(InvalidRequest) as caught:
            build(kind, body)
        assert caught.value.param == name
        assert name in caught.value.message
        return
    sent = build(kind, body)
    if rule.disposition == "passed":
        assert sent[name] == SAMPLES[name]
    elif rule.disposition == "withheld":
        assert name not in sent and SAMPLES[name] not in sent.values()
    else:
        TRANSLATED[kind, name](sent)


def _has(**expected: Any) -> Any:
    def check(sent: dict[str, Any]) -> None:
        for key, value in expected.items():
            assert sent.get(key) == value, (key, sent.get(key))

    return check


# How each `translated` cell shows in the upstream body for its SAMPLES value; a new
# translated cell without an entry here fails the test above with a KeyError.
TRANSLATED: dict[tuple[str, str], Any] = {
    ("openai", "stream_options"): _has(stream_options=None, stream=False),
    ("anthropic", "stream"): lambda sent: "stream" not in sent,
    ("anthropic", "stream_options"): lambda sent: "stream_options" not in sent,
    ("anthropic", "max_tokens"): _has(max_tokens=2000),
    ("anthropic", "max_completion_tokens"): _has(max_tokens=1800),
    ("anthropic", "temperature"): _has(temperature=0.4),
    ("anthropic", "top_p"): _has(top_p=0.5),
    ("anthropic", "n"): lambda sent: "n" not in sent,
    ("anthropic", "stop"): _has(stop_sequences=["END"]),
    ("anthropic", "tools"): _has(tools=[{"name": "f", "input_schema": {}}]),
    ("anthropic", "tool_choice"): _has(tool_choice={"type": "any"}),
    ("anthropic", "parallel_tool_calls"): _has(
        tool_choice={"type": "auto", "disable_parallel_tool_use": True}
    ),
    ("anthropic", "reasoning_effort"): _has(
        thinking={"type": "enabled", "budget_tokens": 2048}, max_tokens=4096 + 2048
    ),
}


@pytest.mark.parametrize("kind", KINDS)
def test_no_op_values_are_accepted(kind: str) -> None:
    body = {
        "model": "chat-x",
        "messages": [{"role": "user", "content": "hi"}],
        "presence_penalty": 0,
        "frequency_penalty": 0.0,
        "logprobs": False,
        "logit_bias": {},
        "store": False,
        "service_tier": "auto",
        "modalities": ["text"],
        "tool_choice": "auto",
        "n": 1,
    }
    sent = build(kind, validate_chat_request(body).body)
    assert "store" not in sent and "service_tier" not in sent and "tool_choice" not in sent


# -- Anthropic specifics named in issue 12


def anthropic(**extra: Any) -> dict[str, Any]:
    return build("anthropic", {"messages": [{"role": "user", "content": "hi"}], **extra})


def refused(param: str, **extra: Any) -> str:
    with pytest.raises(InvalidRequest) as caught:
        anthropic(**extra)
    assert caught.value.param == param
    return caught.value.message


def test_anthropic_refuses_logprobs_and_temperature_above_one() -> None:
    assert "logprobs" in refused("logprobs", logprobs=True)
    assert "top_logprobs" in refused("top_logprobs", top_logprobs=3)
    assert "above 1" in refused("temperature", temperature=1.5)
    assert anthropic(temperature=1)["temperature"] == 1  # not clamped, not dropped


def test_anthropic_temperature_with_top_p() -> None:
    assert "not both" in refused("top_p", temperature=0.5, top_p=0.9)
    sent = anthropic(temperature=0.5, top_p=1)
    assert sent["temperature"] == 0.5 and "top_p" not in sent  # top_p 1 is "unset"
    assert anthropic(top_p=0.9)["top_p"] == 0.9


@pytest.mark.parametrize("effort", sorted(REASONING_BUDGETS))
def test_reasoning_effort_becomes_extended_thinking(effort: str) -> None:
    sent = anthropic(reasoning_effort=effort)
    budget = REASONING_BUDGETS[effort]
    if budget is None:
        assert "thinking" not in sent and sent["max_tokens"] == 4096
    else:
        assert sent["thinking"] == {"type": "enabled", "budget_tokens": budget}
        assert sent["max_tokens"] == 4096 + budget


def test_reasoning_effort_within_a_client_limit() -> None:
    sent = anthropic(reasoning_effort="high", max_completion_tokens=5000)
    assert sent["max_tokens"] == 5000 and sent["thinking"]["budget_tokens"] == 4999
    assert "1024" in refused("reasoning_effort", reasoning_effort="low", max_tokens=500)
    assert "temperature" in refused("reasoning_effort", reasoning_effort="low", temperature=0.2)


def test_message_name_is_refused_on_anthropic_and_passed_on_openai() -> None:
    messages = [{"role": "user", "content": "hi", "name": "alice"}]
    with pytest.raises(InvalidRequest, match=r"messages\[0\]\.name") as caught:
        anthropic(messages=messages)
    assert caught.value.param == "messages"
    assert build("openai", {"messages": messages})["messages"] == messages


@pytest.mark.parametrize("kind", KINDS)
def test_tool_choice_without_tools(kind: str) -> None:
    base = {"messages": [{"role": "user", "content": "hi"}]}
    for choice in ("required", {"type": "function", "function": {"name": "f"}}):
        with pytest.raises(InvalidRequest, match="needs 'tools'") as caught:
            build(kind, {**base, "tool_choice": choice})
        assert caught.value.param == "tool_choice"
    assert "tool_choice" not in build(kind, {**base, "tool_choice": "none"})


def test_assistant_refusal_field_is_carried_to_anthropic() -> None:
    sent = anthropic(
        messages=[
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "refusal": "I cannot help with that."},
            {"role": "user", "content": "ok"},
        ]
    )
    assert sent["messages"][1]["content"] == [{"type": "text", "text": "I cannot help with that."}]


def test_unknown_fields_are_refused_before_any_adapter() -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_chat_request(
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "k": 1}
        )
    assert caught.value.param == "k"
    with pytest.raises(InvalidRequest, match=r"messages\[0\]\.colour"):
        validate_chat_request(
            {"model": "m", "messages": [{"role": "user", "content": "x", "colour": 1}]}
        )


def test_responses_and_embeddings_fields_cover_their_specs() -> None:
    from sekisho.embeddings.request import EMBEDDING_PARAMETERS
    from sekisho.inbound.responses_shape import REQUEST_FIELDS

    assert set(REQUEST_FIELDS) == spec_properties("CreateResponse")
    assert set(EMBEDDING_PARAMETERS) == spec_properties("CreateEmbeddingRequest")
