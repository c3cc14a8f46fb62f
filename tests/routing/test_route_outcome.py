"""Classifying attempt results: what fails over, what counts against a circuit, the final error."""

from __future__ import annotations

import pytest

from sekisho.routing.outcome import (
    CONNECT_ERROR,
    FINAL_ERROR_STATUS,
    RESET,
    TIMEOUT,
    Outcome,
    classify,
    classify_failure,
    classify_status,
    classify_stream_error,
    final_error,
    parse_retry_after,
    retry_after_s,
)


@pytest.mark.parametrize(
    ("status", "kind", "failover", "counts"),
    [
        (200, "ok", False, False),
        (201, "ok", False, False),
        (429, "rate_limited", True, True),
        (500, "server_error", True, True),
        (502, "server_error", True, True),
        (503, "server_error", True, True),
        (504, "server_error", True, True),
        (529, "server_error", True, True),
        (408, "timeout", True, True),
        (202, "ok", False, False),
        (299, "ok", False, False),
        (402, "upstream_billing", True, True),
        (401, "upstream_auth", True, True),
        (403, "upstream_auth", True, True),
        (404, "upstream_not_found", True, True),
        (400, "request_error", False, False),
        (413, "request_error", False, False),
        (422, "request_error", False, False),
        (409, "request_error", False, False),
        (302, "server_error", True, True),
        (0, "server_error", True, True),
        (999, "server_error", True, True),
    ],
)
def test_classify_status(status: int, kind: str, failover: bool, counts: bool) -> None:
    outcome = classify_status(status)
    assert (outcome.kind, outcome.status) == (kind, status)
    assert (outcome.failover, outcome.counts_against_circuit) == (failover, counts)


def test_transport_failures_fail_over_and_count() -> None:
    assert classify_failure("timeout") is TIMEOUT
    assert classify_failure("connect_error") is CONNECT_ERROR
    assert classify_failure("reset") is RESET
    assert classify_failure("something new") is RESET
    for outcome in (TIMEOUT, CONNECT_ERROR, RESET):
        assert outcome.failover and outcome.counts_against_circuit and not outcome.ok


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("overloaded", "server_error"),
        ("rate_limited", "rate_limited"),
        ("invalid_request", "request_error"),
        ("never heard of it", "server_error"),
    ],
)
def test_classify_stream_error(kind: str, expected: str) -> None:
    assert classify_stream_error(kind).kind == expected


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([429], "rate_limited"),
        ([429, 429, 429], "rate_limited"),
        ([503, 429], "upstream_unavailable"),
        ([429, 503], "upstream_unavailable"),
        ([500], "upstream_unavailable"),
        ([], "upstream_unavailable"),  # nothing eligible or every circuit open
    ],
)
def test_final_error(statuses: list[int], expected: str) -> None:
    assert final_error(classify_status(s) for s in statuses) == expected


def test_final_error_ignores_successes_and_counts_transport_failures() -> None:
    assert final_error([Outcome("ok", 200), classify_status(429)]) == "rate_limited"
    assert final_error([classify_status(429), TIMEOUT]) == "upstream_unavailable"
    assert FINAL_ERROR_STATUS == {"upstream_unavailable": 502, "rate_limited": 429}


@pytest.mark.parametrize(
    ("status", "error_kind", "kind"),
    [
        # what the body says refines a 4xx ...
        (400, "context_length_exceeded", "context_length"),
        (413, "context_length_exceeded", "context_length"),
        (400, "billing", "upstream_billing"),
        (400, "authentication_error", "upstream_auth"),
        (400, "not_found", "upstream_not_found"),
        (400, "invalid_request", "request_error"),
        (400, None, "request_error"),
        (403, "billing", "upstream_billing"),
        (429, "billing", "rate_limited"),  # a 429 stays a 429: waiting is the advice
        # ... but never turns an upstream failure into the caller's fault
        (500, "invalid_request", "server_error"),
        (503, "context_length_exceeded", "server_error"),
        (529, "overloaded", "server_error"),
        # a 2xx that carries an error event is judged by the event
        (200, "rate_limited", "rate_limited"),
        (200, None, "ok"),
        (201, None, "ok"),
        # in-stream errors without a status of their own
        (None, "overloaded", "server_error"),
        (None, "truncated", "server_error"),
        (None, "invalid_request", "request_error"),
        (None, "context_length_exceeded", "context_length"),
        (None, "http_429", "rate_limited"),
        (None, "http_400", "request_error"),
        (None, "http_502", "server_error"),
        (None, "http_nonsense", "server_error"),
        (None, "something new", "server_error"),
    ],
)
def test_classify_reads_status_and_error_kind_together(
    status: int | None, error_kind: str | None, kind: str
) -> None:
    assert classify(status, error_kind=error_kind).kind == kind


def test_every_status_class_has_one_meaning() -> None:
    for status in range(100, 1000):
        outcome = classify(status)
        if 200 <= status < 300:
            assert outcome.ok
        elif 400 <= status < 500 and status not in (401, 402, 403, 404, 408, 429):
            assert outcome.kind == "request_error" and not outcome.failover
        else:
            assert outcome.failover and outcome.counts_against_circuit, status


def test_context_length_and_request_errors_are_the_callers() -> None:
    for kind in ("context_length_exceeded", "invalid_request"):
        outcome = classify(400, error_kind=kind)
        assert not outcome.failover and not outcome.counts_against_circuit


def test_malformed_2xx_bodies_fail_over() -> None:
    outcome = classify(200, failure="malformed")
    assert (outcome.kind, outcome.status, outcome.failover) == ("server_error", 200, True)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("-3", 0.0),
        ("soon", None),
        ("nan", None),
        (None, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 30.0),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    now = 1445412450.0  # 30 s before the HTTP date above
    assert parse_retry_after(value, now=now) == seconds


def test_retry_after_passed_on_is_the_longest_ask_clamped() -> None:
    asked = [classify(429, retry_after="12"), classify(429, retry_after="40"), TIMEOUT]
    assert retry_after_s(asked, default_s=5, min_s=1, max_s=60) == 40
    assert retry_after_s(asked, default_s=5, min_s=1, max_s=30) == 30
    assert retry_after_s([classify(429)], default_s=5, min_s=1, max_s=60) == 5
    assert retry_after_s([classify(429, retry_after="0")], default_s=5, min_s=1, max_s=60) == 1
    assert retry_after_s([classify(429, retry_after="1.2")], default_s=5, min_s=1, max_s=60) == 2
