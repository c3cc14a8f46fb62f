"""Wire fidelity through the one classifier, end to end on the simulator (issue 12, item 1).

Every upstream status means one thing: any 2xx with a valid body is success;
402 (our account at the provider) and 529 (overloaded) are upstream failures
and fail over; a context-length refusal becomes our `400
context_length_exceeded` naming the alias; a missing `usage` is counted by us
and marked in the request log; upstream `Retry-After` is passed on, bounded.
"""

from __future__ import annotations

import pytest

from tests.failover.conftest import Drill
from tests.failover.helpers import chat, log_row, requests_to


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize("provider", ["jp-alpha", "jp-beta"], ids=["openai", "anthropic"])
def test_upstream_201_with_a_valid_body_is_success(
    drill: Drill, stream: bool, provider: str
) -> None:
    if provider == "jp-beta":
        drill.sim.set_fault("jp-alpha", status=503)
    drill.sim.set_fault(provider, success_status=201)
    reply = chat(drill, "sov-chat", stream=stream, content="created, not ok")
    assert reply.status == 200
    if stream:
        assert reply.events[-1] == "[DONE]"
        assert reply.text.startswith("Simulated answer to: created, not ok")
    else:
        assert reply.json["choices"][0]["message"]["content"].startswith("Simulated answer")
    row = log_row(drill, reply)
    assert row.provider == provider and row.attempts[-1]["outcome"] == "ok"
    assert row.attempts[-1]["status"] == 201


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize(
    ("status", "outcome"), [(402, "upstream_billing"), (529, "server_error")], ids=["402", "529"]
)
def test_402_and_529_are_upstream_failures_and_fail_over(
    drill: Drill, stream: bool, status: int, outcome: str
) -> None:
    drill.sim.set_fault("jp-alpha", status=status)
    reply = chat(drill, "sov-chat", stream=stream)
    assert reply.status == 200  # never blamed on the caller
    row = log_row(drill, reply)
    assert [(a["provider"], a["outcome"], a["status"]) for a in row.attempts] == [
        ("jp-alpha", outcome, status),
        ("jp-beta", "ok", 200),
    ]


def test_a_402_on_every_route_is_an_outage_not_a_bad_request(drill: Drill) -> None:
    drill.sim.set_fault("jp-alpha", status=402)
    drill.sim.set_fault("jp-beta", status=402)
    reply = chat(drill, "sov-chat")
    assert reply.status == 502 and reply.json["error"]["code"] == "upstream_unavailable"


def test_anthropic_billing_error_under_a_400_fails_over(drill: Drill) -> None:
    drill.sim.set_fault("jp-alpha", status=503)
    drill.sim.set_fault(
        "jp-beta",
        status=400,
        error_message="Your credit balance is too low to access the Anthropic API.",
    )
    reply = chat(drill, "open-chat", tenant="plain")  # jp-alpha, open-gamma, jp-beta
    assert reply.status == 200
    drill.sim.reset()
    drill.sim.set_fault("jp-alpha", status=503)
    drill.sim.set_fault(
        "jp-beta", status=400, error_message="Your credit balance is too low to access the API."
    )
    reply = chat(drill, "sov-chat")
    assert reply.status == 502  # jp-beta's billing problem is ours: an outage, not a 400
    row = log_row(drill, reply)
    assert [a["outcome"] for a in row.attempts] == ["server_error", "upstream_billing"]


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        (
            "jp-alpha",
            "This model's maximum context length is 8192 tokens. However, your messages "
            "resulted in 9000 tokens. Please reduce the length of the messages.",
        ),
        ("jp-beta", "prompt is too long: 210000 tokens > 200000 maximum"),
    ],
    ids=["openai", "anthropic"],
)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_context_length_errors_become_ours_naming_the_alias(
    drill: Drill, provider: str, message: str, stream: bool
) -> None:
    if provider == "jp-beta":
        drill.sim.set_fault("jp-alpha", status=503)
    drill.sim.set_fault(provider, status=400, error_message=message)
    reply = chat(drill, "sov-chat", stream=stream)
    assert reply.status == 400
    err = reply.json["error"]
    assert err["code"] == "context_length_exceeded" and err["type"] == "invalid_request_error"
    assert "'sov-chat'" in err["message"] and "8192" not in err["message"]  # our words
    assert "200000" not in err["message"]
    assert requests_to(drill, "open-gamma") == 0
    if provider == "jp-alpha":
        assert requests_to(drill, "jp-beta") == 0  # the caller's problem: no failover
    row = log_row(drill, reply)
    assert (row.status, row.error_code) == (400, "context_length_exceeded")
    assert row.attempts[-1]["outcome"] == "context_length"
    assert "too long" in row.attempts[-1]["detail"] or "context" in row.attempts[-1]["detail"]


@pytest.mark.parametrize("provider", ["jp-alpha", "jp-beta"], ids=["openai", "anthropic"])
def test_missing_usage_is_counted_by_us_and_marked_estimated(drill: Drill, provider: str) -> None:
    if provider == "jp-beta":
        drill.sim.set_fault("jp-alpha", status=503)
    drill.sim.set_fault(provider, omit_usage=True)
    content = "count these words for me please " * 8
    reply = chat(drill, "sov-chat", content=content)
    assert reply.status == 200
    usage = reply.json["usage"]
    assert usage["prompt_tokens"] >= len(content) // 4
    assert usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    row = log_row(drill, reply)
    assert row.usage_estimated is True
    assert (row.prompt_tokens, row.completion_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )
    # With usage reported, nothing is estimated.
    drill.sim.reset()
    row = log_row(drill, chat(drill, "sov-chat"))
    assert row.usage_estimated is False and row.prompt_tokens


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
@pytest.mark.parametrize(
    ("alpha", "beta", "expected"),
    [(17, 30, 30), (3600, 2, 60), (0, 0, 1)],
    ids=["longest", "clamped-high", "clamped-low"],
)
def test_upstream_retry_after_is_passed_on_bounded(
    drill: Drill, stream: bool, alpha: int, beta: int, expected: int
) -> None:
    drill.sim.set_fault("jp-alpha", status=429, retry_after=alpha)
    drill.sim.set_fault("jp-beta", status=429, retry_after=beta)
    reply = chat(drill, "sov-chat", stream=stream)
    assert reply.status == 429 and reply.json["error"]["code"] == "rate_limited"
    assert reply.headers["retry-after"] == str(expected)
    assert f"{expected} seconds" in reply.json["error"]["message"]
