"""Pure parts of the chat app: the history rule, plain words, guardrail notices, origin checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sekisho.chatapp.browser import same_origin_ok
from sekisho.chatapp.history import ContextLengthExceeded, budget_chars, history_for
from sekisho.chatapp.store import Turn
from sekisho.chatapp.wording import guardrail_notice, plain_words


def _turn(seq: int, role: str, content: str, state: str = "complete") -> Turn:
    return Turn(f"msg_{seq}", seq, role, content, None, state, None, None)


def _talk(*contents: str) -> list[Turn]:
    return [_turn(i, "user" if i % 2 == 0 else "assistant", c) for i, c in enumerate(contents)]


def test_everything_fits_everything_goes() -> None:
    h = history_for(_talk("hi", "hello", "how?"), 1000, "chat-large")
    assert [m["content"] for m in h.messages] == ["hi", "hello", "how?"] and h.dropped == 0


def test_the_oldest_turns_go_first_and_the_history_starts_with_the_member() -> None:
    h = history_for(_talk("a" * 50, "b" * 50, "c" * 50, "d" * 10, "e" * 20), 85, "chat-large")
    assert [m["content"][0] for m in h.messages] == ["c", "d", "e"]
    assert h.messages[0]["role"] == "user" and h.dropped == 2


def test_a_failed_answer_without_text_is_left_out() -> None:
    turns = [_turn(0, "user", "q1"), _turn(1, "assistant", "", "error"), _turn(2, "user", "q2")]
    assert [m["content"] for m in history_for(turns, 100, "x").messages] == ["q1", "q2"]


def test_a_message_too_long_for_the_alias_is_refused_clearly() -> None:
    with pytest.raises(ContextLengthExceeded) as err:
        history_for(_talk("x" * 101), 100, "chat-fast")
    assert err.value.code == "context_length_exceeded" and err.value.status == 400
    assert "'chat-fast'" in err.value.message


def test_the_budget_follows_the_context_window_and_the_body_limit() -> None:
    assert budget_chars(1000, 10_000_000) == 3000
    assert budget_chars(None, 20_000) == 10_000


@given(st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=30), st.integers(40, 400))
def test_history_always_fits_and_ends_with_the_last_message(
    contents: list[str], budget: int
) -> None:
    if len(contents) % 2 == 0:
        contents = contents[:-1] or ["q"]
    h = history_for(_talk(*contents), budget, "a")
    assert sum(len(m["content"]) for m in h.messages) <= budget
    assert h.messages[-1]["content"] == contents[-1] and h.messages[0]["role"] == "user"


@pytest.mark.parametrize(
    "code,expected",
    [
        ("upstream_unavailable", "'chat-jp' is not answering right now (an outage)"),
        ("rate_limited", "rate limit"),
        ("content_policy_violation", "content policy blocked"),
        ("tenant_suspended", "suspended"),
        ("insufficient_quota", "token budget"),
    ],
)
def test_errors_in_plain_words(code: str, expected: str) -> None:
    assert expected in plain_words(code, "chat-jp")


@pytest.mark.parametrize(
    "info,expected",
    [
        (None, None),
        ({}, None),
        ({"checks": ["secrets"], "events": []}, None),
        ({"events": [{"check": "payment_card", "action": "mask"}]}, "masked"),
        ({"actions": ["flag"]}, "flagged"),
        ({"action": "block"}, "blocked"),
        ({"acted": True}, "acted"),
        # The shape the guardrails write on the request record.
        (
            {
                "policy": "standard",
                "mode": "enforce",
                "blocked": None,
                "input": {"checks": {}, "findings": 0},
                "output": {"checks": {}, "findings": 0},
            },
            None,
        ),
        (
            {
                "policy": "standard",
                "mode": "enforce",
                "blocked": None,
                "output": {"checks": {"payment_card": "mask"}, "findings": 1},
            },
            "masked",
        ),
        (
            {
                "policy": "standard",
                "mode": "enforce",
                "blocked": None,
                "input": {"checks": {"prompt_injection": "flag"}, "findings": 1},
            },
            "flagged",
        ),
        ({"mode": "enforce", "blocked": "output:secrets"}, "blocked"),
        ({"mode": "monitor", "output": {"checks": {"secrets": "mask"}, "findings": 1}}, None),
    ],
)
def test_guardrail_notice_seam(info: dict[str, object] | None, expected: str | None) -> None:
    notice = guardrail_notice(info)
    assert (notice is None) if expected is None else (notice is not None and expected in notice)


@pytest.mark.parametrize(
    "headers,ok",
    [
        ({}, True),
        ({"sec-fetch-site": "same-origin"}, True),
        ({"origin": "http://chat.example"}, True),
        ({"sec-fetch-site": "same-site"}, False),
        ({"sec-fetch-site": "cross-site"}, False),
        ({"sec-fetch-site": "none"}, False),
        ({"origin": "null"}, False),
        ({"origin": "http://chat.example.evil.test"}, False),
        ({"origin": "https://chat.example"}, False),
    ],
)
def test_same_origin_check(headers: dict[str, str], ok: bool) -> None:
    assert same_origin_ok(headers, "http://chat.example") is ok
