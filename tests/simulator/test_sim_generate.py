"""The deterministic answer logic, called directly."""

from __future__ import annotations

import orjson

from sekisho.simulator.generate import Finish, Prompt, ToolChoice, complete, split_json


def test_answer_echoes_the_first_40_characters_of_the_last_user_text() -> None:
    text = "a" * 30 + " bbbbbbbbbbbbbbbbbbbb"
    completion = complete(Prompt(last_text=text, prompt_tokens=2))
    assert completion.text == "Simulated answer to: " + text[:40]
    assert completion.finish is Finish.END
    assert completion.completion_tokens == len(completion.words) == 5
    assert "".join(completion.pieces) == completion.text


def test_max_tokens_truncates_to_that_many_words() -> None:
    completion = complete(Prompt(last_text="one two three", prompt_tokens=3, max_tokens=2))
    assert completion.words == ("Simulated", "answer")
    assert completion.finish is Finish.LENGTH
    assert completion.completion_tokens == 2


def test_earliest_stop_sequence_wins_and_is_reported() -> None:
    prompt = Prompt(last_text="red green blue", prompt_tokens=3, stop=("blue", "green"))
    completion = complete(prompt)
    assert completion.text == "Simulated answer to: red"
    assert completion.finish is Finish.STOP_SEQUENCE
    assert completion.stop_sequence == "green"


def test_max_tokens_reached_before_the_stop_sequence_finishes_with_length() -> None:
    prompt = Prompt(last_text="red green", prompt_tokens=2, stop=("green",), max_tokens=1)
    completion = complete(prompt)
    assert completion.finish is Finish.LENGTH
    assert completion.stop_sequence is None


def test_the_word_tool_calls_the_first_tool_with_the_user_text() -> None:
    prompt = Prompt(last_text="please use a tool now", prompt_tokens=5, tools=("search", "calc"))
    completion = complete(prompt)
    assert completion.finish is Finish.TOOL_CALL
    assert completion.tool_call is not None
    assert completion.tool_call.name == "search"
    assert orjson.loads(completion.tool_call.arguments) == {"query": "please use a tool now"}
    assert "".join(completion.pieces) == completion.tool_call.arguments


def test_no_tool_call_without_the_word_with_choice_none_or_after_a_tool_result() -> None:
    tools = ("search",)
    assert complete(Prompt("toolbox only", 2, tools=tools)).tool_call is None
    assert (
        complete(Prompt("use a tool", 3, tools=tools, tool_choice=ToolChoice.NONE)).tool_call
        is None
    )
    after_result = complete(Prompt("42", 1, last_is_tool_result=True, tools=tools))
    assert after_result.tool_call is None
    assert after_result.text == "Simulated answer to: 42"


def test_a_forced_tool_choice_calls_the_named_tool_without_the_word() -> None:
    prompt = Prompt("hello", 1, tools=("a", "b"), tool_choice=ToolChoice.REQUIRED, forced_tool="b")
    call = complete(prompt).tool_call
    assert call is not None
    assert call.name == "b"


def test_split_json_keeps_every_character() -> None:
    text = orjson.dumps({"query": "x" * 50}).decode()
    assert "".join(split_json(text)) == text
    assert split_json("") == ("",)
