"""Deterministic answers: what a simulated model "says" to a prompt. Pure, no I/O.

The answer is ``"Simulated answer to: <first 40 chars of the last user text>"``;
a token is a whitespace-separated word. When tools are offered and the turn
asks for one (the word "tool" in the last user message, or a forced
``tool_choice``), the answer is a call to that tool with
``{"query": <last user text>}``. A turn that ends with a tool result is
answered with text about the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import Enum

import orjson

from sekisho.simulator.schema_fill import fill

ANSWER_PREFIX = "Simulated answer to: "
ECHO_CHARS = 40
_TOOL_WORD = re.compile(r"\btool\b", re.IGNORECASE)


class ToolChoice(Enum):
    """How a request lets the model use its tools, in both wire formats' terms."""

    AUTO = "auto"
    NONE = "none"
    REQUIRED = "required"


class Finish(Enum):
    """Why generation ended; each wire format names these in its own words."""

    END = "end"
    LENGTH = "length"
    STOP_SEQUENCE = "stop_sequence"
    TOOL_CALL = "tool_call"


@dataclass(frozen=True, slots=True)
class Prompt:
    """A chat request reduced to what decides the answer."""

    last_text: str
    prompt_tokens: int
    last_is_tool_result: bool = False
    tools: tuple[str, ...] = ()
    tool_choice: ToolChoice = ToolChoice.AUTO
    forced_tool: str | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    thinking: bool = False  # Anthropic extended thinking was asked for
    tool_schemas: tuple[str, ...] = ()  # each tool's parameters schema as JSON, like `tools`
    json_schema: str | None = None  # response_format: "{}" for json_object, else the schema


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: str  # JSON text, as the wire formats carry it

    @property
    def input(self) -> dict[str, object]:
        parsed: dict[str, object] = orjson.loads(self.arguments)
        return parsed


@dataclass(frozen=True, slots=True)
class Completion:
    """The generated answer: either text words or one tool call."""

    words: tuple[str, ...]
    finish: Finish
    prompt_tokens: int
    completion_tokens: int
    stop_sequence: str | None = None
    tool_call: ToolCall | None = None
    pieces: tuple[str, ...] = ()  # stream deltas: words, or argument JSON slices
    thinking: str | None = None  # the reasoning shown before the answer, when asked for

    @property
    def text(self) -> str:
        return " ".join(self.words)


def count_words(text: str) -> int:
    return len(text.split())


THINKING_PREFIX = "Simulated thinking about: "


def complete(prompt: Prompt) -> Completion:
    """Answer a prompt deterministically (with its thinking first, when asked for)."""
    completion = _answer(prompt)
    if not prompt.thinking:
        return completion
    thinking = THINKING_PREFIX + prompt.last_text[:ECHO_CHARS]
    return replace(
        completion,
        thinking=thinking,
        completion_tokens=completion.completion_tokens + count_words(thinking),
    )


def _answer(prompt: Prompt) -> Completion:
    tool = _tool_to_call(prompt)
    if tool is not None:
        arguments = orjson.dumps(_tool_arguments(prompt, tool)).decode()
        return Completion(
            words=(),
            finish=Finish.TOOL_CALL,
            prompt_tokens=prompt.prompt_tokens,
            completion_tokens=count_words(arguments),
            tool_call=ToolCall(tool, arguments),
            pieces=split_json(arguments),
        )
    if prompt.json_schema is not None:
        return _complete_json(prompt)
    return _complete_text(prompt)


def _tool_arguments(prompt: Prompt, tool: str) -> object:
    """Arguments valid against the tool's parameters; `{"query": text}` when it lists none."""
    schema: object = {}
    if tool in prompt.tools and len(prompt.tool_schemas) == len(prompt.tools):
        schema = orjson.loads(prompt.tool_schemas[prompt.tools.index(tool)])
    if not isinstance(schema, dict) or not schema.get("properties"):
        return {"query": prompt.last_text}
    return fill(schema, prompt.last_text)


def _complete_json(prompt: Prompt) -> Completion:
    schema = orjson.loads(prompt.json_schema or "{}")
    value = (
        fill(schema, prompt.last_text)
        if schema
        else {"answer": ANSWER_PREFIX + prompt.last_text[:ECHO_CHARS]}
    )
    text = orjson.dumps(value).decode()
    return Completion(
        words=(text,),
        finish=Finish.END,
        prompt_tokens=prompt.prompt_tokens,
        completion_tokens=count_words(text) or 1,
        pieces=split_json(text),
    )


def _tool_to_call(prompt: Prompt) -> str | None:
    if not prompt.tools or prompt.tool_choice is ToolChoice.NONE or prompt.last_is_tool_result:
        return None
    if prompt.forced_tool is not None:
        return prompt.forced_tool
    if prompt.tool_choice is ToolChoice.REQUIRED or _TOOL_WORD.search(prompt.last_text):
        return prompt.tools[0]
    return None


def _complete_text(prompt: Prompt) -> Completion:
    text = ANSWER_PREFIX + prompt.last_text[:ECHO_CHARS]
    finish = Finish.END
    hit: str | None = None
    cut = len(text)
    for sequence in prompt.stop:
        at = text.find(sequence) if sequence else -1
        if 0 <= at < cut:
            cut, hit = at, sequence
    if hit is not None:
        text, finish = text[:cut], Finish.STOP_SEQUENCE
    words = tuple(text.split())
    if prompt.max_tokens is not None and len(words) > prompt.max_tokens:
        words, finish, hit = words[: prompt.max_tokens], Finish.LENGTH, None
    return Completion(
        words=words,
        finish=finish,
        prompt_tokens=prompt.prompt_tokens,
        completion_tokens=len(words),
        stop_sequence=hit,
        pieces=tuple(word if i == 0 else " " + word for i, word in enumerate(words)),
    )


def split_json(text: str, size: int = 12) -> tuple[str, ...]:
    """Cut tool-call arguments into the small pieces a stream carries them in."""
    return tuple(text[i : i + size] for i in range(0, len(text), size)) or ("",)
