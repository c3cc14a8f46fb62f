"""Properties every adapter keeps: split-independence and no upstream identity in output."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sekisho.adapters import Adapter, AnthropicAdapter, OpenAIAdapter, adapter_for

from .adapter_payloads import (
    ANTHROPIC_STREAMS,
    ANTHROPIC_TEXT_RESPONSE,
    ANTHROPIC_TOOL_RESPONSE,
    CTX,
    CTX_USAGE,
    IDENTITY,
    OPENAI_STREAMS,
    OPENAI_TEXT_RESPONSE,
    OPENAI_TOOL_RESPONSE,
    counter_ids,
)
from .stream_helpers import StreamRun, run_stream

Factory = Callable[[], Adapter]
STREAMS: list[tuple[str, Factory, bytes]] = [
    *(
        (f"openai-{name}", lambda: OpenAIAdapter(counter_ids()), data)
        for name, data in OPENAI_STREAMS.items()
    ),
    *(
        (f"anthropic-{name}", lambda: AnthropicAdapter(counter_ids()), data)
        for name, data in ANTHROPIC_STREAMS.items()
    ),
]
IDS = [name for name, _, _ in STREAMS]


def outcome(run: StreamRun) -> tuple[list[bytes], bool, str | None]:
    return run.frames, run.done, run.error.kind if run.error else None


def pieces_at(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@pytest.mark.parametrize(("name", "factory", "data"), STREAMS, ids=IDS)
def test_every_single_split_gives_the_same_frames(name: str, factory: Factory, data: bytes) -> None:
    expected = outcome(run_stream(factory(), CTX_USAGE, [data]))
    assert expected[0] or expected[2]  # the fixture produces frames or an error
    for i in range(len(data) + 1):
        assert outcome(run_stream(factory(), CTX_USAGE, [data[:i], data[i:]])) == expected, i


@pytest.mark.parametrize(("name", "factory", "data"), STREAMS, ids=IDS)
def test_byte_at_a_time_and_line_end_styles_give_the_same_frames(
    name: str, factory: Factory, data: bytes
) -> None:
    expected = outcome(run_stream(factory(), CTX, [data]))
    singles = [data[i : i + 1] for i in range(len(data))]
    assert outcome(run_stream(factory(), CTX, singles)) == expected
    lf = data.replace(b"\r\n", b"\n")
    for eol in (b"\n", b"\r\n", b"\r"):
        assert outcome(run_stream(factory(), CTX, [lf.replace(b"\n", eol)])) == expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(STREAMS), st.data())
def test_any_split_gives_the_same_frames(
    stream: tuple[str, Factory, bytes], draw: st.DataObject
) -> None:
    _, factory, data = stream
    cuts = draw.draw(st.lists(st.integers(0, len(data)), max_size=40))
    expected = outcome(run_stream(factory(), CTX_USAGE, [data]))
    assert outcome(run_stream(factory(), CTX_USAGE, pieces_at(data, cuts))) == expected


def _all_output() -> list[bytes]:
    """Every byte either adapter emits for every fixture, with the default (random) ids."""
    out: list[bytes] = []
    for ctx in (CTX, CTX_USAGE):
        for _, factory, data in STREAMS:
            out += run_stream(type(factory())(), ctx, [data]).frames
        responses: list[tuple[Adapter, bytes]] = [
            (OpenAIAdapter(), OPENAI_TEXT_RESPONSE),
            (OpenAIAdapter(), OPENAI_TOOL_RESPONSE),
            (AnthropicAdapter(), ANTHROPIC_TEXT_RESPONSE),
            (AnthropicAdapter(), ANTHROPIC_TOOL_RESPONSE),
        ]
        for adapter, raw in responses:
            out.append(orjson.dumps(adapter.parse_response(raw, ctx)[0]))
    return out


def test_no_upstream_identity_in_any_output_byte() -> None:
    output = b"\n".join(_all_output()).lower()
    assert len(output) > 5000
    leaked = [token for token in IDENTITY if token.lower().encode() in output]
    assert leaked == []


def test_only_allow_listed_keys_reach_the_client() -> None:
    allowed = {
        "id",
        "object",
        "created",
        "model",
        "choices",
        "usage",
        "index",
        "message",
        "delta",
        "role",
        "content",
        "refusal",
        "tool_calls",
        "type",
        "function",
        "name",
        "arguments",
        "logprobs",
        "finish_reason",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "token",
        "logprob",
        "bytes",
        "top_logprobs",
    }

    def keys(value: object) -> set[str]:
        if isinstance(value, dict):
            return set(value) | {k for v in value.values() for k in keys(v)}
        if isinstance(value, list):
            return {k for v in value for k in keys(v)}
        return set()

    for blob in _all_output():
        for part in blob.split(b"\n\n"):
            text = part.removeprefix(b"data: ")
            if text and text != b"[DONE]":
                assert keys(orjson.loads(text)) <= allowed


def test_adapter_for() -> None:
    assert isinstance(adapter_for("openai"), OpenAIAdapter)
    assert isinstance(adapter_for("anthropic"), AnthropicAdapter)
    assert adapter_for("openai").kind == "openai" and adapter_for("anthropic").kind == "anthropic"
    with pytest.raises(ValueError, match="unknown provider kind"):
        adapter_for("bedrock")
