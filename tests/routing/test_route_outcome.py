"""Classifying attempt results: what fails over, what counts against a circuit, the final error."""

from __future__ import annotations

import pytest

from sekisho.routing.outcome import (
    CONNECT_ERROR,
    FINAL_ERROR_STATUS,
    RESET,
    TIMEOUT,
    Outcome,
    classify_failure,
    classify_status,
    classify_stream_error,
    final_error,
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
